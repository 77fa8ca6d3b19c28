"""The data-quality report of an ingested export (built by crm_winback.ingest.quality)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from . import StrictModel

Confidence = Literal["high", "medium", "low"]


class Exclusion(StrictModel):
    reason: str
    rows: int
    orders: int | None = None
    action: Literal["excluded", "flagged"] = "excluded"
    note: str = ""


class QualityReport(StrictModel):
    """What the export holds: mapping, layout, exclusions, totals and how sure the analysis can be.

    Everything ``crm-winback profile`` prints; later briefs carry ``confidence``.
    """

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
    confidence: Confidence
    confidence_reasons: list[str]
