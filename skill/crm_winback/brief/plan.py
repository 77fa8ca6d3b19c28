"""Plan the CRM segment & winback brief: context + knowledge (+ scored orders) -> a :class:`BriefPlan`.

Everything the brief says is decided here as data; the template only lays it out. Sizes and the trigger
timing come from the scored orders when given, otherwise from the resolved (stated) assumptions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..api import ScoreResult
from ..lifecycle import lifecycle_rules
from ..models.documents import Slot
from ..scoring.predicted import ModelOutlook
from ..scoring.scorecard import ScorecardRow
from ..scoring.segment_map import load_segment_map
from .answers import KeyAnswer, key_answers
from .assumptions import Assumption, Resolved
from .engagement import engagement_lines
from .fit import LeftOut
from .guardrails import DiscountGuardrails, discount_guardrails, segment_aovs
from .library import CHANNELS, STAGES, Library, StageMessages
from .measures import Measures
from .priority import ValueAtRisk, value_at_risk
from .timings import Timings, build_timings

Level = Literal["high", "medium", "low"]
_DOWN: dict[Level, Level] = {"high": "medium", "medium": "low", "low": "low"}


class Certainty(BaseModel):
    level: Level
    basis: str
    reasons: list[str]


class FrameworkRow(BaseModel):
    segment: str
    codes: str
    description: str
    action: str


class StageRow(BaseModel):
    stage: str
    definition: str
    campaign_type: str
    customers: int | None
    share: float | None
    revenue_share: float | None
    aov: float | None
    median_days_since: float | None
    high_risk_share: float | None
    email_reachable: int | None
    sms_reachable: int | None


class TriggerRow(BaseModel):
    name: str
    stage: str
    signal: str
    day: int
    timing: str
    offer_type: str
    channels: list[str]
    stop_condition: str


class WinbackTimingRow(BaseModel):
    """Model estimate for one RFM segment: days from the last order to the BG/NBD winback date."""

    segment: str
    customers: int
    mean_p_alive: float
    p25: float | None
    median: float | None
    p75: float | None
    shop_level_share: float
    passed_share: float


class WinbackModel(BaseModel):
    """The model's winback timing per segment, or why the brief times triggers by the cycle instead."""

    available: bool
    threshold: float | None
    rows: list[WinbackTimingRow]
    note: str
    statement: str  # which source times the triggers, and why (from timings.choose)
    model: str = "BG/NBD"  # the model that gave the dates (the backtest's forecaster)
    one_time: str = "one-time buyers all share the shop-level date"  # how one-time buyers are dated


class MatrixCellOut(BaseModel):
    channel: str
    score: int | None
    reason: str


class MatrixRow(BaseModel):
    stage: str
    campaign_type: str
    cells: list[MatrixCellOut]
    best: str


class Idea(BaseModel):
    stage: str
    angle: str
    offers: list[str]
    discount: str
    email_subjects: list[str]
    sms: str | None
    push: str | None
    wechat: str | None
    direct_mail: str | None


class StepOut(BaseModel):
    day: int
    channel: str
    content: str
    goal: str


class SequenceOut(BaseModel):
    name: str
    trigger: str
    goal: str
    exit_when: str
    steps: list[StepOut]
    note: str = ""


class KpiRow(BaseModel):
    name: str
    level: str
    definition: str
    benchmark: str
    source: str


class NextStep(BaseModel):
    action: str
    approval: str


class Facts(BaseModel):
    """The resolved context as display rows: field, value, origin."""

    rows: list[tuple[str, str, str]]


class BriefPlan(BaseModel):
    kind: Literal["brief"] = "brief"
    backtest_lines: list[str] = []
    title: str
    brand: str
    business: str
    business_note: str
    goal: str
    region: str
    cycle_days: int
    cycle_origin: str
    certainty: Certainty
    facts: Facts
    framework: list[FrameworkRow]
    stages: list[StageRow]
    measured: bool
    churn_risk_basis: str
    rfm_rows: list[ScorecardRow]
    operator: list[str]  # the operator's own definitions, counted
    risk: ValueAtRisk | None
    guardrails: DiscountGuardrails | None  # the deepest discount each RFM segment's expected value covers
    cross_stages: list[str]
    cross: list[CrossRow]  # RFM segment x lifecycle stage
    cross_notes: list[str]  # where a segment and a stage share a name but not their customers
    crowded: list[str]  # scores holding more than half the customers, with what to do
    triggers: list[TriggerRow]
    winback_model: WinbackModel
    matrix: list[MatrixRow]
    consent_basis: str
    ideas: list[Idea]
    product_ideas: list[str] = []  # from the shop's line items (products.product_ideas)
    sequences: list[SequenceOut]
    kpis: list[KpiRow]
    holdout: str
    benchmark_caveat: str
    consent: list[tuple[str, str, str]]
    frequency_caps: list[tuple[str, str]]
    assumptions: list[Assumption]
    data_notes: list[str]
    next_steps: list[NextStep]
    key_questions: list[str]
    answers: list[KeyAnswer]  # the key questions, answered from the orders where they can be
    slots: list[Slot]
    left_out: list[str] = []  # the playbook rows that do not fit this business, and why (fit.LeftOut)
    engagement: list[str] = []  # engagement tiers and the sunset rule, or why engagement is unknown


