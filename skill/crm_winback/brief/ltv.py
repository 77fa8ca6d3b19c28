"""Plan the LTV action plan: segment diagnosis, levers ranked with revenue and margin effects kept apart,
action packages per stage, short/medium/long moves, measurement notes and limits.

The baseline is 12-month revenue: measured (net revenue annualised over the export's history) when orders are
given, else customers x AOV x orders per customer per year from the resolved context.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..api import ScoreResult
from .assumptions import Assumption, Resolved
from .fit import LeftOut
from .guardrails import DiscountGuardrails, discount_guardrails, segment_aovs
from .library import Library
from .measures import Measures
from .plan import (
    Certainty,
    Facts,
    Slot,
    StageRow,
    backtest_lines,
    certainty,
    data_quality_notes,
    discount_for,
    facts,
    fitted_model,
    goal_shown,
    stage_rows,
)
from .priority import ValueAtRisk, revenue_scale, value_at_risk


class Baseline(BaseModel):
    revenue: float
    gross_margin: float
    gross_profit: float
    source: str


class LeverRow(BaseModel):
    rank: int  # 0: not ranked (no customers in its stages)
    name: str
    horizon: Literal["short", "medium", "long"]
    assumed_change: str
    customers: int
    customers_basis: str  # whose customers: the stages, or all customers when stages are not measured
    value_per_customer: float
    value_source: str
    revenue_lift: float
    margin_points: float
    gross_profit_impact: float
    stages: list[str]
    metric: str
    owner: str
    fits_goal: bool


class DiagnosisRow(BaseModel):
    stage: StageRow
    diagnosis: str
    levers: list[str]
    mean_p_alive: float | None = None  # model estimates, when predictions are available
    clv_mean: float | None = None
    clv_total: float | None = None


class ClvEstimate(BaseModel):
    """Predicted CLV of the existing customers (BG/NBD + Gamma-Gamma), or why it is not available."""

    available: bool
    horizon_days: int | None
    clv_total: float | None
    gross_profit: float | None
    note: str


class Package(BaseModel):
    stage: str
    who: str  # how many customers, their yearly value per customer and where it comes from
    levers: list[str]
    tactics: list[str]
    discount: str
    metric: str


class Move(BaseModel):
    horizon: Literal["short", "medium", "long"]
    lever: str
    action: str


class LtvPlan(BaseModel):
    kind: Literal["ltv-plan"] = "ltv-plan"
    backtest_lines: list[str] = []
    title: str
    goal: str
    currency: str
    certainty: Certainty
    facts: Facts
    baseline: Baseline
    measured: bool
    clv: ClvEstimate
    diagnosis: list[DiagnosisRow]
    levers: list[LeverRow]
    risk: ValueAtRisk | None
    guardrails: DiscountGuardrails | None  # the deepest discount each RFM segment's expected value covers
    packages: list[Package]
    moves: list[Move]
    holdout: str
    outcome_kpis: list[tuple[str, str]]
    limits: list[str]
    assumptions: list[Assumption]
    data_notes: list[str]
    slots: list[Slot]
    left_out: list[str] = []  # the levers that do not fit this business, and why (fit.LeftOut)


LTV_SLOTS = [
    Slot(
        id="ltv-summary",
        section="Summary",
        instruction="3-4 sentences: which segments deserve investment this quarter and why; the top two levers "
        "with their revenue and margin effects stated separately. No promised results.",
    ),
    Slot(
        id="ltv-diagnosis",
        section="Segment diagnosis",
        instruction="One sentence per priority stage on what the numbers (or notes) say.",
    ),
    Slot(
        id="ltv-risks",
        section="Assumptions and limits",
        instruction="Name the one assumption that would change the ranking most, and how to test it.",
    ),
]


def baseline(r: Resolved, data: ScoreResult | None) -> Baseline:
    q = data.quality if data else None
    if q is not None and q.net_revenue is not None and q.history_days > 0:
        revenue = round(q.net_revenue * 365 / max(q.history_days, 365), 2)
        source = (
            f"measured: net revenue {q.net_revenue:,.2f} over {q.history_days} days, scaled to 12 months"
            if q.history_days >= 365
            else f"measured: net revenue over {q.history_days} days (under a year)"
        )
    else:
        revenue = round(r.customers * r.aov * r.orders_per_year, 2)
        source = "estimated: customers x AOV x orders per customer per year"
    return Baseline(
        revenue=revenue,
        gross_margin=r.gross_margin,
        gross_profit=round(revenue * r.gross_margin, 2),
        source=source,
    )


PER_CUSTOMERS = 1000  # the group size levers are sized on when stage sizes are not measured


class Group(BaseModel):
    """The customers a lever works on: how many, their per-customer values and their yearly revenue."""

    customers: int
    basis: str
    aov: float
    per_year: float
    revenue: float
    source: str


def lever_group(stages: list[str], r: Resolved, data: ScoreResult | None, base: Baseline) -> Group:
    """Measured from the stages' customers when orders are given, else all customers at the notes' values."""
    if data is None or not data.scoring.monetary_available:
        # stage sizes are unknown without orders: every lever is sized per 1,000 customers of its stages, so the
        # ranking compares levers per customer reached and never multiplies a stage's change by all customers
        per_year = r.aov * r.orders_per_year
        return Group(
            customers=PER_CUSTOMERS,
            basis=f"per {PER_CUSTOMERS:,} customers of these stages; stage sizes not measured",
            aov=r.aov,
            per_year=per_year,
            revenue=PER_CUSTOMERS * per_year,
            source=f"AOV {r.aov:,.2f} ({r.origin['aov']}), {r.orders_per_year:g} orders a year "
            f"({r.origin['orders_per_year']})",
        )
    rows = [row for row in data.scoring.scorecard.by_lifecycle if row.group in stages]
    n = sum(row.customers for row in rows)
    revenue = sum(row.revenue or 0.0 for row in rows) * revenue_scale(data)
    orders = sum(row.avg_orders * row.customers for row in rows)
    history = data.quality.history_days
    return Group(
        customers=n,
        basis=", ".join(stages),
        aov=round(revenue / revenue_scale(data) / orders, 2) if orders else 0.0,
        per_year=round(revenue / n, 2) if n else 0.0,
        revenue=round(revenue, 2),
        source="measured from these customers' orders"
        + (f", revenue scaled from {history} days to 12 months" if history > 365 else ""),
    )


def rank_levers(
    lib: Library,
    r: Resolved,
    base: Baseline,
    data: ScoreResult | None = None,
    left: LeftOut | None = None,
) -> list[LeverRow]:
    """Ranked by gross-profit impact (then revenue lift, then name): margin first, so discounts cannot win on
    revenue alone. Each lever is sized on the customers of its stages; one whose stages are empty is listed
    with rank 0 (not ranked); one that does not fit the business is left out (and ``left`` records it)."""
    left = left or LeftOut(r)
    rows = []
    for lv in lib.levers.levers:
        if not left.keep(lv, "levers", lv.name):
            continue
        g = lever_group(list(lv.stages), r, data, base)
        value = g.aov if lv.per == "order" else g.per_year
        what = "one order at their AOV" if lv.per == "order" else "a year of their revenue per customer"
        lift = g.customers * lv.share * value
        # a per-order lever's margin effect is on its own orders; a yearly one changes all the group's revenue
        affected = 0.0 if lv.per == "order" else g.revenue
        profit = lift * (base.gross_margin + lv.margin_points / 100) + affected * lv.margin_points / 100
        profit -= lv.programme_cost_share * lift
        rows.append(
            LeverRow(
                rank=0,
                name=lv.name,
                horizon=lv.horizon,
                assumed_change=lv.assumed_change,
                customers=g.customers,
                customers_basis=g.basis,
                value_per_customer=round(value, 2),
                value_source=f"{what}: {g.source}",
                revenue_lift=round(lift, 2),
                margin_points=lv.margin_points,
                gross_profit_impact=round(profit, 2),
                stages=list(lv.stages),
                metric=lv.metric,
                owner=lv.owner,
                fits_goal=r.goal in lv.goals,
            )
        )
    ranked = sorted(
        (x for x in rows if x.customers), key=lambda x: (-x.gross_profit_impact, -x.revenue_lift, x.name)
    )
    empty = sorted((x for x in rows if not x.customers), key=lambda x: x.name)
    return [row.model_copy(update={"rank": i}) for i, row in enumerate(ranked, 1)] + empty


def clv_estimate(r: Resolved, data: ScoreResult | None) -> tuple[ClvEstimate, list[Assumption]]:
    """Predicted CLV from the scored data's model, or an assumption saying why there is none."""
    model, why = fitted_model(data)
    if model is None or model.overall is None or model.overall.clv_total is None:
        why = why or "the export has no order values, so the model cannot predict spend"
        assumption = Assumption(
            field="predicted_clv",
            value="not available; the plan works from the 12-month baseline only",
            why=why,
            how_to_check="give --orders with amounts and enough repeat buyers (or --scores from crm-winback "
            "score --predict) to add the BG/NBD + Gamma-Gamma CLV per segment",
        )
        return ClvEstimate(available=False, horizon_days=None, clv_total=None, gross_profit=None, note=why), [
            assumption
        ]
    total = model.overall.clv_total
    base = baseline(r, data)
    stages = {row.group: row for row in data.scoring.scorecard.by_lifecycle} if data else {}
    churned = stages["churned"].share if "churned" in stages else 0.0
    # existing customers, some of them already gone, cannot be expected to buy more than they all did last year
    if total > base.revenue:
        why = (
            f"the model predicts {total:,.0f} {r.currency} over the next {model.horizon_days} days from the "
            f"existing customers, more than their last 12 months' revenue ({base.revenue:,.0f}) although "
            f"{churned * 100:.0f}% of them are churned; not credible, so it is not used"
        )
        assumption = Assumption(
            field="predicted_clv",
            value="not used; the plan works from the 12-month baseline only",
            why=why,
            how_to_check="backtest the model (crm-winback predict) before trusting its CLV",
        )
        return ClvEstimate(available=False, horizon_days=None, clv_total=None, gross_profit=None, note=why), [
            assumption
        ]
    note = (
        f"{model.forecast_model} + Gamma-Gamma fitted on the orders: expected revenue before margin, discounted 1% "
        "per 30 days; "
        f"checked: below the last 12 months' revenue ({base.revenue:,.0f}), with {churned * 100:.0f}% of customers "
        "churned; certainty medium at best until the model is backtested - compare it with what the holdout "
        "group actually buys"
    )
    estimate = ClvEstimate(
        available=True,
        horizon_days=model.horizon_days,
        clv_total=total,
        gross_profit=round(total * r.gross_margin, 2),
        note=note,
    )
    return estimate, []


