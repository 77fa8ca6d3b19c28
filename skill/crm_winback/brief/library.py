"""The playbook library: pydantic models for the brief builder's knowledge files and one accessor.

Each model validates one ``knowledge/*.yaml`` file (registered in ``crm_winback.knowledge.KNOWLEDGE_FILES``).
Validators check what a reviewer would otherwise have to: SMS copy fits 160 characters and carries an opt-out,
every lifecycle stage has triggers, messages and channel scores, discount steps rise.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from ..knowledge import KnowledgeModel, load_knowledge

Channel = Literal["email", "sms", "push", "wechat", "direct_mail"]
BusinessType = Literal["dtc", "marketplace", "subscription", "hybrid", "wholesale"]
Goal = Literal["reduce_churn", "increase_ltv", "reactivate_lapsed", "vip_loyalty", "winback_subscribers"]
Region = Literal["US", "EU", "UK", "CN", "other"]
# What a playbook row needs of the business to fit it (its `needs` field): subscription billing; customers who
# reorder the same goods on a rhythm (consumables, subscriptions, a wholesaler's stock); consumers rather than
# business buyers; business buyers. A row with no needs fits every business.
Need = Literal["subscription", "replenishment", "consumer", "wholesale"]
NEEDS: tuple[Need, ...] = ("subscription", "replenishment", "consumer", "wholesale")
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push", "wechat", "direct_mail")
# The campaign segments every document covers; the names are the lifecycle stages of knowledge/lifecycle.yaml.
STAGES = ("new", "active", "VIP", "at-risk", "lapsed", "churned")
# The longest sender name the SMS copy is checked against (the Context limits brand_name to this).
BRAND_BUDGET = 20
LINK_BUDGET = 23  # a shortened tracking link such as https://brnd.co/a1b2c3d
SMS_LIMIT = 160
OPT_OUT_WORDS = ("STOP", "opt out", "opt-out", "unsubscribe")


class Source(KnowledgeModel):
    title: str
    url: str | None = None
    note: str = ""


def traits_for(business_type: str, replenishes: bool) -> frozenset[Need]:
    """The needs a business of this type meets; ``replenishes``: its products are used up and reordered."""
    traits: set[Need] = {"wholesale"} if business_type == "wholesale" else {"consumer"}
    if business_type in ("subscription", "hybrid"):
        traits.add("subscription")
    if replenishes or "subscription" in traits or "wholesale" in traits:
        traits.add("replenishment")
    return frozenset(traits)


# Every combination of needs a business can meet: the rows of each stage must cover all of them.
ALL_TRAITS = sorted({traits_for(b, rep) for b in get_args(BusinessType) for rep in (True, False)}, key=sorted)


class Fitted(KnowledgeModel):
    """A playbook row that fits only some businesses (``needs``: what the business must be)."""

    needs: list[Need] = Field(default_factory=list, description="what the business must be for this row")

    def fits(self, traits: frozenset[str]) -> bool:
        return all(n in traits for n in self.needs)


def _has_stages(present: set[str], where: str) -> None:
    missing = [s for s in STAGES if s not in present]
    if missing:
        raise ValueError(f"{where}: no entry for lifecycle stage(s) {', '.join(missing)}")


# --- business_profiles.yaml -------------------------------------------------------------------------------


class VerticalProfile(KnowledgeModel):
    vertical: str
    aliases: list[str] = Field(default_factory=list)
    repurchase_cycle_days: int = Field(gt=0)
    aov: float = Field(gt=0)
    repeat_rate: float = Field(gt=0, lt=1)
    orders_per_year: float = Field(gt=0)
    gross_margin: float = Field(gt=0, lt=1)
    replenishes: bool = Field(description="its products are used up and reordered on a rhythm")
    why: str


class BusinessTypeProfile(KnowledgeModel):
    business_type: BusinessType
    label: str
    note: str


class GoalProfile(KnowledgeModel):
    goal: Goal
    label: str
    priority_stages: list[str] = Field(min_length=3, description="the stages a brief leads with, in order")
    sequences: list[str] = Field(min_length=1, description="the flows the brief details, in order")


class FocusProfile(KnowledgeModel):
    focus: Literal["onboarding", "retention", "winback", "vip"]
    stages: list[str] = Field(min_length=1, description="the stages that lead, before the goal's")
    sequences: list[str] = Field(
        min_length=1, description="the flows the brief details instead of the goal's"
    )


class ChannelDefault(KnowledgeModel):
    channel: Channel
    tool: str
    opt_in_rate: float = Field(ge=0, le=1)


class ProfileDefaults(KnowledgeModel):
    vertical: str
    business_type: BusinessType
    region: Region
    goal: Goal
    customers: int = Field(gt=0)
    max_discount: float = Field(ge=0, lt=1)
    currency: str
    channels: list[ChannelDefault] = Field(min_length=1)
    brand_name: str = Field(max_length=BRAND_BUDGET)


class WholesaleShape(KnowledgeModel):
    min_aov_multiple: float = Field(gt=1)
    min_repeat_rate: float = Field(gt=0, lt=1)


class SubscriptionShape(KnowledgeModel):
    min_repeat_rate: float = Field(gt=0, lt=1)
    min_orders_per_year: float = Field(gt=0)


class Shapes(KnowledgeModel):
    wholesale: WholesaleShape
    subscription: SubscriptionShape


class BusinessProfiles(KnowledgeModel):
    defaults: ProfileDefaults
    shapes: Shapes
    verticals: list[VerticalProfile] = Field(min_length=1)
    business_types: list[BusinessTypeProfile] = Field(min_length=1)
    goals: list[GoalProfile] = Field(min_length=1)
    lifecycle_focus: list[FocusProfile] = Field(min_length=1)
    sources: list[Source]

    @model_validator(mode="after")
    def _default_vertical_exists(self) -> BusinessProfiles:
        if self.defaults.vertical not in {v.vertical for v in self.verticals}:
            raise ValueError(f"defaults.vertical: '{self.defaults.vertical}' is not one of the verticals")
        for i, g in enumerate(self.goals):
            unknown = [s for s in g.priority_stages if s not in STAGES]
            if unknown:
                raise ValueError(f"goals[{i}].priority_stages: unknown stage(s) {', '.join(unknown)}")
        if sorted(g.goal for g in self.goals) != sorted(get_args(Goal)):
            raise ValueError(f"goals: give each of {', '.join(get_args(Goal))} once")
        if {b.business_type for b in self.business_types} != set(get_args(BusinessType)):
            raise ValueError(f"business_types: give each of {', '.join(get_args(BusinessType))} once")
        return self

    def find_vertical(self, name: str) -> VerticalProfile | None:
        key = name.strip().lower()
        for v in self.verticals:
            if key == v.vertical or key in v.aliases:
                return v
        return None

    def business_type(self, name: BusinessType) -> BusinessTypeProfile:
        return next(b for b in self.business_types if b.business_type == name)

    def goal(self, name: Goal) -> GoalProfile:
        return next(g for g in self.goals if g.goal == name)

    def focus(self, name: str) -> FocusProfile | None:
        return next((f for f in self.lifecycle_focus if f.focus == name), None)


# --- winback_triggers.yaml ---------------------------------------------------------------------------------


class Trigger(Fitted):
    id: str
    name: str
    stage: str
    signal: str
    timing_cycles: float | None = Field(default=None, gt=0, description="days = cycles x repurchase cycle")
    timing_days: int | None = Field(default=None, ge=0, description="a fixed delay, for event triggers")
    starts_at: Literal["lapse", "churn"] | None = Field(
        default=None, description="where its stage starts: the lapse threshold, or twice it (churned)"
    )
    winback_quantile: float | None = Field(
        default=None, description="with predictions: this quartile of the stage's days to the winback date"
    )
    offer_type: str
    channels: list[Channel] = Field(min_length=1)
    stop_condition: str
    source: str

    @model_validator(mode="after")
    def _one_timing(self) -> Trigger:
        given = [x for x in (self.timing_cycles, self.timing_days, self.starts_at) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of timing_cycles, timing_days and starts_at")
        if self.winback_quantile is not None and self.starts_at is None:
            raise ValueError("winback_quantile: only a trigger with starts_at can be compared with the model")
        if self.winback_quantile not in (None, 0.25, 0.5, 0.75):
            raise ValueError("winback_quantile must be 0.25, 0.5 or 0.75 (the quartiles the model reports)")
        return self


class TriggerLibrary(KnowledgeModel):
    min_days: int = Field(ge=1)
    triggers: list[Trigger] = Field(min_length=1)
    sources: list[Source]

    @model_validator(mode="after")
    def _covers_stages(self) -> TriggerLibrary:
        _has_stages({t.stage for t in self.triggers}, "triggers")
        return self


# --- channels.yaml -------------------------------------------------------------------------------------------


class ChannelInfo(Fitted):
    channel: Channel
    label: str
    tools: list[str]
    strengths: str
    limits: str
    min_opt_in_rate: float = Field(ge=0, le=1, description="below this the channel scores one point less")
    regions: list[Region] = Field(min_length=1)


class MatrixCell(KnowledgeModel):
    stage: str
    campaign_type: str
    channel: Channel
    score: int = Field(ge=0, le=5)
    reason: str


class ChannelMatrix(KnowledgeModel):
    channels: list[ChannelInfo] = Field(min_length=1)
    matrix: list[MatrixCell] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> ChannelMatrix:
        seen = {(c.stage, c.channel) for c in self.matrix}
        missing = [f"{s}/{ch}" for s in STAGES for ch in CHANNELS if (s, ch) not in seen]
        if missing:
            raise ValueError(f"matrix: no score for {', '.join(missing)}")
        if len(seen) != len(self.matrix):
            raise ValueError("matrix: a stage/channel pair appears twice")
        return self


# --- offers.yaml ---------------------------------------------------------------------------------------------


class Offer(Fitted):
    id: str
    name: str
    description: str
    margin_cost: str
    best_for: list[str] = Field(min_length=1)


class DiscountStep(KnowledgeModel):
    step: int = Field(ge=1)
    discount: float = Field(gt=0, lt=1)
    use_when: str
    stages: list[str] = Field(min_length=1)


class MarginGuardrails(KnowledgeModel):
    min_margin_after_discount: float = Field(gt=0, lt=1)
    max_discounted_sends_per_customer_90d: int = Field(ge=0)
    never_discount_stages: list[str]
    min_p_not_returning: float = Field(
        ge=0,
        le=1,
        description="a segment is discounted only when at least this share is not expected to return",
    )
    rule: str


class OfferLibrary(KnowledgeModel):
    non_discount: list[Offer] = Field(min_length=1)
    discount_ladder: list[DiscountStep] = Field(min_length=1)
    guardrails: MarginGuardrails

    @model_validator(mode="after")
    def _ladder_rises(self) -> OfferLibrary:
        values = [s.discount for s in self.discount_ladder]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError("discount_ladder: discounts must rise strictly from step to step")
        return self


# --- messages.yaml -------------------------------------------------------------------------------------------


class StageMessages(Fitted):
    stage: str
    angle: str
    email_subjects: list[str] = Field(min_length=2)
    sms: str | None = Field(description="null: no SMS copy for the businesses this variant fits")
    push: str = Field(max_length=120)
    wechat: str
    direct_mail: str

    @model_validator(mode="after")
    def _sms_rules(self) -> StageMessages:
        if self.sms is None:
            if "wholesale" not in self.needs:
                raise ValueError("sms: only a variant for wholesale (needs: [wholesale]) may leave SMS out")
            return self
        longest = self.sms.replace("{brand}", "X" * BRAND_BUDGET).replace("{link}", "L" * LINK_BUDGET)
        if len(longest) > SMS_LIMIT:
            raise ValueError(
                f"sms: {len(longest)} characters with a {BRAND_BUDGET}-character brand and a "
                f"{LINK_BUDGET}-character link; keep it within {SMS_LIMIT}"
            )
        if not any(w.lower() in self.sms.lower() for w in OPT_OUT_WORDS):
            raise ValueError("sms: no opt-out; end the copy with 'Reply STOP to opt out'")
        return self


class MessageLibrary(KnowledgeModel):
    stages: list[StageMessages] = Field(min_length=1)

    @model_validator(mode="after")
    def _covers_stages(self) -> MessageLibrary:
        _has_stages({m.stage for m in self.stages}, "stages")
        for stage in STAGES:
            for traits in ALL_TRAITS:
                if self.for_stage(stage, traits) is None:
                    raise ValueError(
                        f"stages: no message variant for stage {stage} fits a business that is "
                        f"{', '.join(sorted(traits))}; add one with fewer needs"
                    )
        return self

    def for_stage(self, stage: str, traits: frozenset[str]) -> StageMessages | None:
        """The first variant of the stage whose needs the business meets (list specific variants first)."""
        return next((m for m in self.stages if m.stage == stage and m.fits(traits)), None)


# --- sequences.yaml ------------------------------------------------------------------------------------------


class SequenceStep(Fitted):
    day: int | None = Field(default=None, ge=0, description="days after the sequence's own event")
    at_cycles: float | None = Field(default=None, ge=0, description="day = cycles x repurchase cycle")
    trigger: str | None = Field(
        default=None, description="on the day of this trigger (winback_triggers.yaml)"
    )
    plus_days: int = Field(default=0, ge=0, description="days after that trigger's day")
    channel: Channel
    content: str
    goal: str

    @model_validator(mode="after")
    def _one_timing(self) -> SequenceStep:
        if sum(x is not None for x in (self.day, self.at_cycles, self.trigger)) != 1:
            raise ValueError("give exactly one of day, at_cycles and trigger")
        if self.plus_days and self.trigger is None:
            raise ValueError("plus_days: only with trigger")
        return self


class Sequence(KnowledgeModel):
    id: str
    name: str
    trigger: str
    goal: str
    exit_when: str
    stages: list[str] = Field(min_length=1)
    steps: list[SequenceStep] = Field(min_length=1)
    send_rules: list[str] = Field(
        default_factory=list, description="consent, quiet hours and other rules every send of the flow keeps"
    )


class SequenceLibrary(KnowledgeModel):
    sequences: list[Sequence] = Field(min_length=1)

    def get(self, seq_id: str) -> Sequence:
        return next(s for s in self.sequences if s.id == seq_id)


# --- kpis.yaml -----------------------------------------------------------------------------------------------


class Kpi(KnowledgeModel):
    name: str
    level: Literal["outcome", "campaign", "guardrail"]
    definition: str
    benchmark: str
    source: str


class KpiFramework(KnowledgeModel):
    kpis: list[Kpi] = Field(min_length=1)
    holdout: str
    benchmark_caveat: str
    sources: list[Source]


# --- ltv_levers.yaml -----------------------------------------------------------------------------------------


class Lever(Fitted):
    id: str
    name: str
    driver: str
    assumed_change: str
    share: float = Field(ge=0, lt=1, description="share of the group's customers who respond")
    per: Literal["order", "year"] = Field(description="each worth one order, or one year of revenue")
    margin_points: float = Field(description="change in gross margin, percentage points of revenue")
    programme_cost_share: float = Field(ge=0, description="running cost as a share of the revenue lift")
    horizon: Literal["short", "medium", "long"]
    stages: list[str] = Field(min_length=1)
    tactics: list[str] = Field(min_length=1)
    metric: str
    owner: str
    goals: list[Goal] = Field(min_length=1)


class LtvLevers(KnowledgeModel):
    levers: list[Lever] = Field(min_length=1)
    diagnosis: dict[str, str]
    limits: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _covers(self) -> LtvLevers:
        _has_stages(set(self.diagnosis), "diagnosis")
        if {lv.horizon for lv in self.levers} != {"short", "medium", "long"}:
            raise ValueError("levers: need at least one short, one medium and one long horizon lever")
        return self


# --- crm_programme.yaml --------------------------------------------------------------------------------------


class JourneyStage(Fitted):
    phase: str
    customer_state: str
    stages: list[str]
    trigger: str
    goal: str
    channels: list[Channel]


class ScoreFactor(KnowledgeModel):
    group: str
    factor: str
    points: int
    criterion: str


class ScoreTier(KnowledgeModel):
    tier: str
    min_points: int
    action: str


class Signal(Fitted):
    signal: str
    risk: Literal["low", "medium", "high", "critical"]
    action: str


class Intervention(KnowledgeModel):
    risk: Literal["low", "medium", "high", "critical"]
    intervention: str
    owner: str


class LoyaltyTier(Fitted):
    tier: str
    entry: str
    benefits: str


class Row(Fitted):
    name: str
    detail: str


class CrmProgramme(KnowledgeModel):
    journey: list[JourneyStage] = Field(min_length=1)
    automation_types: list[Row] = Field(min_length=1)
    behavioural_triggers: list[Row] = Field(min_length=1)
    engagement_score: list[ScoreFactor] = Field(min_length=1)
    engagement_tiers: list[ScoreTier] = Field(min_length=1)
    churn_signals: list[Signal] = Field(min_length=1)
    interventions: list[Intervention] = Field(min_length=1)
    loyalty_tiers: list[LoyaltyTier] = Field(min_length=1)
    referral: list[Row] = Field(min_length=1)
    report_metrics: list[Row] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_descend(self) -> CrmProgramme:
        points = [t.min_points for t in self.engagement_tiers]
        if points != sorted(points, reverse=True):
            raise ValueError("engagement_tiers: list tiers from the highest min_points down")
        return self


# --- red_flags.yaml ------------------------------------------------------------------------------------------


class RedFlag(KnowledgeModel):
    id: str
    name: str
    kind: Literal["pattern", "kpi_outcomes", "sms_opt_out", "discount_limit", "numbers", "segments"]
    why: str
    patterns: list[str] = Field(description="regular expressions, matched case-insensitively per line")
    skip_quotes: bool = Field(default=False, description="read lines without their double-quoted copy")


class NumberRules(KnowledgeModel):
    assumption_markers: list[str] = Field(min_length=1)
    small_count: int = Field(ge=0)
    years: tuple[int, int]


class DiscountEquivalent(KnowledgeModel):
    pattern: str
    percent: float = Field(gt=0, le=100)


class DiscountRules(KnowledgeModel):
    limit_patterns: list[str] = Field(min_length=1, description="each with a (?P<pct>...) group")
    offer_patterns: list[str] = Field(min_length=1, description="each with a (?P<pct>...) group")
    equivalents: list[DiscountEquivalent]


class SegmentRules(KnowledgeModel):
    name_headers: list[str] = Field(min_length=1)
    size_header: str
    nouns: list[str] = Field(min_length=1)
    stopwords: list[str]
    size_patterns: list[str] = Field(min_length=1, description="regular expressions holding NAME and N")


class RedFlags(KnowledgeModel):
    negations: list[str] = Field(min_length=1)
    negation_exceptions: list[str] = Field(default_factory=list)
    flags: list[RedFlag] = Field(min_length=1)
    numbers: NumberRules
    discounts: DiscountRules
    segments: SegmentRules
    outcome_metric_words: list[str] = Field(min_length=1)
    key_questions: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns_compile(self) -> RedFlags:
        import re

        def compiles(where: str, pattern: str, group: str | None = None) -> None:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{where}: {exc}") from None
            if group and group not in compiled.groupindex:
                raise ValueError(f"{where}: add a (?P<{group}>...) group")

        for i, flag in enumerate(self.flags):
            for j, pattern in enumerate(flag.patterns):
                compiles(f"flags[{i}].patterns[{j}]", pattern)
        for j, pattern in enumerate(self.discounts.limit_patterns):
            compiles(f"discounts.limit_patterns[{j}]", pattern, "pct")
        for j, pattern in enumerate(self.discounts.offer_patterns):
            compiles(f"discounts.offer_patterns[{j}]", pattern, "pct")
        for j, eq in enumerate(self.discounts.equivalents):
            compiles(f"discounts.equivalents[{j}].pattern", eq.pattern)
        for j, pattern in enumerate(self.segments.size_patterns):
            if "NAME" not in pattern or "N" not in pattern.replace("NAME", ""):
                raise ValueError(f"segments.size_patterns[{j}]: hold both NAME and N")
            compiles(f"segments.size_patterns[{j}]", pattern.replace("NAME", "x").replace("N", "1"))
        kinds = [f.kind for f in self.flags if f.kind != "pattern"]
        missing = {"kpi_outcomes", "sms_opt_out", "discount_limit", "numbers", "segments"} - set(kinds)
        if missing or len(kinds) != len(set(kinds)):
            raise ValueError(f"flags: list each check kind once; missing: {sorted(missing) or 'none'}")
        return self


# --- consent_rules.yaml --------------------------------------------------------------------------------------


class ConsentRule(KnowledgeModel):
    region: Region
    channel: Channel
    rule: str
    source: str


class FrequencyCap(KnowledgeModel):
    """A sending cap per person on one channel (or across channels); the numbers are what the calendar keeps."""

    name: str
    detail: str
    min_hours_between: int | None = Field(default=None, gt=0, description="hours between two sends")
    max_per_30_days: int | None = Field(default=None, gt=0, description="sends in any 30 days")


class ConsentRules(KnowledgeModel):
    rules: list[ConsentRule] = Field(min_length=1)
    frequency_caps: list[FrequencyCap]
    sources: list[Source]

    def for_region(self, region: Region) -> list[ConsentRule]:
        return [r for r in self.rules if r.region == region]


class Library(KnowledgeModel):
    """Every knowledge file the brief builder reads, loaded once."""

    profiles: BusinessProfiles
    triggers: TriggerLibrary
    channels: ChannelMatrix
    offers: OfferLibrary
    messages: MessageLibrary
    sequences: SequenceLibrary
    kpis: KpiFramework
    levers: LtvLevers
    programme: CrmProgramme
    red_flags: RedFlags
    consent: ConsentRules

    @model_validator(mode="after")
    def _steps_name_triggers(self) -> Library:
        known = {t.id for t in self.triggers.triggers}
        flows = {s.id for s in self.sequences.sequences}
        chosen = [(f"goals.{g.goal}", g.sequences) for g in self.profiles.goals]
        chosen += [(f"lifecycle_focus.{f.focus}", f.sequences) for f in self.profiles.lifecycle_focus]
        for where, ids in chosen:
            unknown = [i for i in ids if i not in flows]
            if unknown:
                raise ValueError(
                    f"business_profiles.yaml {where}.sequences: {', '.join(unknown)} not in sequences.yaml"
                )
        for f in self.profiles.lifecycle_focus:
            if bad := [st for st in f.stages if st not in STAGES]:
                raise ValueError(f"business_profiles.yaml lifecycle_focus.{f.focus}.stages: unknown {bad}")
        for seq in self.sequences.sequences:
            for i, step in enumerate(seq.steps):
                if step.trigger is not None and step.trigger not in known:
                    raise ValueError(
                        f"sequences.yaml {seq.id}.steps[{i}].trigger: '{step.trigger}' is not a trigger id in "
                        "winback_triggers.yaml"
                    )
        return self


LIBRARY_FILES: dict[str, tuple[str, type[KnowledgeModel]]] = {
    "profiles": ("business_profiles.yaml", BusinessProfiles),
    "triggers": ("winback_triggers.yaml", TriggerLibrary),
    "channels": ("channels.yaml", ChannelMatrix),
    "offers": ("offers.yaml", OfferLibrary),
    "messages": ("messages.yaml", MessageLibrary),
    "sequences": ("sequences.yaml", SequenceLibrary),
    "kpis": ("kpis.yaml", KpiFramework),
    "levers": ("ltv_levers.yaml", LtvLevers),
    "programme": ("crm_programme.yaml", CrmProgramme),
    "red_flags": ("red_flags.yaml", RedFlags),
    "consent": ("consent_rules.yaml", ConsentRules),
}


def load_library() -> Library:
    """Load and validate every brief knowledge file (each cached by the loader)."""
    parts = {key: load_knowledge(name, model) for key, (name, model) in LIBRARY_FILES.items()}
    return Library.model_validate(parts)