def certainty(data: ScoreResult | None) -> Certainty:
    """Notes only -> low; with orders, the scoring's confidence, one level lower when amounts are missing."""
    if data is None:
        return Certainty(
            level="low",
            basis="notes only (no order data)",
            reasons=[
                "no orders were analysed: sizes, cycle and rates are the operator's notes or stated defaults"
            ],
        )
    q = data.quality
    level: Level = q.confidence
    reasons = list(q.confidence_reasons)
    if not q.monetary_available:
        level = _DOWN[level]
        reasons.append("no order amounts: value-based segments and AOV are not measured")
    basis = "full order data" if level == "high" else "partial order data"
    return Certainty(
        level=level, basis=f"{basis} ({q.customers:,} customers, {q.history_days} days)", reasons=reasons
    )


def facts(r: Resolved) -> Facts:
    def money(x: float) -> str:
        return f"{x:,.2f} {r.currency}"

    rows: list[tuple[str, str, str]] = [
        ("business", r.business_label, r.origin.get("business_type", "default")),
        *([("business shape in the orders", r.shape, "measured")] if r.shape else []),
        ("vertical", r.vertical, r.origin.get("vertical", "default")),
        ("region", r.region, r.origin.get("region", "default")),
        ("goal", r.goal_label, r.origin.get("goal", "default")),
        *([("lifecycle focus", r.lifecycle_focus, "given")] if r.lifecycle_focus else []),
        ("customers", f"{r.customers:,}", r.origin["customers"]),
        ("average order value", money(r.aov), r.origin["aov"]),
        ("repeat rate", f"{r.repeat_rate * 100:.1f}%", r.origin["repeat_rate"]),
        ("orders per customer per year", f"{r.orders_per_year:g}", r.origin["orders_per_year"]),
        ("repurchase cycle", f"{r.cycle_days:g} days", r.origin["cycle_days"]),
        ("lapsed after", f"{r.lapse_days} days", r.origin.get("lapse_days", "default")),
        ("gross margin", f"{r.gross_margin * 100:.0f}%", r.origin["gross_margin"]),
        ("deepest discount allowed", f"{r.max_discount * 100:.0f}%", r.origin["max_discount"]),
    ]
    for c in r.channels:
        rows.append(
            (
                f"channel: {c.channel}",
                f"{c.tool}, {c.opt_in_rate * 100:.0f}% opt-in",
                r.origin.get("channels", "default"),
            )
        )
    return Facts(rows=rows)


def goal_shown(r: Resolved) -> str:
    """The goal as the document's first lines state it: an assumed goal says so there, not only in the table."""
    if r.origin.get("goal") == "given":
        return r.goal_label
    return f"{r.goal_label} (assumed: no goal was given - confirm it or name yours; see Assumptions)"


def stage_order(r: Resolved) -> list[str]:
    return r.priority_stages + [s for s in STAGES if s not in r.priority_stages]


def _campaign_types(lib: Library) -> dict[str, str]:
    return {c.stage: c.campaign_type for c in lib.channels.matrix}


def stage_definitions(lib: Library, r: Resolved) -> dict[str, str]:
    """The stage definitions the documents print: the operator's lapse threshold replaces the cycle multiples."""
    defs = {s.stage: s.description for s in lifecycle_rules().stages}
    t = build_timings(lib, r)
    if t.lapse_basis == "given":
        at_risk, lapsed, churned = t.windows
        defs["at-risk"] = (
            f"no order for {at_risk.start} to {lapsed.start - 1} days: past the usual gap, before your lapse "
            "threshold"
        )
        defs["lapsed"] = f"no order for {lapsed.start} to {churned.start - 1} days (your lapse threshold)"
        defs["churned"] = f"no order for {churned.start} days or more (twice your lapse threshold)"
    return defs


