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
from .library import Library
from .plan import (
    Certainty,
    Facts,
    Slot,
    StageRow,
    certainty,
    data_quality_notes,
    discount_for,
    facts,
    fitted_model,
    stage_rows,
)


class Baseline(BaseModel):
    revenue: float
    gross_margin: float
    gross_profit: float
    source: str


class LeverRow(BaseModel):
    rank: int
    name: str
    horizon: Literal["short", "medium", "long"]
    assumed_change: str
    revenue_lift: float
    revenue_lift_share: float
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
    packages: list[Package]
    moves: list[Move]
    holdout: str
    outcome_kpis: list[tuple[str, str]]
    limits: list[str]
    assumptions: list[Assumption]
    data_notes: list[str]
    slots: list[Slot]


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


def rank_levers(lib: Library, r: Resolved, base: Baseline) -> list[LeverRow]:
    """Ranked by gross-profit impact (then revenue lift, then name): margin first, so discounts cannot win on
    revenue alone."""
    rows = []
    for lv in lib.levers.levers:
        lift = base.revenue * lv.revenue_lift
        profit = (base.revenue + lift) * (base.gross_margin + lv.margin_points / 100) - base.gross_profit
        profit -= lv.programme_cost_share * lift
        rows.append(
            LeverRow(
                rank=0,
                name=lv.name,
                horizon=lv.horizon,
                assumed_change=lv.assumed_change,
                revenue_lift=round(lift, 2),
                revenue_lift_share=lv.revenue_lift,
                margin_points=lv.margin_points,
                gross_profit_impact=round(profit, 2),
                stages=list(lv.stages),
                metric=lv.metric,
                owner=lv.owner,
                fits_goal=r.goal in lv.goals,
            )
        )
    rows.sort(key=lambda x: (-x.gross_profit_impact, -x.revenue_lift, x.name))
    return [row.model_copy(update={"rank": i}) for i, row in enumerate(rows, 1)]


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
    note = (
        "BG/NBD + Gamma-Gamma fitted on the orders: expected revenue before margin, discounted 1% per 30 days; "
        "an estimate, not a promise - compare it with what the holdout group actually buys"
    )
    estimate = ClvEstimate(
        available=True,
        horizon_days=model.horizon_days,
        clv_total=total,
        gross_profit=round(total * r.gross_margin, 2),
        note=note,
    )
    return estimate, []


def build_ltv_plan(lib: Library, r: Resolved, data: ScoreResult | None) -> LtvPlan:
    base = baseline(r, data)
    levers = rank_levers(lib, r, base)
    by_name = {lv.name: lv for lv in lib.levers.levers}
    clv, clv_assumptions = clv_estimate(r, data)
    model = fitted_model(data)[0] if clv.available else None
    outlook = {o.group: o for o in model.by_lifecycle} if model else {}
    diagnosis = []
    packages = []
    for row in stage_rows(lib, r, data):
        stage_levers = [lv.name for lv in levers if row.stage in lv.stages]
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
        packages.append(
            Package(
                stage=row.stage,
                levers=stage_levers,
                tactics=tactics,
                discount=discount_for(lib, r, row.stage),
                metric=by_name[stage_levers[0]].metric if stage_levers else "repeat purchase rate",
            )
        )
    moves = []
    for horizon in ("short", "medium", "long"):
        for lv in levers:
            if lv.horizon == horizon:
                tactic = by_name[lv.name].tactics[0]
                moves.append(
                    Move(horizon=horizon, lever=lv.name, action=f"{tactic} ({', '.join(lv.stages)})")
                )
    outcome = [(k.name, k.definition) for k in lib.kpis.kpis if k.level in ("outcome", "guardrail")]
    return LtvPlan(
        title=f"LTV action plan: {r.brand_name}",
        goal=r.goal_label,
        currency=r.currency,
        certainty=certainty(data),
        facts=facts(r),
        baseline=base,
        measured=data is not None,
        clv=clv,
        diagnosis=diagnosis,
        levers=levers,
        packages=packages,
        moves=moves,
        holdout=lib.kpis.holdout,
        outcome_kpis=outcome,
        limits=list(lib.levers.limits),
        assumptions=r.assumptions + clv_assumptions,
        data_notes=r.data_notes + (data_quality_notes(data) if data else []),
        slots=LTV_SLOTS,
    )
