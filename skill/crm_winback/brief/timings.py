"""Every day a document shows - trigger delays, sequence steps, stage boundaries - decided once, here.

The stage boundaries follow the operator's lapse threshold when given, else the measured repurchase cycle
(knowledge/lifecycle.yaml: at-risk after 1 cycle, lapsed after 2, churned after 4; with ``lapse_days`` given,
churned after twice that). The lapse triggers start where their stage starts. The model's winback date is a
second opinion: :func:`choose` says once which source times the triggers and why, and every section (trigger
library, sequences, facts, programme) reads the same :class:`Timings`. When the purchase model is backtested,
``choose`` is the one place that decides whether it may time the triggers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..models.backtest import BacktestReport
from ..scoring.predicted import ModelOutlook
from .assumptions import Resolved
from .library import Library, Trigger

Basis = Literal["given", "cycle", "model"]
QUARTILE_NAMES = {0.25: "lower quartile", 0.5: "median", 0.75: "upper quartile"}


class StageWindow(BaseModel):
    """Days since the last order that put a customer in a stage: ``start`` inclusive, ``end`` exclusive."""

    stage: str
    start: int
    end: int | None


class TriggerTiming(BaseModel):
    trigger_id: str
    day: int
    basis: str  # how the day was reached, in a few words


class ModelDay(BaseModel):
    """The model's day for a stage-entry trigger, shown beside the chosen day."""

    trigger_id: str
    stage: str
    day: int
    quartile: str
    customers: int


class Timings(BaseModel):
    cycle_days: float
    lapse_days: int
    lapse_basis: Basis
    churn_days: int
    windows: list[StageWindow]
    triggers: dict[str, TriggerTiming]
    model_days: list[ModelDay]
    source: Basis
    statement: str  # the one sentence that says which timing is used and why

    def day(self, trigger_id: str) -> int:
        return self.triggers[trigger_id].day

    def window(self, stage: str) -> StageWindow | None:
        return next((w for w in self.windows if w.stage == stage), None)


def _model_day(t: Trigger, model: ModelOutlook) -> ModelDay | None:
    assert t.winback_quantile is not None and model.overall is not None
    stages = {o.group: o for o in model.by_lifecycle}
    group = stages.get(t.stage)
    if group is None or group.winback_days_median is None:
        group = model.overall
    quartiles = {0.25: group.winback_days_p25, 0.5: group.winback_days_median, 0.75: group.winback_days_p75}
    value = quartiles[t.winback_quantile]
    if value is None:
        return None
    return ModelDay(
        trigger_id=t.id,
        stage=t.stage,
        day=round(value),
        quartile=QUARTILE_NAMES[t.winback_quantile],
        customers=group.customers,
    )


def windows(cycle: float, lapse: int, churn: int) -> list[StageWindow]:
    at_risk = min(round(cycle), lapse)
    return [
        StageWindow(stage="at-risk", start=at_risk, end=lapse),
        StageWindow(stage="lapsed", start=lapse, end=churn),
        StageWindow(stage="churned", start=churn, end=None),
    ]


def winback_evidence(backtest: BacktestReport | None) -> str:
    """What the backtest measured for the winback-date rules: flagged, precision and timing, in one sentence."""
    if backtest is None or backtest.status != "done":
        return ""
    # the fixed rules operators use, and the forecasting model's rule: the per-segment dates the documents show
    # are its dates (BG/NBD's when the backtest chose no forecaster)
    model = f"{backtest.forecaster or 'BG/NBD'}:"
    rows = [
        w
        for w in backtest.winback
        if w.group == "all customers"
        and w.flagged
        and w.precision is not None
        and ("P(active)" not in w.rule or w.rule.startswith(model))
    ]
    if not rows:
        return ""
    parts = [
        f"{w.rule}: {w.flagged:,} flagged, {(w.precision or 0.0) * 100:.0f}% of them then ordered nothing"
        + (
            f", flagged after a median {w.median_days_silent_at_flag:,.0f} days of silence"
            if w.median_days_silent_at_flag is not None
            else ""
        )
        for w in rows
    ]
    return (
        f" On the shop's past (orders up to {backtest.calibration_end}, checked over the next "
        f"{backtest.holdout_days} days) the date rules did this - " + "; ".join(parts) + "."
    )


