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


class Scorecard(Result):
    by_segment: list[ScorecardRow]
    by_lifecycle: list[ScorecardRow]
    total: ScorecardRow


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


class ScoreCustomersResult(Result):
    quality: QualityReport
    scoring: ScoreSummary
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
