"""The lifecycle campaign calendar: each stage's flow laid out on dated weeks, within the frequency caps.

On the start date every customer already in a stage starts that stage's flow (the flow the documents detail for
the goal first, else the first in knowledge/sequences.yaml); a step is sent as many days after the start as it
comes after the flow's first step. From then on each flow runs on its own trigger for the customers who enter the
stage, so the calendar shows the first pass, the one a team plans and staffs.

A customer is in one stage at a time, so the caps are kept per stage and channel: two sends closer than the
channel's ``min_hours_between`` or more than its ``max_per_30_days`` (knowledge/consent_rules.yaml) move later,
and a second discounted send within 90 days (offers.yaml guardrails) is dropped. Each move is listed.
"""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel

from ..api import ScoreResult
from ..errors import InputError
from .assumptions import Resolved
from .fit import LeftOut
from .library import STAGES, Library
from .plan import sequences, stage_order, timings_for

DEFAULT_WEEKS = 13  # a quarter
DISCOUNT_WORDS = ("discount",)


class CalendarSend(BaseModel):
    week: int  # 1-based
    day: int  # days after the start date (0 = the start)
    date: str | None  # ISO date; None when the calendar is undated
    stage: str
    flow: str
    channel: str
    content: str
    customers: int | None  # in the stage on the start date (None: not measured)
    reachable: str  # who of them the channel reaches: measured consent, or the opt-in rate and its origin


class CampaignCalendar(BaseModel):
    start: str | None
    start_basis: str
    weeks: int
    stages: list[str]
    flows: list[tuple[str, str]]  # stage -> flow name
    sends: list[CalendarSend]
    caps: list[str]  # the caps kept, in words
    moved: list[str]  # sends moved or dropped to keep the caps
    later: list[str]  # steps that fall after the last week
    note: str


def parse_stages(text: str | None) -> list[str] | None:
    """``new,VIPs,lapsed`` -> the stage names; None for all. An unknown name is refused with the list."""
    if text is None or not text.strip():
        return None
    names = {s.lower(): s for s in STAGES}
    out = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        key = word.lower()
        stage = names.get(key) or (names.get(key[:-1]) if key.endswith("s") else None)
        if stage is None:
            raise InputError(f"--stages {word}: not a lifecycle stage; choose from {', '.join(STAGES)}")
        if stage not in out:
            out.append(stage)
    return out or None


def next_monday(day: dt.date) -> dt.date:
    """The first Monday after ``day`` (a Monday gives the one a week later)."""
    return day + dt.timedelta(days=7 - day.weekday())


def _flow_for(lib: Library, r: Resolved, stage: str) -> str | None:
    ids = r.sequence_ids + [s.id for s in lib.sequences.sequences if s.id not in r.sequence_ids]
    # a flow made for the stage (listed first in its stages) before one it shares with another stage
    own = [i for i in ids if lib.sequences.get(i).stages[0] == stage]
    return next(iter(own), None) or next((i for i in ids if stage in lib.sequences.get(i).stages), None)


def _reach(r: Resolved, data: ScoreResult | None, stage: str, channel: str) -> str:
    rows = {row.group: row for row in data.scoring.scorecard.by_lifecycle} if data is not None else {}
    row = rows.get(stage)
    measured = {"email": row.email_reachable, "sms": row.sms_reachable} if row is not None else {}
    if measured.get(channel) is not None:
        return f"{measured[channel]:,} with consent"
    rate = next((c.opt_in_rate for c in r.channels if c.channel == channel), None)
    if rate is None:
        return "-"
    return f"{rate * 100:.0f}% opt-in ({r.origin.get('channels', 'default')})"


