"""Structured results of the tools that do not return a core model as it is.

Tools that do declare the shared model from crm_winback.models, which imports only pydantic, so registering
the tools at start-up imports no DuckDB. What is here wraps those models with what only the server adds (a
summary file, the written document, masked contacts) and, for the customer store, restates the shapes of
crm_winback.segments, whose models still live in modules that import DuckDB.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from ..models import StrictModel
from ..models.documents import Assumption, Slot
from ..models.quality import QualityReport
from ..models.scores import ScoreSummary


class SavedSnapshot(StrictModel):
    snapshot_id: int
    as_of: dt.date
    already_saved: bool


class ScoreCustomersResult(StrictModel):
    quality: QualityReport
    scoring: ScoreSummary
    snapshot: SavedSnapshot | None = Field(default=None, description="the store snapshot, when one was saved")
    scores_file: str = Field(description="per-customer scores (with contact columns) in the output folder")
    summary_file: str = Field(description="this result as JSON, for build_brief's scores_summary")


class PreviewRow(StrictModel):
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


class PreviewResult(StrictModel):
    scores_file: str
    matching_customers: int
    rows: list[PreviewRow]
    note: str


class DocumentResult(StrictModel):
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


class ContextSchemaResult(StrictModel):
    json_schema: dict[str, Any] = Field(description="the JSON schema of build_brief's context argument")
    note: str


# -- the customer store (segments/store.py, segments/api.py, segments/migration.py, segments/audience.py) ----


class SnapshotInfo(StrictModel):
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


class SaveSnapshotResult(StrictModel):
    store: str = Field(description="the customer store file the snapshot is in")
    snapshot: SnapshotInfo


class SnapshotList(StrictModel):
    store: str = Field(description="the customer store file")
    snapshots: list[SnapshotInfo] = Field(description="oldest as-of date first")


class SegmentSummary(StrictModel):
    name: str
    kind: Literal["user", "prebuilt", "rfm_segment", "lifecycle_stage"]
    description: str
    members: int | None = Field(
        description="customers in the snapshot; None when it cannot be counted (see note)"
    )
    note: str | None = None


class SegmentList(StrictModel):
    snapshot: SnapshotInfo | None = Field(description="the snapshot counted (None: no snapshot saved yet)")
    segments: list[SegmentSummary]


class MemberRow(StrictModel):
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


class MemberPage(StrictModel):
    segment: str
    kind: Literal["user", "prebuilt", "rfm_segment", "lifecycle_stage"]
    snapshot: SnapshotInfo
    total: int = Field(description="customers in the segment")
    limit: int
    offset: int
    contact_masked: bool
    members: list[MemberRow] = Field(description="highest net spend first, then customer id")
    note: str


class Distribution(StrictModel):
    snapshot: SnapshotInfo
    by: str
    total: int
    counts: dict[str, int]


class MigrationCell(StrictModel):
    from_group: str
    to_group: str
    customers: int


class MigrationMatrix(StrictModel):
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


class AudienceExclusion(StrictModel):
    reason: str
    customers: int


class AudienceResult(StrictModel):
    segment: str
    format: Literal["klaviyo", "mailchimp", "csv"]
    channel: Literal["email", "sms"]
    output: str | None = Field(description="the audience file in the output folder, for the user to import")
    candidates: int = Field(description="customers in the segment")
    exported: int
    excluded: list[AudienceExclusion] = Field(description="who was left out, each person under one reason")
    soft_opt_in_included: int
    notes: list[str]