def build_ltv_plan(
    lib: Library, r: Resolved, data: ScoreResult | None, measures: Measures | None = None
) -> LtvPlan:
    base = baseline(r, data)
    left = LeftOut(r)
    levers = rank_levers(lib, r, base, data, left)
    by_name = {lv.name: lv for lv in lib.levers.levers}
    clv, clv_assumptions = clv_estimate(r, data)
    model = fitted_model(data)[0] if clv.available else None
    outlook = {o.group: o for o in model.by_lifecycle} if model else {}
    diagnosis = []
    packages = []
    for row in stage_rows(lib, r, data):
        stage_levers = [lv.name for lv in levers if row.stage in lv.stages and lv.rank]
        o = outlook.get(row.stage)
        diagnosis.append(
            DiagnosisRow(
                stage=row,
                diagnosis=lib.levers.diagnosis[row.stage],
                levers=stage_levers,
                mean_p_alive=o.mean_p_alive if o else None,
                clv_mean=o.clv_mean if o else None,
                clv_total=o.clv_total if o else None,
            )
        )
        tactics = [t for name in stage_levers for t in by_name[name].tactics]
        g = lever_group([row.stage], r, data, base)
        who = (
            f"{g.customers:,} customers, {g.per_year:,.2f} {r.currency} of yearly revenue each ({g.source})"
            if data is not None and data.scoring.monetary_available
            else f"not measured (no orders); value per customer {g.per_year:,.2f} {r.currency} a year from {g.source}"
        )
        packages.append(
            Package(
                stage=row.stage,
                who=who,
                levers=stage_levers,
                tactics=tactics,
                discount=discount_for(lib, r, row.stage),
                metric=by_name[stage_levers[0]].metric if stage_levers else "repeat purchase rate",
            )
        )
    moves = []
    for horizon in ("short", "medium", "long"):
        for lv in levers:
            if lv.horizon == horizon and lv.rank:
                tactic = by_name[lv.name].tactics[0]
                stages = ", ".join(lv.stages)
                who = f"{lv.customers:,} customers" if lv.customers_basis == stages else lv.customers_basis
                moves.append(
                    Move(
                        horizon=horizon,
                        lever=lv.name,
                        action=f"{tactic} ({stages}: {who}; revenue lift {lv.revenue_lift:,.0f} {r.currency}, "
                        f"gross profit {lv.gross_profit_impact:+,.0f} {r.currency})",
                    )
                )
    outcome = [(k.name, k.definition) for k in lib.kpis.kpis if k.level in ("outcome", "guardrail")]
    risk = value_at_risk(r, data)
    return LtvPlan(
        backtest_lines=backtest_lines(data),
        title=f"LTV action plan: {r.brand_name}",
        goal=goal_shown(r),
        currency=r.currency,
        certainty=certainty(data),
        facts=facts(r),
        baseline=base,
        measured=data is not None,
        clv=clv,
        diagnosis=diagnosis,
        levers=levers,
        risk=risk,
        guardrails=discount_guardrails(lib, r, segment_aovs(data), risk),
        packages=packages,
        moves=moves,
        holdout=lib.kpis.holdout,
        outcome_kpis=outcome,
        limits=list(lib.levers.limits),
        assumptions=r.assumptions + clv_assumptions,
        data_notes=r.data_notes + (data_quality_notes(data) if data else []),
        slots=LTV_SLOTS,
        left_out=left.lines(),
    )
