"""The brief builder's public functions, called by the CLI and the MCP server: plain values in, models out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..api import ScoreResult, score_file
from ..cohorts import CohortTable, build_cohorts
from ..errors import InputError
from ..knowledge import format_validation_error
from ..models.documents import KnowledgeAnswer
from ..scoring import ScoreOptions
from .assumptions import Assumption, resolve
from .calendar import DEFAULT_WEEKS, CampaignCalendar, build_calendar
from .check import CheckReport, check_text
from .context import Context
from .library import load_library
from .ltv import build_ltv_plan
from .measures import Measures, measure
from .plan import Slot, build_brief_plan
from .priority import ValueAtRisk, value_at_risk
from .programme import build_programme_plan
from .render import render

__all__ = [
    "BuiltDocument",
    "CheckReport",
    "Context",
    "build_brief",
    "build_calendar_document",
    "build_ltv_plan_document",
    "build_programme_document",
    "check_document",
    "check_file",
    "knowledge_lookup",
    "rank_segments",
]


class BuiltDocument(BaseModel):
    """A rendered skeleton, the narrative slots the agent fills, the stated assumptions and the certainty."""

    kind: str
    markdown: str
    slots: list[Slot]
    assumptions: list[Assumption]
    certainty: str


def load_scores(path: str | Path) -> ScoreResult:
    """Read the JSON written by ``crm-winback score --format json``."""
    file = Path(path)
    if not file.is_file():
        raise InputError(
            f"--scores {file}: file not found; write it with crm-winback score FILE --format json"
        )
    try:
        data: Any = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(
            f"--scores {file}: not JSON; write it with crm-winback score FILE --format json"
        ) from None
    try:
        return ScoreResult.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            format_validation_error(f"--scores {file}", exc).split("; ")[0]
            + "; write it with crm-winback score FILE --format json"
        ) from None


def scored_data(orders: str | Path | None, scores: str | Path | None) -> ScoreResult | None:
    return measured_data(orders, scores, Context())[0]


def measured_data(
    orders: str | Path | None,
    scores: str | Path | None,
    context: Context,
    with_cohorts: bool = False,
    profiles: tuple[str, ...] = (),
) -> tuple[ScoreResult | None, Measures | None, CohortTable | None]:
    """The scored data and, with orders, the operator's definitions counted on the customers (and cohorts).

    With a lapse threshold in the context the lifecycle stages are recounted on it, so every section shows
    the operator's stages. Cohorts need the orders themselves, not a scores file.
    """
    if orders is not None and scores is not None:
        raise InputError("give either --orders or --scores, not both")
    if profiles and orders is None:
        raise InputError("--profiles needs --orders: the profiles are joined to the customers of the orders")
    if scores is not None:
        return load_scores(scores), None, None
    if orders is None:
        return None, None, None
    # with the model: churn risk from P(alive), and the model's winback dates to compare with the cycle
    options = ScoreOptions(predict=True, profiles=profiles)
    result, scored = score_file(orders, score_options=options, keep=True)
    assert scored is not None
    try:
        cohorts = build_cohorts(scored.ingested.con, result.scoring.as_of) if with_cohorts else None
        measures = measure(scored, context)
    finally:
        scored.ingested.close()
    if measures.stages is not None:  # every section reads the stages on the operator's lapse threshold
        update: dict[str, object] = {
            "scorecard": result.scoring.scorecard.model_copy(update={"by_lifecycle": measures.stages})
        }
        if measures.stage_outlook is not None and result.scoring.predictions is not None:
            update["predictions"] = result.scoring.predictions.model_copy(
                update={"by_lifecycle": measures.stage_outlook}
            )
        result = result.model_copy(update={"scoring": result.scoring.model_copy(update=update)})
    return result, measures, cohorts


def build_brief(
    context: Context,
    orders: str | Path | None = None,
    scores: str | Path | None = None,
    template_dir: str | Path | None = None,
    profiles: tuple[str, ...] = (),
) -> BuiltDocument:
    """The CRM segment & winback brief (markdown skeleton with narrative slots).

    With ``profiles`` (the email platform's exports) consent and engagement tiers come from the platform.
    """
    lib = load_library()
    data, measures, _ = measured_data(orders, scores, context, profiles=profiles)
    resolved = resolve(context, lib, data)
    plan = build_brief_plan(lib, resolved, data, measures)
    return _document("brief", "brief.md.j2", plan, template_dir)


def _document(kind: str, template: str, plan: Any, template_dir: str | Path | None) -> BuiltDocument:
    """Render ``plan`` with ``template``; every plan carries its slots, assumptions and certainty."""
    return BuiltDocument(
        kind=kind,
        markdown=render(template, plan, template_dir),
        slots=plan.slots,
        assumptions=plan.assumptions,
        certainty=plan.certainty.level,
    )


class CalendarPlan(BaseModel):
    brand: str
    calendar: CampaignCalendar
    slots: list[Slot] = []


class CalendarDocument(BaseModel):
    """The lifecycle campaign calendar and its markdown table."""

    calendar: CampaignCalendar
    markdown: str


def build_calendar_document(
    context: Context,
    orders: str | Path | None = None,
    scores: str | Path | None = None,
    start: dt.date | None = None,
    weeks: int = DEFAULT_WEEKS,
    stages: list[str] | None = None,
    template_dir: str | Path | None = None,
) -> CalendarDocument:
    """The dated lifecycle campaign calendar; ``start`` wins over the context's campaign_start."""
    lib = load_library()
    data, _measures, _ = measured_data(orders, scores, context)
    r = resolve(context, lib, data)
    cal = build_calendar(lib, r, data, start or context.campaign_start, weeks, stages)
    plan = CalendarPlan(brand=r.brand_name, calendar=cal)
    return CalendarDocument(calendar=cal, markdown=render("calendar.md.j2", plan, template_dir))


def rank_segments(
    context: Context, orders: str | Path | None = None, scores: str | Path | None = None
) -> ValueAtRisk | None:
    """The RFM segments ranked by value at risk (formula in the result); None without order amounts."""
    lib = load_library()
    data, _measures, _ = measured_data(orders, scores, context)
    return value_at_risk(resolve(context, lib, data), data)


def check_document(text: str) -> CheckReport:
    """Acceptance criteria and red flags of a brief or plan, each pass/fail with a line reference."""
    return check_text(text)


def check_file(path: str | Path) -> CheckReport:
    file = Path(path)
    try:
        return check_text(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: file not found; check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not UTF-8 text; check a markdown file") from None


def build_ltv_plan_document(
    context: Context,
    orders: str | Path | None = None,
    scores: str | Path | None = None,
    template_dir: str | Path | None = None,
) -> BuiltDocument:
    """The LTV action plan: diagnosis, ranked levers (revenue and margin apart), packages, horizons, limits."""
    lib = load_library()
    data, measures, _ = measured_data(orders, scores, context)
    plan = build_ltv_plan(lib, resolve(context, lib, data), data, measures)
    return _document("ltv-plan", "ltv_plan.md.j2", plan, template_dir)


def build_programme_document(
    context: Context,
    orders: str | Path | None = None,
    scores: str | Path | None = None,
    template_dir: str | Path | None = None,
) -> BuiltDocument:
    """The CRM programme; with ``orders`` its segment health and cohort tables are filled."""
    lib = load_library()
    data, measures, cohorts = measured_data(orders, scores, context, with_cohorts=True)
    plan = build_programme_plan(
        lib, resolve(context, lib, data), data, cohorts, measures, context.campaign_start
    )
    return _document("programme", "programme.md.j2", plan, template_dir)


def _matches(item: dict[str, Any], key: str, value: str | None) -> bool:
    if value is None or key not in item:
        return True
    field = item[key]
    return value in field if isinstance(field, list) else field == value


def knowledge_lookup(
    topic: str, segment: str | None = None, channel: str | None = None, goal: str | None = None
) -> KnowledgeAnswer:
    """Entries of a knowledge topic (triggers, channels, offers, messages, sequences, kpis, levers, consent,
    red_flags, programme, profiles), filtered by lifecycle stage, channel and goal where the entries have them."""
    from .library import LIBRARY_FILES

    topics = {"levers": "levers", "red_flags": "red_flags", "profiles": "profiles", "consent": "consent"}
    key = topics.get(topic, topic)
    if key not in LIBRARY_FILES:
        raise InputError(f"topic {topic}: unknown; choose one of {', '.join(sorted(LIBRARY_FILES))}")
    data = getattr(load_library(), key).model_dump(mode="json")
    lists = {
        "triggers": "triggers",
        "channels": "matrix",
        "messages": "stages",
        "sequences": "sequences",
        "kpis": "kpis",
        "levers": "levers",
        "consent": "rules",
        "offers": "non_discount",
        "profiles": "verticals",
        "red_flags": "flags",
        "programme": "journey",
    }
    items = data[lists[key]]
    out = [
        i
        for i in items
        if _matches(i, "stage", segment)
        and _matches(i, "stages", segment)
        and _matches(i, "best_for", segment)
        and _matches(i, "channel", channel)
        and _matches(i, "channels", channel)
        and _matches(i, "goals", goal)
    ]
    return KnowledgeAnswer(topic=key, file=LIBRARY_FILES[key][0], items=out)