def operator_lines(r: Resolved, data: ScoreResult | None, measures: Measures | None) -> list[str]:
    """The operator's own definitions, each with its count on this export (or why there is none)."""
    out = []
    if r.origin.get("lapse_days") == "given" and data is not None:
        if measures is None or measures.lapsed_customers is None:
            out.append(
                f"Your lapse threshold ({r.lapse_days} days) cannot be counted from a scores file: the stage "
                "sizes below use the repurchase cycle; give --orders to count your definition."
            )
        else:
            stages = {row.group: row.customers for row in data.scoring.scorecard.by_lifecycle}
            share = measures.lapsed_revenue_share
            out.append(
                f"{measures.lapsed_customers:,} "
                + ("customer has" if measures.lapsed_customers == 1 else "customers have")
                + f" not ordered in {r.lapse_days}+ days"
                + (f" ({share * 100:.1f}% of revenue)" if share is not None else "")
                + f": {stages.get('lapsed', 0):,} lapsed ({r.lapse_days} to {2 * r.lapse_days - 1} days) and "
                f"{stages.get('churned', 0):,} churned ({2 * r.lapse_days}+ days)."
            )
            if measures.lapsed_revenue is not None and measures.lapsed_customers:
                out.append(
                    f"Their value: {measures.lapsed_revenue:,.0f} {r.currency} of net revenue over the export, "
                    f"{measures.lapsed_revenue / measures.lapsed_customers:,.2f} {r.currency} per customer."
                )
            out.append(threshold_timing(r, data))
    for seg in measures.operator if measures else []:
        if seg.customers is None:
            out.append(f"{seg.name} ({seg.definition or 'no definition'}): {seg.rule}; {seg.maps_to}.")
            continue
        of_revenue = f", {seg.revenue_share * 100:.1f}% of revenue" if seg.revenue_share is not None else ""
        out.append(
            f"{seg.name} ({seg.definition}): {seg.customers:,} customers{of_revenue}, read as the rule "
            f"'{seg.rule}'; "
            f"{seg.maps_to}."
        )
    if r.origin.get("lapse_days") == "given" and data is None:
        out.append(
            f"Your lapse threshold ({r.lapse_days} days) is not counted: no order data was given. "
            + threshold_timing(r, None)
        )
    if measures is None and r.existing_segments and data is None:
        out += [f"{name}: not counted - no order data was given." for name in r.existing_segments]
    return out


def threshold_timing(r: Resolved, data: ScoreResult | None) -> str:
    """How the operator's lapse threshold compares with the repurchase cycle (and the model's winback date)."""
    cycle = r.cycle_days
    ratio = r.lapse_days / cycle
    origin = r.origin.get("cycle_days", "default")
    if ratio < 1:
        read = (
            "it comes before the usual gap between orders, so many of these customers are simply not due yet; "
            f"a threshold of {round(2 * cycle)} days (two cycles) waits until they have missed a reorder"
        )
    elif ratio <= 3:
        read = "it falls after customers have missed their usual reorder, in time to reach them"
    else:
        read = (
            "it waits more than three usual gaps, so the winback starts late; reach them earlier with the "
            f"re-engagement flow from day {round(cycle)} (the at-risk stage)"
        )
    line = (
        f"Timing: your {r.lapse_days}-day threshold is {ratio:.1f}x the repurchase cycle of {cycle:g} days "
        f"({origin}): {read}."
    )
    model, _why = fitted_model(data)
    overall = model.overall if model is not None else None
    if overall is not None and overall.winback_days_median is not None:
        days = round(overall.winback_days_median)
        gap = days - r.lapse_days
        where = (
            f"{abs(gap):,} day{'s' if abs(gap) != 1 else ''} {'after' if gap > 0 else 'before'} your threshold"
            if gap
            else "your threshold"
        )
        line += (
            f" The BG/NBD model's median winback date is {days:,} days after the last order, {where} (a model "
            "estimate)."
        )
    return line


class CrossRow(BaseModel):
    segment: str
    counts: list[int]  # customers per stage, in the order of BriefPlan.cross_stages


