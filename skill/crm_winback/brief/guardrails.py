"""Discount guardrails per RFM segment: the deepest discount each group's expected value can pay for.

A segment most of whose customers are expected to return gets no discount (they buy without one). Otherwise a
discount step d is allowed for it only when all three hold: d is within the operator's maximum (their
number wins over the ladder); the discounted order keeps the margin floor ((m - d) / (1 - d), offers.yaml); and
the discount's cost on one order (d x the segment's AOV) is covered by the gross profit the segment's customer is
expected to bring in the next 12 months (12-month revenue per customer x P(returning) x gross margin). The
revenue and P(not returning) are those of the value-at-risk ranking (:mod:`.priority`), so one number is shown.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..api import ScoreResult
from .assumptions import Resolved
from .library import Library
from .priority import ValueAtRisk

FORMULA = (
    "expected 12-month gross profit per customer = 12-month revenue per customer x (1 - P(not returning)) x "
    "gross margin; a discount d is allowed only if the segment is more likely to leave than the threshold, "
    "d x AOV <= that profit, d <= your maximum discount and (margin - d) / (1 - d) stays at or above the margin "
    "floor"
)


class GuardrailRow(BaseModel):
    segment: str
    customers: int
    aov: float
    expected_profit: float  # per customer, next 12 months
    deepest: float  # the deepest allowed discount, 0 for none
    cost: float  # deepest x AOV: what one discounted order gives away
    why: str


class DiscountGuardrails(BaseModel):
    rows: list[GuardrailRow]
    formula: str = FORMULA
    basis: str  # margin, maximum and floor used, with their origin


def segment_aovs(data: ScoreResult | None) -> dict[str, float]:
    """AOV per RFM segment of the scored data (segments without amounts left out)."""
    if data is None:
        return {}
    return {row.group: row.aov for row in data.scoring.scorecard.by_segment if row.aov is not None}


def discount_guardrails(
    lib: Library, r: Resolved, aovs: dict[str, float], risk: ValueAtRisk | None
) -> DiscountGuardrails | None:
    """Per segment of the value-at-risk ranking, the deepest ladder step its expected value covers."""
    if risk is None:
        return None
    g = lib.offers.guardrails
    floor = g.min_margin_after_discount
    m = r.gross_margin
    rows = []
    for row in sorted(risk.rows, key=lambda x: x.segment):
        aov = aovs.get(row.segment)
        if aov is None:
            continue
        profit = round(row.revenue_per_customer * (1 - row.p_not_returning) * m, 2)
        if row.p_not_returning < g.min_p_not_returning:
            deepest = 0.0
            why = (
                f"no discount: {row.p_not_returning * 100:.1f}% not expected to return, under "
                f"{g.min_p_not_returning * 100:.0f}% - most are expected to return without one; use the "
                "non-discount offers"
            )
        else:
            deepest, why = _deepest_step(lib, r, aov, profit, floor)
        rows.append(
            GuardrailRow(
                segment=row.segment,
                customers=row.customers,
                aov=aov,
                expected_profit=profit,
                deepest=deepest,
                cost=round(deepest * aov, 2),
                why=why,
            )
        )
    rows.sort(key=lambda x: (-x.deepest, -x.expected_profit, x.segment))
    basis = (
        f"at least {g.min_p_not_returning * 100:.0f}% not returning, "
        f"gross margin {m * 100:.0f}% ({r.origin.get('gross_margin', 'default')}), your maximum discount "
        f"{r.max_discount * 100:.0f}% ({r.origin.get('max_discount', 'default')}), margin floor "
        f"{floor * 100:.0f}% and the discount ladder (knowledge/offers.yaml); new customers and VIPs are never "
        "discounted, whatever their segment"
    )
    return DiscountGuardrails(rows=rows, basis=basis)


def _deepest_step(lib: Library, r: Resolved, aov: float, profit: float, floor: float) -> tuple[float, str]:
    """The deepest ladder step within the maximum, the margin floor and ``profit`` per order, and why not more."""
    m = r.gross_margin
    deepest, why = 0.0, ""
    for step in sorted(lib.offers.discount_ladder, key=lambda x: x.discount):
        d = step.discount
        if d > r.max_discount + 1e-9:
            why = why or f"{d * 100:.0f}% is over your maximum of {r.max_discount * 100:.0f}%"
            break
        if (m - d) / (1 - d) < floor - 1e-9:
            why = why or f"{d * 100:.0f}% leaves less than the {floor * 100:.0f}% margin floor"
            break
        if d * aov > profit + 1e-9:
            why = (
                f"{d * 100:.0f}% costs {d * aov:,.2f} {r.currency} an order, more than the "
                f"{profit:,.2f} {r.currency} expected"
            )
            break
        deepest, why = d, ""
    if deepest == 0.0:
        return 0.0, "no discount: " + (why or "the ladder has no step")
    return deepest, f"up to {deepest * 100:.0f}%" + (
        f"; not more: {why}" if why else "; the ladder's deepest step"
    )