def choose(
    model_days: list[ModelDay],
    wins: list[StageWindow],
    lapse_basis: Basis,
    backtest: BacktestReport | None = None,
) -> tuple[Basis, str]:
    """Which source times the lapse triggers, and the one sentence saying why (with the backtest's evidence)."""
    if not model_days:
        return lapse_basis, ""
    evidence = winback_evidence(backtest)
    shown = "The winback model puts " + " and ".join(
        f"the {m.stage} stage at day {m.day:,} ({m.quartile} of {m.customers:,} customers)"
        for m in model_days
    )
    if lapse_basis == "given":
        return "given", (
            f"{shown}. Your lapse threshold is used everywhere instead; the model's per-segment dates below "
            f"are a second opinion.{evidence}"
        )
    by_stage = {w.stage: w for w in wins}
    outside = [
        m
        for m in model_days
        if (w := by_stage.get(m.stage)) is not None
        and not (w.start <= m.day and (w.end is None or m.day < w.end))
    ]
    if not outside:
        return "model", (
            f"{shown}. Each date falls inside its stage's window, so the model times these triggers and "
            f"their sequences.{evidence}"
        )
    return "cycle", (
        f"{shown}. Those dates fall outside the stages they would time (a flow that starts after its stage "
        "ends never reaches the customers counted in it), so the measured repurchase cycle times every "
        f"trigger and sequence; the model's per-segment dates below are a second opinion.{evidence}"
    )


def build_timings(lib: Library, r: Resolved, model: ModelOutlook | None = None) -> Timings:
    """Decide every day once: stage windows, each trigger's day, and the model comparison."""
    cycle = r.cycle_days
    lapse_basis: Basis = "given" if r.origin.get("lapse_days") == "given" else "cycle"
    lapse = r.lapse_days
    churn = 2 * lapse
    wins = windows(cycle, lapse, churn)
    model_days: list[ModelDay] = []
    if model is not None and model.overall is not None:
        for t in lib.triggers.triggers:
            if t.winback_quantile is not None and t.starts_at is not None:
                found = _model_day(t, model)
                if found is not None:
                    model_days.append(found)
    source, statement = choose(model_days, wins, lapse_basis, model.backtest if model is not None else None)
    modelled = {m.trigger_id: m for m in model_days} if source == "model" else {}
    entry = {"lapse": (lapse, "lapsed stage starts"), "churn": (churn, "churned stage starts")}
    out: dict[str, TriggerTiming] = {}
    for t in lib.triggers.triggers:
        if t.timing_days is not None:
            out[t.id] = TriggerTiming(trigger_id=t.id, day=t.timing_days, basis="on the event")
        elif t.id in modelled:
            m = modelled[t.id]
            out[t.id] = TriggerTiming(
                trigger_id=t.id, day=max(lib.triggers.min_days, m.day), basis=f"model: {m.quartile}"
            )
        elif t.starts_at is not None:
            day, what = entry[t.starts_at]
            if lapse_basis == "given":
                how = "your lapse threshold" if t.starts_at == "lapse" else "twice your lapse threshold"
            else:  # the default lapse is two cycles, rounded to a day
                how = f"{2 if t.starts_at == 'lapse' else 4} x {cycle:g}-day cycle"
            out[t.id] = TriggerTiming(trigger_id=t.id, day=day, basis=f"{what}: {how}")
        else:
            assert t.timing_cycles is not None
            day = max(lib.triggers.min_days, round(t.timing_cycles * cycle))
            if t.stage == "at-risk":  # inside the at-risk window, whatever the lapse threshold
                day = min(max(day, wins[0].start), max(wins[0].start, lapse - 1))
            out[t.id] = TriggerTiming(
                trigger_id=t.id, day=day, basis=f"{t.timing_cycles:g} x {cycle:g}-day cycle"
            )
    return Timings(
        cycle_days=cycle,
        lapse_days=lapse,
        lapse_basis=lapse_basis,
        churn_days=churn,
        windows=wins,
        triggers=out,
        model_days=model_days,
        source=source,
        statement=statement,
    )
