"""Structured results of the tools that do not return a core model as it is.

Tools that do declare the shared model from crm_winback.models, which imports only pydantic, so registering
the tools at start-up imports no DuckDB. What is here wraps those models with what only the server adds (a
summary file, the written document, the store file, masked contacts).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..models import StrictModel
from ..models.documents import Assumption, Slot
from ..models.quality import QualityReport
from ..models.scores import ScoreSummary
from ..models.store import (
    MemberRow,
    SavedSnapshot,
    SegmentKind,
    SnapshotInfo,
)


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


# -- the customer store: crm_winback.models.store, with the store file and a note


class SaveSnapshotResult(StrictModel):
    store: str = Field(description="the customer store file the snapshot is in")
    snapshot: SnapshotInfo


class SnapshotList(StrictModel):
    store: str = Field(description="the customer store file")
    snapshots: list[SnapshotInfo] = Field(description="oldest as-of date first")


class MemberPage(StrictModel):
    segment: str
    kind: SegmentKind
    snapshot: SnapshotInfo
    total: int = Field(description="customers in the segment")
    limit: int
    offset: int
    contact_masked: bool
    members: list[MemberRow] = Field(description="highest net spend first, then customer id")
    note: str
