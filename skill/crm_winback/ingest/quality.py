"""The data-quality report: what was read, what was used, what was left out and why, and how sure we are."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from ..knowledge import KnowledgeModel, load_knowledge

Confidence = Literal["high", "medium", "low"]


class ConfidenceLevel(KnowledgeModel):
    level: Confidence
    min_customers: int = Field(ge=0)
    min_history_days: int = Field(ge=0)
    min_repeat_customers: int = Field(ge=0)


class ConfidenceRules(KnowledgeModel):
    levels: list[ConfidenceLevel] = Field(min_length=1)


class Exclusion(BaseModel):
    reason: str
    rows: int
    orders: int | None = None
    action: Literal["excluded", "flagged"] = "excluded"
    note: str = ""


class QualityReport(BaseModel):
    """Everything ``crm-winback profile`` prints; later briefs carry ``confidence``."""

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


def assess_confidence(
    customers: int, history_days: int, repeat_customers: int
) -> tuple[Confidence, list[str]]:
    """The first level in knowledge/confidence.yaml whose minimums are all met, and why the higher ones failed."""
    reasons: list[str] = []
    for level in load_knowledge("confidence.yaml", ConfidenceRules).levels:
        short = []
        if customers < level.min_customers:
            short.append(f"{customers:,} customers (under {level.min_customers:,})")
        if history_days < level.min_history_days:
            short.append(f"{history_days} days of history (under {level.min_history_days})")
        if repeat_customers < level.min_repeat_customers:
            short.append(f"{repeat_customers:,} repeat customers (under {level.min_repeat_customers:,})")
        if not short:
            return level.level, reasons
        reasons.append(f"not {level.level}: " + ", ".join(short))
    return "low", reasons
