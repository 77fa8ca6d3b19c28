"""Plan the CRM programme: lifecycle journey, automation blueprints, engagement scoring, churn playbook,
loyalty and referral design, and a monthly report skeleton whose segment health and cohort tables are filled
when orders are given (cohorts need the orders themselves, not only a scores file).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from ..api import ScoreResult
from ..cohorts import CohortTable
from .answers import KeyAnswer, key_answers
from .assumptions import Assumption, Resolved
from .calendar import CampaignCalendar, build_calendar
from .fit import LeftOut
from .library import CrmProgramme, Fitted, JourneyStage, Library
from .measures import Measures
from .plan import (
    Certainty,
    Facts,
    SequenceOut,
    Slot,
    StageRow,
    available_channels,
    backtest_lines,
    certainty,
    data_quality_notes,
    facts,
    operator_lines,
    sequences,
    timings_for,
)
from .plan import stage_rows as _stage_rows
from .priority import value_at_risk


class JourneyRow(BaseModel):
    phase: str
    customer_state: str
    stages: str
    customers: int | None
    trigger: str
    goal: str
    channels: str


class ProgrammePlan(BaseModel):
    kind: Literal["programme"] = "programme"
    backtest_lines: list[str] = []
    title: str
    certainty: Certainty
    facts: Facts
    measured: bool
    operator: list[str]  # the operator's own definitions, counted
    journey: list[JourneyRow]
    blueprints: list[SequenceOut]
    calendar: CampaignCalendar
    knowledge: CrmProgramme
    stages: list[StageRow]
    cohorts: CohortTable | None
    cohort_gap: str
    assumptions: list[Assumption]
    data_notes: list[str]
    key_questions: list[str]
    answers: list[KeyAnswer]  # the key questions, answered from the orders where they can be
    slots: list[Slot]
    left_out: list[str] = []  # the programme rows that do not fit this business, and why (fit.LeftOut)


PROGRAMME_SLOTS = [
    Slot(
        id="programme-summary",
        section="Summary",
        instruction="3-4 sentences: the programme's objective, the first flows to build and who owns them.",
    ),
    Slot(
        id="loyalty-fit",
        section="Loyalty and referral design",
        instruction="2 sentences adapting tier thresholds and rewards to the shop's margin and AOV.",
    ),
    Slot(
        id="report-focus",
        section="Monthly report skeleton",
        instruction="List next month's two priorities, based on the segment health and cohort tables.",
    ),
]


def build_programme_plan(
    lib: Library,
    r: Resolved,
    data: ScoreResult | None,
    cohorts: CohortTable | None,
    measures: Measures | None = None,
    start: dt.date | None = None,
) -> ProgrammePlan:
    rows = _stage_rows(lib, r, data)
    size = {row.stage: row.customers for row in rows}
    avail = {ch for ch, (usable, _note, _rate) in available_channels(lib, r).items() if usable}
    left = LeftOut(r)
    journey = []
    for j in left.kept(lib.programme.journey, "journey phases", "phase"):
        assert isinstance(j, JourneyStage)
        counts = [size[s] for s in j.stages if size.get(s) is not None]
        journey.append(
            JourneyRow(
                phase=j.phase,
                customer_state=j.customer_state,
                stages=", ".join(j.stages) or "-",
                customers=sum(c for c in counts if c is not None) if data is not None and j.stages else None,
                trigger=j.trigger,
                goal=j.goal,
                channels=", ".join(c for c in j.channels if c in avail) or "email (add a channel)",
            )
        )
    if cohorts is not None:
        gap = ""
    elif data is not None:
        gap = "not filled: a scores file carries no order dates; run programme with --orders to fill cohorts"
    else:
        gap = "not filled: no order data; run programme with --orders to fill cohorts"
    blueprints = sequences(
        lib,
        r,
        ["welcome", "nurture", "post-purchase", "re-engagement", "winback", "sunset", "vip"],
        timings_for(lib, r, data),
        left,
    )
    return ProgrammePlan(
        backtest_lines=backtest_lines(data),
        title=f"CRM programme: {r.brand_name}",
        certainty=certainty(data),
        facts=facts(r),
        measured=data is not None,
        operator=operator_lines(r, data, measures),
        journey=journey,
        blueprints=blueprints,
        calendar=build_calendar(lib, r, data, start),
        knowledge=fitting_programme(lib.programme, left),
        stages=rows,
        cohorts=cohorts,
        cohort_gap=gap,
        assumptions=r.assumptions,
        data_notes=r.data_notes + (data_quality_notes(data) if data else []),
        key_questions=lib.red_flags.key_questions,
        answers=key_answers(lib.red_flags.key_questions, r.currency, data, measures, value_at_risk(r, data)),
        slots=PROGRAMME_SLOTS,
        left_out=left.lines(),
    )


def fitting_programme(prog: CrmProgramme, left: LeftOut) -> CrmProgramme:
    """The programme's rows that fit the business; ``left`` records the others."""
    labels = {
        "automation_types": ("automation types", "name"),
        "behavioural_triggers": ("behavioural triggers", "name"),
        "churn_signals": ("churn signals", "signal"),
        "loyalty_tiers": ("loyalty tiers", "tier"),
        "referral": ("referral rules", "name"),
        "report_metrics": ("report metrics", "name"),
    }
    update: dict[str, list[Fitted]] = {
        field: left.kept(getattr(prog, field), label, name) for field, (label, name) in labels.items()
    }
    return prog.model_copy(update=update)