def cross_rows(
    r: Resolved, data: ScoreResult | None, measures: Measures | None
) -> tuple[list[str], list[CrossRow], list[str]]:
    """RFM segments against lifecycle stages, and a sentence for each name the two share but not customers."""
    if data is None or measures is None or not measures.crosstab:
        return [], [], []
    stages = stage_order(r)
    rows = [
        CrossRow(segment=row.group, counts=[measures.crosstab.get(row.group, {}).get(st, 0) for st in stages])
        for row in data.scoring.scorecard.by_segment
        if row.customers
    ]
    notes = []
    sizes = {row.group: row.customers for row in data.scoring.scorecard.by_lifecycle}
    for row in rows:
        stage = next((st for st in stages if st.replace("-", " ").lower() == row.segment.lower()), None)
        if stage is None:
            continue
        both = row.counts[stages.index(stage)]
        total = sum(row.counts)
        if both * 2 < total:
            where = ", ".join(f"{n:,} {st}" for st, n in zip(stages, row.counts, strict=True) if n)
            notes.append(
                f"RFM {row.segment} ({total:,}) and the {stage} stage ({sizes.get(stage, 0):,}) share {both:,} "
                f"customers: RFM {row.segment} are {where} by stage. The segment scores recency in fixed bands "
                "and frequency and spend over the whole history; the stage measures days since the last order "
                "against the shop's cycle. Time flows by the stage; choose the message and offer by the segment."
            )
    return stages, rows, notes


def stage_rows(lib: Library, r: Resolved, data: ScoreResult | None) -> list[StageRow]:
    defs = stage_definitions(lib, r)
    measured = {row.group: row for row in data.scoring.scorecard.by_lifecycle} if data else {}
    types = _campaign_types(lib)
    rows = []
    for stage in stage_order(r):
        m = measured.get(stage)
        rows.append(
            StageRow(
                stage=stage,
                definition=defs.get(stage, ""),
                campaign_type=types[stage],
                customers=m.customers if m else (0 if data else None),
                share=m.share if m else (0.0 if data else None),
                revenue_share=m.revenue_share if m else None,
                aov=m.aov if m else None,
                median_days_since=m.median_days_since_last_order if m else None,
                high_risk_share=round(m.churn_risk_high / m.customers, 4) if m and m.customers else None,
                email_reachable=m.email_reachable if m else None,
                sms_reachable=m.sms_reachable if m else None,
            )
        )
    return rows


def framework() -> list[FrameworkRow]:
    smap = load_segment_map()
    codes: dict[str, list[str]] = {}
    for code, seg in smap.code_to_segment().items():
        codes.setdefault(seg, []).append(code)
    rules: dict[str, list[str]] = {}
    for rule in smap.rules:
        rules.setdefault(rule.segment, []).append(
            f"R{rule.r[0]}-{rule.r[1]} F{rule.f[0]}-{rule.f[1]} M{rule.m[0]}-{rule.m[1]}"
        )
    return [
        FrameworkRow(
            segment=s.name,
            codes=f"{'; '.join(rules[s.name])} ({len(codes[s.name])} codes)",
            description=s.description,
            action=s.action,
        )
        for s in smap.segments
    ]


def fitted_model(data: ScoreResult | None) -> tuple[ModelOutlook | None, str]:
    """The BG/NBD outlook of the scored data when the fit was adequate, else None and why not."""
    if data is None:
        return None, "no order data was given, so there are no BG/NBD predictions"
    model = data.scoring.predictions
    if model is None:
        return None, "the scores were made without --predict, so there are no BG/NBD predictions"
    if model.overall is None:
        reason = (model.fallback_reason or "").removeprefix("BG/NBD: ")
        return None, f"the BG/NBD model could not be fitted: {reason}"
    return model, ""


def timings_for(lib: Library, r: Resolved, data: ScoreResult | None) -> Timings:
    """The one set of days every section of every document reads."""
    return build_timings(lib, r, fitted_model(data)[0])


def trigger_rows(
    lib: Library, r: Resolved, timings: Timings | None = None, left: LeftOut | None = None
) -> list[TriggerRow]:
    """The library's triggers that fit this business, each on the day :mod:`.timings` decided.

    A trigger lists only the channels usable here (in use, in the region, with consent); one with none left
    goes by email, the channel every flow falls back to.
    """
    timings = timings or build_timings(lib, r)
    left = left or LeftOut(r)
    avail = available_channels(lib, r)
    out = []
    for t in lib.triggers.triggers:
        if not left.keep(t, "triggers", t.name):
            continue
        tt = timings.triggers[t.id]
        timing = "on the event" if t.timing_days == 0 else f"day {tt.day} ({tt.basis})"
        out.append(
            TriggerRow(
                name=t.name,
                stage=t.stage,
                signal=t.signal,
                day=tt.day,
                timing=timing,
                offer_type=t.offer_type,
                channels=[ch for ch in t.channels if avail[ch][0]] or ["email"],
                stop_condition=t.stop_condition,
            )
        )
    order = stage_order(r)
    return sorted(out, key=lambda row: (order.index(row.stage), row.day, row.name))