def build_calendar(
    lib: Library,
    r: Resolved,
    data: ScoreResult | None,
    start: dt.date | None = None,
    weeks: int = DEFAULT_WEEKS,
    stages: list[str] | None = None,
) -> CampaignCalendar:
    """The first pass of each stage's flow on dated weeks from ``start`` (default: the Monday after the as-of
    date; undated without orders), with the frequency caps kept."""
    if weeks < 1 or weeks > 104:
        raise InputError(f"--weeks {weeks}: give 1 to 104 weeks")
    if start is not None:
        basis = "given"
    elif data is not None:
        start = next_monday(data.scoring.as_of)
        basis = f"the Monday after the data's as-of date {data.scoring.as_of.isoformat()}"
    else:
        basis = "undated: no start date and no orders; give a start date to date the weeks"
    chosen = stage_order(r) if stages is None else [s for s in stages if s in STAGES]
    sizes = (
        {row.group: row.customers for row in data.scoring.scorecard.by_lifecycle} if data is not None else {}
    )
    timings = timings_for(lib, r, data)
    left = LeftOut(r)
    caps = {c.name: c for c in lib.consent.frequency_caps}
    g = lib.offers.guardrails
    sends: list[CalendarSend] = []
    flows: list[tuple[str, str]] = []
    moved: list[str] = []
    later: list[str] = []
    horizon = weeks * 7
    for stage in chosen:
        seq_id = _flow_for(lib, r, stage)
        if seq_id is None:
            continue
        flow = sequences(lib, r, [seq_id], timings, left)[0]
        flows.append((stage, flow.name))
        if not flow.steps:
            continue
        first = min(step.day for step in flow.steps)
        last_day: dict[str, list[int]] = {}
        last_discount: int | None = None
        for step in sorted(flow.steps, key=lambda s: s.day):
            day = step.day - first
            cap = caps.get(step.channel)
            sent = last_day.setdefault(step.channel, [])
            wanted = day
            if cap is not None and cap.min_hours_between and sent:
                day = max(day, sent[-1] + math.ceil(cap.min_hours_between / 24))
            if cap is not None and cap.max_per_30_days:
                while len([d for d in sent if day - 30 < d <= day]) >= cap.max_per_30_days:
                    day = min(d for d in sent if day - 30 < d <= day) + 30
            what = f"{stage}: {flow.name} - {step.content} ({step.channel})"
            if day != wanted:
                moved.append(f"{what}: moved from day {wanted} to day {day} to keep the {step.channel} cap")
            if any(w in step.content.lower() for w in DISCOUNT_WORDS):
                if last_discount is not None and day - last_discount < 90:
                    moved.append(
                        f"{what}: dropped - a second discounted send within 90 days "
                        f"(at most {g.max_discounted_sends_per_customer_90d}, knowledge/offers.yaml)"
                    )
                    continue
                last_discount = day
            if day >= horizon:
                later.append(f"{what}: day {day}, after week {weeks}")
                continue
            sent.append(day)
            sends.append(
                CalendarSend(
                    week=day // 7 + 1,
                    day=day,
                    date=(start + dt.timedelta(days=day)).isoformat() if start is not None else None,
                    stage=stage,
                    flow=flow.name,
                    channel=step.channel,
                    content=step.content,
                    customers=sizes.get(stage, 0) if data is not None else None,
                    reachable=_reach(r, data, stage, step.channel),
                )
            )
    sends.sort(key=lambda s: (s.day, chosen.index(s.stage), s.channel))
    cap_lines = [
        f"{c.name}: {c.detail}" for c in lib.consent.frequency_caps if c.name in {s.channel for s in sends}
    ]
    for _stage, name in flows:
        seq = next(q for q in lib.sequences.sequences if q.name == name)
        cap_lines += [f"{name}: {rule}" for rule in seq.send_rules]
    cap_lines.append(
        f"discounts: at most {g.max_discounted_sends_per_customer_90d} discounted send per customer in 90 days; "
        f"never for the {' or '.join(g.never_discount_stages)} stages"
    )
    note = (
        "On the start date the customers already in each stage start its flow; the days between steps are the "
        "flow's own. After this first pass each flow runs on its trigger for customers entering the stage (see "
        "the sequence outlines). Nothing is scheduled or sent: a person approves each send."
    )
    return CampaignCalendar(
        start=start.isoformat() if start is not None else None,
        start_basis=basis,
        weeks=weeks,
        stages=chosen,
        flows=flows,
        sends=sends,
        caps=cap_lines,
        moved=moved,
        later=later,
        note=note,
    )
