"""Hold-out validation: fit on a calibration period, predict the next period, compare with what happened.

The benchmark is the naive forecast "each customer keeps buying at their calibration-period repeat rate",
x / T times the holdout length, so a user can see what the model adds over simple extrapolation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from crm_winback.errors import DataError, InputError
from crm_winback.ingest import Ingested, IngestOptions, load_orders
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict.backtest import find_split, run_backtest
from crm_winback.predict.bgnbd import BgNbdParams, conditional_expected_purchases, fit_bgnbd
from crm_winback.predict.candidates import BGNBD_LIMITS, runaway_words
from crm_winback.predict.fitting import DAYS_PER_UNIT, TimeUnit
from crm_winback.predict.gamma_gamma import (
    GammaGammaParams,
    conditional_expected_average_spend,
    fit_gamma_gamma,
)
from crm_winback.predict.summary import holdout_purchases, summarize
from crm_winback.workdb import first_row

DECILES = 10


class DecileRow(BaseModel):
    """Customers ranked by predicted holdout purchases; decile 1 has the lowest predictions."""

    decile: int
    customers: int
    predicted: float
    actual: int
    naive: float


class ValidationReport(BaseModel):
    """Predicted vs actual repeat purchases (purchase days) in the holdout, in total and by decile."""

    calibration_start: str
    calibration_end: str
    holdout_end: str
    holdout_days: int
    time_unit: TimeUnit
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams | None
    customers: int = Field(description="customers with a purchase in the calibration period")
    new_in_holdout: int = Field(description="customers whose first purchase is in the holdout: not predicted")
    actual: int
    predicted: float
    naive: float
    predicted_error_pct: float
    naive_error_pct: float
    mae_predicted: float = Field(description="mean absolute error per customer")
    mae_naive: float
    deciles: list[DecileRow]
    spend_predicted: float | None = Field(
        default=None, description="mean expected spend per order of the customers who bought in the holdout"
    )
    spend_actual: float | None = Field(default=None, description="their actual mean holdout purchase value")
    notes: list[str]
    bgnbd_runaway: str | None = Field(
        default=None,
        description="the calibration fit ran off, in words: its parameters and forecasts are not used",
    )
    backtest: BacktestReport | None = Field(
        default=None,
        description="every model and baseline on the same split: churn ranking, calibration, choice",
    )


def validate(
    ingested: Ingested,
    calibration_end: dt.date | None = None,
    *,
    time_unit: TimeUnit = "weeks",
    penalizer_coef: float = 0.0,
) -> ValidationReport:
    """Fit on orders up to ``calibration_end`` and predict the rest, up to the ingested as-of date.

    Without ``calibration_end`` the split is chosen by the backtest's rule (crm_winback.predict.backtest).
    """
    con, holdout_end = ingested.con, ingested.as_of
    if calibration_end is None:
        split = find_split(con, holdout_end)[2]
        if isinstance(split, str):
            raise DataError(f"{split}; or give --calibration-end")
        calibration_end = split.calibration_end
    if calibration_end >= holdout_end:
        raise InputError(
            f"--calibration-end {calibration_end} must be before the end of the holdout ({holdout_end}); "
            "pick an earlier calibration end or a later --holdout-end"
        )
    backtest = run_backtest(con, holdout_end, calibration_end, time_unit=time_unit).report
    summary = summarize(con, calibration_end, time_unit)
    bgnbd = fit_bgnbd(summary.x, summary.t_x, summary.T, time_unit=time_unit, penalizer_coef=penalizer_coef)
    holdout_days = (holdout_end - calibration_end).days
    length = holdout_days / DAYS_PER_UNIT[time_unit]
    predicted = conditional_expected_purchases(bgnbd, length, summary.x, summary.t_x, summary.T)
    actual, actual_value = holdout_purchases(con, summary, holdout_end)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = np.where(summary.T > 0, summary.x / summary.T * length, 0.0)
    notes: list[str] = []
    gamma_gamma, spend_predicted, spend_actual = _spend_check(
        ingested, summary.x, summary.zbar, actual_value, notes
    )
    first = first_row(con.execute("SELECT min(first_order_date) FROM " + summary.table))
    new_in_holdout = first_row(
        con.execute(
            f"""SELECT count(DISTINCT customer_id) FROM orders WHERE order_date > $c AND order_date <= $h
            AND customer_id NOT IN (SELECT customer_id FROM {summary.table})""",
            {"c": calibration_end, "h": holdout_end},
        )
    )
    total = float(actual.sum())
    return ValidationReport(
        calibration_start=str(first[0]) if first else "",
        calibration_end=calibration_end.isoformat(),
        holdout_end=holdout_end.isoformat(),
        holdout_days=holdout_days,
        time_unit=time_unit,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        customers=summary.customers,
        new_in_holdout=int(new_in_holdout[0]) if new_in_holdout else 0,
        actual=int(total),
        predicted=round(float(predicted.sum()), 2),
        naive=round(float(naive.sum()), 2),
        predicted_error_pct=_error_pct(float(predicted.sum()), total),
        naive_error_pct=_error_pct(float(naive.sum()), total),
        mae_predicted=round(float(np.abs(predicted - actual).mean()), 4),
        mae_naive=round(float(np.abs(naive - actual).mean()), 4),
        deciles=_deciles(predicted, actual, naive),
        spend_predicted=spend_predicted,
        spend_actual=spend_actual,
        notes=notes,
        backtest=backtest,
        bgnbd_runaway=runaway_words(
            "BG/NBD", {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b}, BGNBD_LIMITS
        ),
    )


def _error_pct(forecast: float, actual: float) -> float:
    return round(100.0 * (forecast - actual) / actual, 2) if actual > 0 else float("nan")


def _deciles(
    predicted: NDArray[np.float64], actual: NDArray[np.float64], naive: NDArray[np.float64]
) -> list[DecileRow]:
    # Ties in the prediction keep the summary's customer-id order, so the split is deterministic.
    order = np.argsort(predicted, kind="stable")
    return [
        DecileRow(
            decile=i + 1,
            customers=len(part),
            predicted=round(float(predicted[part].sum()), 2),
            actual=int(actual[part].sum()),
            naive=round(float(naive[part].sum()), 2),
        )
        for i, part in enumerate(np.array_split(order, DECILES))
        if len(part)
    ]


def _spend_check(
    ingested: Ingested,
    x: NDArray[np.float64],
    zbar: NDArray[np.float64],
    actual_value: NDArray[np.float64],
    notes: list[str],
) -> tuple[GammaGammaParams | None, float | None, float | None]:
    """Gamma-Gamma on the calibration period vs the mean holdout purchase value of those who bought."""
    if not ingested.monetary:
        notes.append("the export has no order values: the spend model is not validated")
        return None, None, None
    zbar = np.nan_to_num(zbar, nan=0.0)
    try:
        params = fit_gamma_gamma(x, zbar)
    except DataError as exc:
        notes.append(f"spend model not validated: {exc}")
        return None, None, None
    bought = ~np.isnan(actual_value)
    if not bought.any():
        return params, None, None
    expected = conditional_expected_average_spend(params, x[bought], zbar[bought])
    return params, round(float(np.nanmean(expected)), 2), round(float(actual_value[bought].mean()), 2)


def validate_file(
    path: str | Path,
    calibration_end: dt.date | None,
    ingest_options: IngestOptions | None = None,
    *,
    time_unit: TimeUnit = "weeks",
    penalizer_coef: float = 0.0,
) -> ValidationReport:
    """Ingest ``path`` (its as-of date ends the holdout) and validate the models on it."""
    ingested = load_orders(path, ingest_options)
    try:
        return validate(ingested, calibration_end, time_unit=time_unit, penalizer_coef=penalizer_coef)
    finally:
        ingested.close()