def available_channels(lib: Library, r: Resolved) -> dict[str, tuple[bool, str, float]]:
    """channel -> (usable, why not / note, opt-in rate)."""
    info = {c.channel: c for c in lib.channels.channels}
    have = {c.channel: c for c in r.channels}
    out: dict[str, tuple[bool, str, float]] = {}
    for ch in CHANNELS:
        if ch not in have:
            out[ch] = (False, "not in use", 0.0)
        elif r.region not in info[ch].regions and ch != "wechat":
            out[ch] = (False, f"not used in {r.region}", 0.0)
        elif have[ch].opt_in_rate <= 0:
            out[ch] = (False, "no customer has consented", 0.0)
        else:
            out[ch] = (True, "", have[ch].opt_in_rate)
    if r.business_type == "marketplace":
        for ch in ("email", "sms"):
            if out[ch][0]:
                out[ch] = (True, "only the shop's own opted-in list; marketplace rules apply", out[ch][2])
    return out


def consent_basis(r: Resolved, data: ScoreResult | None) -> str:
    """Where the opt-in rates behind the channel scores come from, so no advice outruns the consent data."""
    columns = data.quality.consent_columns if data is not None else {}
    rates = ", ".join(f"{c.channel} {c.opt_in_rate * 100:.0f}%" for c in r.channels)
    # only a channel with its own consent column is measured; the others keep their stated rates
    found = {c.channel for c in r.channels if f"{c.channel}_consent" in columns}
    if found:
        got = ", ".join(f"{c.channel} {c.opt_in_rate * 100:.0f}%" for c in r.channels if c.channel in found)
        rest = ", ".join(
            f"{c.channel} {c.opt_in_rate * 100:.0f}%" for c in r.channels if c.channel not in found
        )
        return f"Opt-in rates are measured from the export's consent columns ({got})" + (
            f"; the export has no consent column for the others ({rest}: notes or defaults, not measured)."
            if rest
            else "."
        )
    origin = r.origin.get("channels", "default")
    assumed = any(a.field.startswith("channels.") for a in r.assumptions)
    where = (
        "defaults" if origin != "given" else ("your notes and stated defaults" if assumed else "your notes")
    )
    return (
        f"Opt-in rates ({rates}) are from {where}, not measured: "
        + ("the export has no consent columns" if data is not None else "no orders were given")
        + ". A channel scores here only for customers who consented to it; check each list's consent in the "
        "sending platform before any send."
    )


def matrix_rows(lib: Library, r: Resolved) -> list[MatrixRow]:
    avail = available_channels(lib, r)
    mins = {c.channel: c.min_opt_in_rate for c in lib.channels.channels}
    cells = {(c.stage, c.channel): c for c in lib.channels.matrix}
    rows = []
    for stage in stage_order(r):
        out = []
        for ch in CHANNELS:
            cell = cells[(stage, ch)]
            usable, note, rate = avail[ch]
            if not usable:
                out.append(MatrixCellOut(channel=ch, score=None, reason=note))
                continue
            score, reason = cell.score, cell.reason
            if rate < mins[ch] and score > 0:
                score -= 1
                reason += f"; opt-in {rate * 100:.0f}% is below {mins[ch] * 100:.0f}%"
            if note:
                reason += f"; {note}"
            out.append(MatrixCellOut(channel=ch, score=score, reason=reason))
        scored = [c for c in out if c.score is not None]
        best = (
            max(scored, key=lambda c: (c.score or 0, -CHANNELS.index(c.channel))).channel
            if scored
            else "none"
        )
        rows.append(
            MatrixRow(stage=stage, campaign_type=cells[(stage, "email")].campaign_type, cells=out, best=best)
        )
    return rows


