"""Structured results of the tools.

The core's own models (``QualityReport``, ``ScoreSummary``) live in modules that import DuckDB, and the SDK
needs each tool's output model when the tool is registered, at start-up. So the shapes are declared here
again, field for field, with ``extra="forbid"``; ``tests/test_mcp_results.py`` fails when the two drift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Exclusion(Result):
    reason: str
    rows: int
    orders: int | None = None
    action: Literal["excluded", "flagged"] = "excluded"
    note: str = ""


class QualityReport(Result):
    """What the export holds: mapping, layout, exclusions, totals and how sure the analysis can be."""

    file: str
    file_format: str
    layout: str
    layout_label: str
    mapping: dict[str, str]
    date_format: str
    date_format_reason: str
    money_format: str | None
    currency: str | None
    monetary_available: bool
    rows_read: int
    rows_used: int
    exclusions: list[Exclusion]
    customer_ids_found: int
    customers: int
    orders: int
    first_order_date: dt.date | None
    last_order_date: dt.date | None
    history_days: int
    as_of: dt.date
    as_of_reason: str
    gross_revenue: float | None
    refunds: float | None
    returns: float | None
    net_revenue: float | None
    one_time_buyer_share: float
    repeat_customers: int
    median_days_between_orders: float | None
    consent_columns: dict[str, str]
    notes: list[str]
    confidence: Literal["high", "medium", "low"]
    confidence_reasons: list[str]


class BinReport(Result):
    dimension: str
    basis: str
    bins_filled: int
    cut_points: list[float] | None
    note: str


class ScorecardRow(Result):
    group: str
    customers: int
    share: float
    revenue: float | None
    revenue_share: float | None
    aov: float | None
    avg_orders: float
    median_days_since_last_order: float | None
    churn_risk_low: int
    churn_risk_medium: int
    churn_risk_high: int
    email_reachable: int | None
    sms_reachable: int | None
    previous_customers: int | None = None


class Scorecard(Result):
    by_segment: list[ScorecardRow]
    by_lifecycle: list[ScorecardRow]
    total: ScorecardRow
    trend_from: str | None = None


class SegmentOutlook(Result):
    group: str
    customers: int
    mean_p_alive: float
    expected_orders: float
    clv_total: float | None
    clv_mean: float | None
    winback_days_p25: float | None
    winback_days_median: float | None
    winback_days_p75: float | None
    shop_level_share: float
    winback_passed_share: float


class ModelOutlook(Result):
    """score_customers with predict: which churn-risk method was used and the model's per-group estimates."""

    churn_risk_method: Literal["BG/NBD P(alive)", "heuristic"]
    fallback_reason: str | None
    horizon_days: int
    threshold: float
    time_unit: str
    parameters: dict[str, float]
    notes: list[str]
    overall: SegmentOutlook | None
    by_segment: list[SegmentOutlook]
    by_lifecycle: list[SegmentOutlook]


class ScoreSummary(Result):
    method: Literal["fixed", "quantile"]
    as_of: dt.date
    customers: int
    repurchase_cycle_days: float
    repurchase_cycle_source: str
    churn_risk_source: str
    monetary_available: bool
    bins: list[BinReport]
    notes: list[str]
    scorecard: Scorecard
    predictions: ModelOutlook | None = None


class SavedSnapshot(Result):
    snapshot_id: int
    as_of: dt.date
    already_saved: bool


class ScoreCustomersResult(Result):
    quality: QualityReport
    scoring: ScoreSummary
    snapshot: SavedSnapshot | None = Field(default=None, description="the store snapshot, when one was saved")
    scores_file: str = Field(description="per-customer scores (with contact columns) in the output folder")
    summary_file: str = Field(description="this result as JSON, for build_brief's scores_summary")


class PreviewRow(Result):
    customer: str = Field(description="the customer id; emails and phone numbers masked")
    rfm_segment: str
    lifecycle_stage: str
    churn_risk: str
    recency_days: int
    orders: int
    net_total: float | None
    email: str | None
    phone: str | None
    name: str | None
    email_consent: bool | None
    sms_consent: bool | None


class PreviewResult(Result):
    scores_file: str
    matching_customers: int
    rows: list[PreviewRow]
    note: str


class Slot(Result):
    id: str
    section: str
    instruction: str


class Assumption(Result):
    field: str
    value: str
    why: str
    how_to_check: str


class DocumentResult(Result):
    """A built brief or plan: written to a file, with the slots to fill; the markdown itself on request."""

    kind: str
    file: str = Field(
        description="the markdown skeleton in the output folder; fill its narrative slots there"
    )
    characters: int
    slots: list[Slot] = Field(
        description="each <!-- narrative:ID: instruction --> comment to replace with prose"
    )
    assumptions: list[Assumption]
    certainty: str
    markdown: str | None = Field(description="the skeleton itself, only when include_markdown was asked")
    next_step: str


class Criterion(Result):
    id: str
    description: str
    passed: bool
    line: int | None
    detail: str


class CheckReport(Result):
    kind: Literal["brief", "ltv-plan", "programme", "unknown"]
    passed: bool
    criteria: list[Criterion]
    red_flags: list[Criterion]
    unfilled_slots: list[str]


