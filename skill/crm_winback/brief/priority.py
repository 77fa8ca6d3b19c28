"""Which segments first: value at risk per RFM segment = 12-month revenue x P(not returning) x reachable share.

Each factor is shown with its source, so the ranking can be checked: revenue is measured (scaled to 12 months
like the LTV baseline), P(not returning) is measured on the shop's past when the backtest ran (each churn band's
share that made no order in the holdout, weighted by the segment's band mix), else the share with high
heuristic churn risk; the reachable share is measured from consent columns, else the email
opt-in rate from the notes or the default (stated).
"""

from __future__ import annotations

from pydantic import BaseModel

from ..api import ScoreResult
from .assumptions import Resolved


class RiskRow(BaseModel):
    rank: int
    segment: str
    customers: int
    revenue: float
    p_not_returning: float
    reachable_share: float
    value_at_risk: float

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0


FORMULA = (
    "value at risk = customers x 12-month revenue per customer x P(not returning) x reachable share "
    "(= the segment's 12-month revenue x P(not returning) x reachable share)"
)


class ValueAtRisk(BaseModel):
    rows: list[RiskRow]
    formula: str = FORMULA
    revenue_source: str
    risk_source: str
    reach_source: str
    start_with: str  # one sentence: where to start, and why


def revenue_scale(data: ScoreResult) -> float:
    """The factor that turns revenue over the export's history into 12 months (as the LTV baseline does)."""
    return 365 / max(data.quality.history_days, 365)


def value_at_risk(r: Resolved, data: ScoreResult | None) -> ValueAtRisk | None:
    """The RFM segments ranked by value at risk (:data:`FORMULA`); None without order amounts."""
    if data is None or not data.scoring.monetary_available:
        return None
    card = data.scoring.scorecard
    model = data.scoring.predictions
    bt = model.backtest if model is not None and model.churn_risk_method == "backtest" else None
    chosen = bt.check(bt.chosen) if bt is not None and bt.status == "done" else None
    # the bands the backtest measured (an empty band has no share: it is neither weighted nor quoted)
    observed = (
        {b.band: b.observed_no_order for b in chosen.bands if b.observed_no_order is not None}
        if chosen is not None
        else {}
    )
    email = next((c for c in r.channels if c.channel == "email"), None)
    scale = revenue_scale(data)
    rows = []
    for row in card.by_segment:
        if not row.customers or row.revenue is None:
            continue
        if (
            observed
        ):  # each band's share that did not return on the shop's past, weighted by the segment's mix
            risk = (
                row.churn_risk_low * observed.get("low", 0.0)
                + row.churn_risk_medium * observed.get("medium", 0.0)
                + row.churn_risk_high * observed.get("high", 0.0)
            ) / row.customers
        else:
            risk = row.churn_risk_high / row.customers
        if row.email_reachable is not None:
            reach = row.email_reachable / row.customers
        else:
            reach = email.opt_in_rate if email else 0.0
        revenue = row.revenue * scale
        rows.append(
            RiskRow(
                rank=0,
                segment=row.group,
                customers=row.customers,
                revenue=round(revenue, 2),
                p_not_returning=round(risk, 4),
                reachable_share=round(reach, 4),
                value_at_risk=round(revenue * risk * reach, 2),
            )
        )
    rows.sort(key=lambda x: (-x.value_at_risk, x.segment))
    rows = [row.model_copy(update={"rank": i}) for i, row in enumerate(rows, 1)]
    history = data.quality.history_days
    revenue_source = (
        f"measured net revenue, scaled from {history} days to 12 months"
        if history > 365
        else "measured net revenue"
    )
    if observed and bt is not None:
        shares = ", ".join(f"{band} {share * 100:.0f}%" for band, share in observed.items())
        risk_source = (
            f"measured on the shop's past: the share of each churn-risk band ({bt.chosen}) that made no order in "
            f"the {bt.holdout_days} days after {bt.calibration_end} ({shares}), weighted by the segment's "
            "customers in each band"
        )
    else:
        risk_source = "share of customers with high heuristic churn risk (not backtested)"
    if card.total.email_reachable is not None:
        reach_source = "measured: customers with email consent"
    elif email is not None:
        origin = r.origin.get("channels", "default")
        reach_source = (
            f"the email opt-in rate ({email.opt_in_rate * 100:.0f}%, {origin}) for every segment: the export has "
            "no consent columns"
        )
    else:
        reach_source = "no email channel in use: nobody is reachable by email"
    if rows and rows[0].value_at_risk > 0:
        top = rows[0]
        start = (
            f"Start with {top.segment}: {top.customers:,} customers, {top.revenue:,.0f} {r.currency} of yearly "
            f"revenue, {top.p_not_returning * 100:.0f}% not expected to return, {top.reachable_share * 100:.0f}% "
            f"reachable - {top.value_at_risk:,.0f} {r.currency} at risk, the most of any segment."
        )
    else:
        start = "No segment has revenue at risk that can be reached: fix reachability (consent) first."
    return ValueAtRisk(
        rows=rows,
        revenue_source=revenue_source,
        risk_source=risk_source,
        reach_source=reach_source,
        start_with=start,
    )