def discount_for(lib: Library, r: Resolved, stage: str) -> str:
    g = lib.offers.guardrails
    if stage in g.never_discount_stages:
        return "none: this stage is never discounted"
    ladder = [step for step in lib.offers.discount_ladder if stage in step.stages]
    if not ladder:
        return "none: the ladder does not discount this stage; use the offers above"
    allowed = []
    for step in ladder:
        after = (r.gross_margin - step.discount) / (1 - step.discount)
        if step.discount <= r.max_discount + 1e-9 and after >= g.min_margin_after_discount - 1e-9:
            allowed.append(
                f"step {step.step}: {step.discount * 100:.0f}% off ({step.use_when}; margin after "
                f"discount {after * 100:.1f}%)"
            )
    if not allowed:
        return (
            f"none: no ladder step fits this stage within the {r.max_discount * 100:.0f}% limit and the "
            f"{g.min_margin_after_discount * 100:.0f}% margin floor"
        )
    return "; ".join(allowed)


def ideas(lib: Library, r: Resolved, left: LeftOut | None = None) -> list[Idea]:
    """Per stage: the message variant that fits the business, its offers and the discount the ladder allows."""
    left = left or LeftOut(r)
    avail = available_channels(lib, r)
    traits = frozenset(r.traits)
    offers = [o for o in lib.offers.non_discount if left.keep(o, "offers", o.name)]
    out = []
    skipped: dict[tuple[str, ...], list[StageMessages]] = {}
    for stage in stage_order(r):
        m = lib.messages.for_stage(stage, traits)
        assert m is not None  # MessageLibrary checks every stage has a variant for every business
        for variant in lib.messages.stages:
            if variant.stage == stage and not variant.fits(traits):
                skipped.setdefault(tuple(variant.needs), []).append(variant)

        def fill(text: str) -> str:
            return text.replace("{brand}", r.brand_name).replace("{link}", "[link]")

        out.append(
            Idea(
                stage=stage,
                angle=m.angle,
                offers=[f"{o.name}: {o.description}" for o in offers if stage in o.best_for],
                discount=discount_for(lib, r, stage),
                email_subjects=[fill(s) for s in m.email_subjects] if avail["email"][0] else [],
                sms=fill(m.sms) if avail["sms"][0] and m.sms is not None else None,
                push=m.push if avail["push"][0] else None,
                wechat=m.wechat if avail["wechat"][0] else None,
                direct_mail=m.direct_mail if avail["direct_mail"][0] else None,
            )
        )
    for needs, variants in skipped.items():
        where = "every stage" if len(variants) == len(STAGES) else ", ".join(v.stage for v in variants)
        left.keep(variants[0], "message copy", f"the {' + '.join(needs)} copy for {where}")
    return out


def sequences(
    lib: Library, r: Resolved, ids: list[str], timings: Timings | None = None, left: LeftOut | None = None
) -> list[SequenceOut]:
    """The flows' steps that fit the business, each on its day from :mod:`.timings`; a step for a channel not
    in use goes by email."""
    timings = timings or build_timings(lib, r)
    left = left or LeftOut(r)
    avail = available_channels(lib, r)
    names = {t.id: t.name for t in lib.triggers.triggers}
    out = []
    for seq_id in ids:
        seq = lib.sequences.get(seq_id)
        steps, moved, why = [], [], []
        kept = [st for st in seq.steps if left.keep(st, f"{seq.name} steps", st.content)]
        for st in kept:
            if st.trigger is not None:
                day = timings.day(st.trigger) + st.plus_days
            elif st.day is not None:
                day = st.day
            else:
                day = round((st.at_cycles or 0) * timings.cycle_days)
            channel = st.channel if avail[st.channel][0] else "email"
            if channel != st.channel and st.channel not in moved:
                moved.append(st.channel)
                why.append(f"{st.channel}: {avail[st.channel][1]}")
            steps.append(StepOut(day=day, channel=channel, content=st.content, goal=st.goal))
        note = f"Planned {' and '.join(moved)} steps go by email here ({'; '.join(why)})." if moved else ""
        if seq.send_rules:
            note = (note + " " if note else "") + "Send rules: " + "; ".join(seq.send_rules) + "."
        first = kept[0].trigger if kept else None
        starts = f"; starts with the '{names[first]}' trigger" if first is not None else ""
        out.append(
            SequenceOut(
                name=seq.name,
                trigger=seq.trigger + starts,
                goal=seq.goal,
                exit_when=seq.exit_when,
                steps=steps,
                note=note,
            )
        )
    return out


def kpis(lib: Library) -> list[KpiRow]:
    return [KpiRow(**k.model_dump()) for k in lib.kpis.kpis]


def consent(lib: Library, r: Resolved) -> list[tuple[str, str, str]]:
    used = {c.channel for c in r.channels}
    return [(c.channel, c.rule, c.source) for c in lib.consent.for_region(r.region) if c.channel in used]