class ContextSchemaResult(Result):
    json_schema: dict[str, Any] = Field(description="the JSON schema of build_brief's context argument")
    note: str


class PredictOptions(Result):
    horizon_days: int
    threshold: float
    time_unit: Literal["days", "weeks"]
    margin: float
    discount_rate: float
    period_days: int
    penalizer_coef: float


class BgNbdParams(Result):
    r: float
    alpha: float
    a: float
    b: float
    time_unit: Literal["days", "weeks"]
    log_likelihood: float | None
    n_customers: int
    n_repeat_buyers: int
    n_distinct_rows: int
    penalizer_coef: float
    iterations: int


class GammaGammaParams(Result):
    p: float
    q: float
    v: float
    log_likelihood: float | None
    n_customers: int
    n_excluded: int
    frequency_spend_correlation: float | None
    penalizer_coef: float
    iterations: int


class GroupSummary(Result):
    group: str
    customers: int
    mean_p_alive: float
    expected_orders: float
    clv_total: float | None
    clv_mean: float | None
    median_days_until_winback: float | None
    share_winback_passed: float


class PredictionSummary(Result):
    """Model parameters, definitions and per-segment aggregates; per-customer rows are in predictions_file."""

    as_of: str
    options: PredictOptions
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams | None
    customers: int
    one_time_buyers: int
    shop_level_winback_days: float | None
    overall: GroupSummary
    by_segment: list[GroupSummary]
    definitions: dict[str, str]
    notes: list[str]
    predictions_file: str | None


class CohortRow(Result):
    cohort: str
    customers: int
    m1: float | None
    m2: float | None
    m3: float | None
    m6: float | None
    m12: float | None
    revenue: float | None


class CohortTable(Result):
    as_of: dt.date | None
    months: list[int]
    rows: list[CohortRow]


class KnowledgeAnswer(Result):
    topic: str
    file: str
    items: list[dict[str, Any]]


# -- the customer store (segments/store.py, segments/api.py, segments/migration.py, segments/audience.py) ----


class SnapshotInfo(Result):
    snapshot_id: int
    shop: str
    source_name: str = Field(description="the file name the snapshot was scored from")
    source_sha256: str
    as_of: dt.date
    method: str
    customers: int
    has_items: bool
    repurchase_cycle_days: float | None
    created_at: dt.datetime
    already_saved: bool = Field(
        default=False,
        description="true when this file, as-of date and method were saved before: nothing changed",
    )


class SaveSnapshotResult(Result):
    store: str = Field(description="the customer store file the snapshot is in")
    snapshot: SnapshotInfo


class SnapshotList(Result):
    store: str = Field(description="the customer store file")
    snapshots: list[SnapshotInfo] = Field(description="oldest as-of date first")


class SegmentSummary(Result):
    name: str
    kind: Literal["user", "prebuilt", "rfm_segment", "lifecycle_stage"]
    description: str
    members: int | None = Field(
        description="customers in the snapshot; None when it cannot be counted (see note)"
    )
    note: str | None = None


class SegmentList(Result):
    snapshot: SnapshotInfo | None = Field(description="the snapshot counted (None: no snapshot saved yet)")
    segments: list[SegmentSummary]


class MemberRow(Result):
    customer_id: str = Field(description="the customer id; emails and phone numbers masked")
    rfm_segment: str | None
    lifecycle_stage: str | None
    churn_risk: str | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    orders: int | None
    total_spent: float | None
    recency_days: int | None
    last_order_date: dt.date | None
    email: str | None = Field(description="masked")
    phone: str | None = Field(description="masked")


class MemberPage(Result):
    segment: str
    kind: Literal["user", "prebuilt", "rfm_segment", "lifecycle_stage"]
    snapshot: SnapshotInfo
    total: int = Field(description="customers in the segment")
    limit: int
    offset: int
    contact_masked: bool
    members: list[MemberRow] = Field(description="highest net spend first, then customer id")
    note: str


class Distribution(Result):
    snapshot: SnapshotInfo
    by: str
    total: int
    counts: dict[str, int]


class MigrationCell(Result):
    from_group: str
    to_group: str
    customers: int


class MigrationMatrix(Result):
    """From x to counts; (new) = only in the later snapshot, (gone) = only in the earlier one."""

    by: str
    from_snapshot: SnapshotInfo
    to_snapshot: SnapshotInfo
    groups: list[str] = Field(description="the row and column order")
    cells: list[MigrationCell] = Field(description="non-zero cells only")
    stayed: int
    moved: int
    new: int
    gone: int


class AudienceExclusion(Result):
    reason: str
    customers: int


class AudienceResult(Result):
    segment: str
    format: Literal["klaviyo", "mailchimp", "csv"]
    channel: Literal["email", "sms"]
    output: str | None = Field(description="the audience file in the output folder, for the user to import")
    candidates: int = Field(description="customers in the segment")
    exported: int
    excluded: list[AudienceExclusion] = Field(description="who was left out, each person under one reason")
    soft_opt_in_included: int
    notes: list[str]
