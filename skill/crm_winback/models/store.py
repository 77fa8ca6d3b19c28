"""The customer store's results: snapshots, segments and their members, migration, audiences (crm_winback.segments)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from . import StrictModel

SegmentKind = Literal["user", "prebuilt", "rfm_segment", "lifecycle_stage"]
ExportFormat = Literal["klaviyo", "mailchimp", "csv"]
Channel = Literal["email", "sms"]


class SavedSnapshot(StrictModel):
    """The snapshot a scoring run was saved as (``score --save``)."""

    snapshot_id: int
    as_of: dt.date
    already_saved: bool


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


class SegmentSummary(StrictModel):
    name: str
    kind: SegmentKind
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

    def count(self, from_group: str, to_group: str) -> int:
        for cell in self.cells:
            if cell.from_group == from_group and cell.to_group == to_group:
                return cell.customers
        return 0


class AudienceExclusion(StrictModel):
    reason: str
    customers: int


class AudienceResult(StrictModel):
    segment: str
    format: ExportFormat
    channel: Channel
    output: str | None = Field(description="the audience file in the output folder, for the user to import")
    candidates: int = Field(description="customers in the segment")
    exported: int
    excluded: list[AudienceExclusion] = Field(description="who was left out, each person under one reason")
    soft_opt_in_included: int
    notes: list[str]
    definition: str = Field(default="", description="the segment's definition the export went by")
