"""The backtest: each purchase model scored on the shop's own past before any model-based number is shown.

Built by crm_winback.predict.backtest; pydantic and the standard library only (see models/__init__.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from . import StrictModel

RECENCY = "recency alone"
NAIVE = "same rate as before"


class BandCheck(StrictModel):
    """One churn-risk band on the holdout: how many, the predicted and the observed share with no order."""

    band: Literal["low", "medium", "high"]
    rule: str = Field(description="which customers fall in the band, in words")
    customers: int
    predicted_no_order: float | None = Field(
        description="the share with no order predicted for them from the other half of the customers (edges "
        "and shares measured on one half, applied to the other, both ways); None if empty"
    )
    observed_no_order: float | None = Field(
        description="share that made no order in the holdout; None if empty"
    )


class ModelCheck(StrictModel):
    """One model's (or baseline's) holdout numbers; the measures are None where the model gives no such number."""

    name: str
    kind: Literal["model", "baseline"]
    status: Literal["scored", "runaway", "failed"]
    reason: str | None = Field(default=None, description="why a model was not scored, in words")
    auc: float | None = Field(default=None, description="churn ranking: AUC for 'no order in the holdout'")
    calibration_gap: float | None = Field(
        default=None,
        description="largest |predicted - observed| share with no order over the measured bands, predicted "
        "from the other half of the customers (0..1)",
    )
    raw_calibration_gap: float | None = Field(
        default=None,
        description="the same for the model's own P(no order) banded at the same levels, before measuring",
    )
    band_edges: list[float | None] = Field(
        default_factory=list,
        description="the ranking's values where medium and high churn risk begin; None: no such customers",
    )
    bands: list[BandCheck] = Field(default_factory=list)
    predicted_orders: float | None = Field(default=None, description="total repeat purchase days predicted")
    orders_error_pct: float | None = None
    mae: float | None = Field(default=None, description="mean absolute error of purchase days per customer")
    relative_error: float | None = Field(default=None, description="sum |error| / sum(actual)")


class WinbackRuleCheck(StrictModel):
    """How a winback date rule did on the holdout: flagged customers who then stayed silent."""

    rule: str
    group: str = Field(description="a lifecycle stage at the calibration end, or 'all customers'")
    flagged: int = Field(description="customers whose date fell inside the holdout with no order before it")
    precision: float | None = Field(
        description="share of the flagged who then ordered nothing in the holdout"
    )
    median_days_silent_at_flag: float | None = Field(
        description="median days since the last order when flagged, among the flagged who stayed silent: "
        "lower is earlier"
    )


class BacktestReport(StrictModel):
    """The split, every model's and baseline's holdout numbers, the choice and why."""

    status: Literal["done", "too little history"]
    rule: str = Field(description="how the calibration end was chosen, in words")
    history_start: str
    history_end: str
    calibration_end: str | None = None
    holdout_days: int | None = None
    repurchase_cycle_days: float | None = None
    customers: int = Field(
        default=0, description="customers first seen on or before the calibration end (of the sample, if any)"
    )
    sampled_from: int | None = Field(
        default=None,
        description="a huge shop's backtest ran on a seeded random sample of ``customers`` of this many",
    )
    no_order_share: float | None = Field(
        default=None, description="share of them with no order in the holdout"
    )
    actual_orders: int | None = Field(default=None, description="their repeat purchase days in the holdout")
    checks: list[ModelCheck] = Field(default_factory=list)
    chosen: str = Field(
        default=RECENCY, description="the model whose churn ranking is used, or 'recency alone'"
    )
    reason: str = ""
    can_rank: bool = Field(
        default=True,
        description="False when no model or rule ranked who did not return clearly better than a coin toss "
        "(AUC 0.55): churn risk is then the shop's measured no-order share for every customer",
    )
    forecaster: str | None = Field(
        default=None,
        description="the model whose per-customer forecasts (expected orders, P(active), CLV, winback dates) "
        "are shown: the smallest per-customer error on the holdout; None when no model was scored",
    )
    forecaster_reason: str = ""
    winback: list[WinbackRuleCheck] = Field(default_factory=list)
    winback_verdict: list[str] = Field(
        default_factory=list,
        description="per model: earlier than a fixed rule at equal precision, or more precise at equal timing?",
    )
    notes: list[str] = Field(default_factory=list)

    def check(self, name: str) -> ModelCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def band_meaning(self) -> list[str]:
        """What each churn-risk band of the chosen ranking meant on the holdout, e.g. 'high: 8 in 10 ...'."""
        if not self.can_rank and self.no_order_share is not None:
            return [
                f"every customer: {round(10 * self.no_order_share)} in 10 did not order again in the "
                f"{self.holdout_days} days after {self.calibration_end}, and no ranking told them apart "
                f"({self.customers:,} customers{self._of_sample()})"
            ]
        chosen = self.check(self.chosen)
        if chosen is None:
            return []
        return [
            f"{b.band} ({b.rule}): {round(10 * b.observed_no_order)} in 10 of these did not order again in "
            f"the {self.holdout_days} days after {self.calibration_end} ({b.customers:,} customers"
            f"{self._of_sample()})"
            for b in chosen.bands
            if b.observed_no_order is not None
        ]

    def _who(self) -> str:
        if self.sampled_from is None:
            return f"{self.customers:,} customers"
        return f"a random sample of {self.customers:,} of the {self.sampled_from:,} customers"

    def _of_sample(self) -> str:
        return "" if self.sampled_from is None else " of the sample"

    def summary_lines(self) -> list[str]:
        """The few lines a CRM manager reads: the split, how each ranking did against recency, the choice."""
        if self.status != "done":
            return [f"Backtest: {self.reason}"]
        lines = [
            f"Backtest: fitted on orders up to {self.calibration_end}, then checked against the next "
            f"{self.holdout_days} days ({self.history_end}): {self._who()}, "
            f"{_share(self.no_order_share)} of them ordered nothing in that time."
        ]
        recency = self.check(RECENCY)
        for c in self.checks:
            if c.status != "scored":
                why = (
                    (c.reason or "")
                    .removeprefix(f"{c.name}: ")
                    .removesuffix("; the fit is degenerate and is not used")
                )
                lines.append(f"- {c.name}: not used - {why}")
                continue
            auc = f"picks out who did not return with AUC {c.auc:.3f}" if c.auc is not None else ""
            if recency and recency.auc is not None and c.name != RECENCY and c.auc is not None:
                auc += f" ({c.auc - recency.auc:+.3f} vs recency alone)"
            extra = ""
            if c.orders_error_pct is not None:
                extra = f"; total repeat orders {c.orders_error_pct:+.1f}%"
            lines.append(f"- {c.name}: {auc}{extra}")
        chosen_name = self.chosen if self.can_rank else "no ranking"
        lines.append(f"Chosen: {chosen_name} - {self.reason}")
        lines += [f"- churn risk {m}" for m in self.band_meaning()]
        chosen = self.check(self.chosen)
        if self.can_rank and chosen is not None and chosen.calibration_gap is not None:
            points = 100 * chosen.calibration_gap
            within = "to under 0.1 points" if points < 0.05 else f"within {points:.1f} points"
            lines.append(
                "- the bands' edges were set on one half of the customers and checked on the other: the shares "
                f"agree {within}"
            )
        forecasts = self.check(self.forecaster) if self.forecaster else None
        if forecasts is not None and forecasts.mae is not None:
            lines.append(
                f"- per-customer forecasts (expected orders, CLV, winback dates) from {self.forecaster}: the "
                f"smallest error per customer on the holdout ({forecasts.mae:.2f} purchase days)"
            )
        # the dates the documents show are the forecasting model's
        shown = next(
            (v for v in self.winback_verdict if v.startswith(f"{self.forecaster or 'BG/NBD'} ")), None
        )
        return lines + ([f"- winback {shown}"] if shown else [])


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"
