"""Prediction options, fitted BG/NBD and Gamma-Gamma parameters, and the summary (crm_winback.predict)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from . import StrictModel
from .backtest import BacktestReport

TimeUnit = Literal["days", "weeks"]
ForecastModel = Literal["backtest", "BG/NBD", "Pareto/NBD", "MBG/NBD", "MBG/CNBD-k"]


class PredictOptions(StrictModel):
    """What to predict and how; the horizon and CLV period are in days whatever the model's time unit."""

    model_config = ConfigDict(frozen=True)

    horizon_days: int = Field(default=365, gt=0)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    time_unit: TimeUnit = "weeks"
    margin: float = Field(default=1.0, gt=0, le=1)
    discount_rate: float = Field(default=0.01, ge=0, description="per CLV period")
    period_days: int = Field(default=30, gt=0)
    penalizer_coef: float = Field(default=0.0, ge=0)
    calibration_end: dt.date | None = Field(
        default=None, description="where the backtest splits the history; default: chosen from the data"
    )
    model: ForecastModel = Field(
        default="backtest",
        description="the model that gives the per-customer forecasts: the backtest's forecaster (the smallest "
        "per-customer error on the holdout), or one named",
    )


class BgNbdParams(StrictModel):
    """Fitted (or given) BG/NBD parameters; ``time_unit`` is the unit of alpha and of every time argument."""

    model_config = ConfigDict(frozen=True)

    r: float = Field(gt=0, description="shape of the Gamma distribution of purchase rates")
    alpha: float = Field(gt=0, description="scale of the Gamma distribution of purchase rates, in time_unit")
    a: float = Field(gt=0, description="Beta distribution of the drop-out probability")
    b: float = Field(gt=0, description="Beta distribution of the drop-out probability")
    time_unit: TimeUnit
    log_likelihood: float | None = Field(default=None, description="at the fitted parameters, unpenalized")
    n_customers: int = Field(default=0, ge=0)
    n_repeat_buyers: int = Field(default=0, ge=0)
    n_distinct_rows: int = Field(default=0, ge=0, description="distinct (x, t_x, T) rows the fit evaluated")
    penalizer_coef: float = Field(default=0.0, ge=0)
    iterations: int = Field(default=0, ge=0)


class GammaGammaParams(StrictModel):
    """Fitted (or given) Gamma-Gamma parameters; v is in the currency of the spend data."""

    model_config = ConfigDict(frozen=True)

    p: float = Field(gt=0, description="shape of the Gamma distribution of order values")
    q: float = Field(gt=0, description="shape of the Gamma distribution of the customers' nu")
    v: float = Field(gt=0, description="scale of the Gamma distribution of the customers' nu, in currency")
    log_likelihood: float | None = None
    n_customers: int = Field(default=0, ge=0, description="repeat buyers the model was fitted on")
    n_excluded: int = Field(default=0, ge=0, description="customers left out: x = 0 or zbar <= 0")
    frequency_spend_correlation: float | None = Field(
        default=None,
        description="Pearson correlation of x and zbar among the fitted customers; near 0 is good",
    )
    penalizer_coef: float = Field(default=0.0, ge=0)
    iterations: int = Field(default=0, ge=0)

    @property
    def population_mean_spend(self) -> float:
        """Expected order value of a customer we know nothing about, p v / (q - 1); inf when q <= 1."""
        return self.p * self.v / (self.q - 1.0) if self.q > 1.0 else float("inf")


class GroupEstimates(StrictModel):
    """The model's estimates summed up over a group of customers."""

    group: str
    customers: int
    mean_p_alive: float
    expected_orders: float
    clv_total: float | None
    clv_mean: float | None


class GroupSummary(GroupEstimates):
    """Aggregates over a group of customers (a segment, or all)."""

    median_days_until_winback: float | None
    share_winback_passed: float


class PredictionSummary(StrictModel):
    """Model parameters, definitions and per-segment aggregates; per-customer rows are in predictions_file."""

    as_of: str
    options: PredictOptions
    bgnbd: BgNbdParams | None = Field(
        description="the whole-history BG/NBD fit; None when it failed or ran off and another model (forecast_model) "
        "gave the per-customer numbers (the notes say why)"
    )
    gamma_gamma: GammaGammaParams | None
    forecast_model: str = Field(
        default="BG/NBD",
        description="the model that gave the per-customer P(alive), expected orders, CLV and winback dates: the "
        "backtest's forecaster (smallest per-customer error on the holdout), or BG/NBD when it could not",
    )
    forecast_parameters: dict[str, float] | None = Field(
        default=None, description="the forecast model's parameters when it is not BG/NBD (for the record)"
    )
    customers: int
    one_time_buyers: int
    shop_level_winback_days: float | None = Field(description="days after a one-time buyer's order")
    overall: GroupSummary
    by_segment: list[GroupSummary]
    definitions: dict[str, str]
    notes: list[str]
    predictions_file: str | None = None
    backtest: BacktestReport | None = Field(
        default=None,
        description="the models and baselines scored on the shop's own past; churn_risk follows it",
    )