def next_steps(r: Resolved) -> list[NextStep]:
    steps = [
        NextStep(action="Confirm or correct every assumption listed above", approval="CRM lead"),
        NextStep(
            action=f"Build the segments for the {', '.join(r.priority_stages[:3])} stages in "
            f"{r.channels[0].tool} and check their sizes",
            approval="CRM lead",
        ),
        NextStep(
            action="Approve each offer and discount step, and the discount budget",
            approval="finance + CRM lead",
        ),
        NextStep(action="Approve send frequency and the frequency caps across flows", approval="CRM lead"),
        NextStep(
            action="Review the copy, then switch each flow on by hand with a 10% random holdout",
            approval="CRM lead (a person switches flows on; nothing here sends)",
        ),
        NextStep(
            action="Check consent records and quiet hours for every channel used",
            approval="legal / compliance",
        ),
        NextStep(
            action="Read incremental revenue against the holdout after the first full cycle", approval="none"
        ),
    ]
    return steps


BRIEF_SLOTS = [
    Slot(
        id="summary",
        section="Summary",
        instruction="3-5 sentences: the situation, the priority stages and why, the first three actions. "
        "No promised results.",
    ),
    Slot(
        id="scorecard-reading",
        section="Segment health scorecard",
        instruction="2-3 sentences on which stages are largest, most valuable and most at risk; cite the table.",
    ),
    Slot(
        id="channel-notes",
        section="Channel suitability matrix",
        instruction="2 sentences on the channel mix given the opt-in rates and region rules.",
    ),
    Slot(
        id="campaign-ideas",
        section="Message and offer ideas",
        instruction="For each priority stage, adapt one subject line and the SMS to the brand voice; keep "
        "'Reply STOP to opt out' and 160 characters.",
    ),
]


def winback_model(
    lib: Library, r: Resolved, data: ScoreResult | None, timings: Timings
) -> tuple[WinbackModel, list[Assumption]]:
    """The per-segment model timing, or the cycle-based timing stated as an assumption."""
    model, why = fitted_model(data)
    if model is not None:
        rows = [
            WinbackTimingRow(
                segment=o.group,
                customers=o.customers,
                mean_p_alive=o.mean_p_alive,
                p25=o.winback_days_p25,
                median=o.winback_days_median,
                p75=o.winback_days_p75,
                shop_level_share=o.shop_level_share,
                passed_share=o.winback_passed_share,
            )
            for o in [*model.by_segment, *([model.overall] if model.overall else [])]
        ]
        note = (
            f"{model.forecast_model} fitted on the orders ({model.time_unit}); estimates, not promises - check "
            "them against the holdout group's reorders"
        )
        one_time = (
            "one-time buyers all share the shop-level date"
            if model.forecast_model == "BG/NBD"
            else "one-time buyers get their own date too"
        )
        return (
            WinbackModel(
                available=True,
                threshold=model.threshold,
                rows=rows,
                note=note,
                statement=timings.statement,
                model=model.forecast_model,
                one_time=one_time,
            ),
            [],
        )
    model_timed = {t.name for t in lib.triggers.triggers if t.winback_quantile is not None}
    timed = [t for t in trigger_rows(lib, r, timings) if t.name in model_timed]
    value = "; ".join(f"{t.name} {t.timing}" for t in timed)
    assumption = Assumption(
        field="winback_timing",
        value=value,
        why=f"repurchase-cycle multiples (knowledge/winback_triggers.yaml): {why}",
        how_to_check="give --orders with enough repeat buyers (or --scores from crm-winback score --predict) "
        "to time these triggers from the per-segment BG/NBD winback dates",
    )
    return WinbackModel(available=False, threshold=None, rows=[], note=why, statement=""), [assumption]


def backtest_lines(data: ScoreResult | None) -> list[str]:
    """The backtest's few lines (split, each model against recency alone, the choice, what each band meant)."""
    model = data.scoring.predictions if data is not None else None
    bt = model.backtest if model is not None else None
    return bt.summary_lines() if bt is not None else []


def churn_risk_basis(data: ScoreResult | None) -> str:
    """How the scorecard's churn risk was decided, in a few words (the backtest's detail is its own section)."""
    model = data.scoring.predictions if data is not None else None
    bt = model.backtest if model is not None else None
    if model is not None and model.churn_risk_method == "backtest" and bt is not None:
        return f"ranked by {bt.chosen}, the ranking that did best on the shop's own past (see the backtest below)"
    if data is not None and model is not None:
        return data.scoring.churn_risk_source
    model, why = fitted_model(data)
    if model is not None:
        bands = lifecycle_rules().churn_risk.p_alive
        return (
            f"BG/NBD P(alive), a model estimate: high below {bands.medium_from:g}, medium below "
            f"{bands.low_from:g} (knowledge/lifecycle.yaml)"
        )
    rules = lifecycle_rules().churn_risk
    return (
        f"heuristic: days since the last order against the expected gap, high above {rules.high_above:g}x; "
        f"{why}"
    )


def build_brief_plan(
    lib: Library, r: Resolved, data: ScoreResult | None, measures: Measures | None = None
) -> BriefPlan:
    """Decide every section of the brief."""
    cert = certainty(data)
    cross_stages, cross, cross_notes = cross_rows(r, data, measures)
    timings = timings_for(lib, r, data)
    timing, timing_assumptions = winback_model(lib, r, data, timings)
    left = LeftOut(r)
    triggers = trigger_rows(lib, r, timings, left)  # before the ideas: the left-out line follows the page
    stage_ideas = ideas(lib, r, left)
    slots = BRIEF_SLOTS
    risk = value_at_risk(r, data)
    if all(idea.sms is None for idea in stage_ideas):
        # no SMS copy is shown (no consent, or trade buyers): the writer is not asked to adapt one
        no_sms = "For each priority stage, adapt one subject line to the brand voice."
        slots = [
            s.model_copy(update={"instruction": no_sms}) if s.id == "campaign-ideas" else s for s in slots
        ]
    return BriefPlan(
        backtest_lines=backtest_lines(data),
        title=f"CRM segment & winback brief: {r.brand_name}",
        brand=r.brand_name,
        business=f"{r.business_label} ({r.vertical})",
        business_note=r.business_note,
        goal=goal_shown(r),
        region=r.region,
        cycle_days=round(r.cycle_days),
        cycle_origin=r.origin["cycle_days"],
        certainty=cert,
        facts=facts(r),
        framework=framework(),
        stages=stage_rows(lib, r, data),
        measured=data is not None,
        churn_risk_basis=churn_risk_basis(data),
        rfm_rows=data.scoring.scorecard.by_segment if data else [],
        operator=operator_lines(r, data, measures),
        risk=risk,
        guardrails=discount_guardrails(lib, r, segment_aovs(data), risk),
        cross_stages=cross_stages,
        cross=cross,
        cross_notes=cross_notes,
        crowded=measures.crowded_scores if measures else [],
        triggers=triggers,
        winback_model=timing,
        matrix=matrix_rows(lib, r),
        consent_basis=consent_basis(r, data),
        ideas=stage_ideas,
        product_ideas=measures.product_ideas if measures else [],
        sequences=sequences(lib, r, r.sequence_ids, timings, left),
        kpis=kpis(lib),
        holdout=lib.kpis.holdout,
        benchmark_caveat=lib.kpis.benchmark_caveat,
        consent=consent(lib, r),
        frequency_caps=[
            (c.name, c.detail)
            for c in lib.consent.frequency_caps
            if c.name not in CHANNELS or any(ch.channel == c.name for ch in r.channels)
        ],
        assumptions=r.assumptions + timing_assumptions,
        data_notes=r.data_notes + (data_quality_notes(data) if data else []),
        next_steps=next_steps(r),
        key_questions=lib.red_flags.key_questions,
        answers=key_answers(lib.red_flags.key_questions, r.currency, data, measures, risk),
        slots=slots,
        left_out=left.lines(),
        engagement=engagement_lines(data),
    )


def data_quality_notes(data: ScoreResult) -> list[str]:
    q = data.quality
    notes = [
        f"source: {q.file.replace(chr(92), '/').rsplit('/', 1)[-1]} ({q.layout_label}, {q.rows_used:,} of "
        f"{q.rows_read:,} rows used, {q.first_order_date} to {q.last_order_date})",
        f"scoring confidence: {q.confidence}"
        + (f" - {'; '.join(q.confidence_reasons)}" if q.confidence_reasons else ""),
    ]
    notes += [
        f"{e.reason}: {e.rows:,} rows {e.action}" + (f" ({e.note})" if e.note else "") for e in q.exclusions
    ]
    notes += list(q.notes) + list(data.scoring.notes)
    if not q.consent_columns:
        notes.append("no consent columns in the export: reachable counts per stage are unknown")
    return notes
