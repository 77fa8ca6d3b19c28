"""The data-quality report: what was read, what was used, what was left out and why, and how sure we are."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import Field

from ..knowledge import KnowledgeModel, load_knowledge
from ..models.quality import Confidence, Exclusion, QualityReport
from ..workdb import first_row, median_of_counts
from .lines import scalar
from .orders import PURCHASE_ROW

if TYPE_CHECKING:
    import duckdb

    from .lines import LinesRead
    from .mapping import LayoutSignature
    from .reader import Source


class ConfidenceLevel(KnowledgeModel):
    level: Confidence
    min_customers: int = Field(ge=0)
    min_history_days: int = Field(ge=0)
    min_repeat_customers: int = Field(ge=0)


class ConfidenceRules(KnowledgeModel):
    levels: list[ConfidenceLevel] = Field(min_length=1)


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


def _money(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]


def build_quality_report(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    layout: LayoutSignature | None,
    mapping: dict[str, str],
    read: LinesRead,
    currency: str | None,
    returns_only: tuple[int, int],
    as_of: dt.date,
    as_of_reason: str,
) -> QualityReport:
    date_fmt, money_fmt, monetary, rows_read = read.date_fmt, read.money_fmt, read.monetary, read.rows_read
    duplicate_rows, identical_rows = read.duplicate_rows, read.identical_rows
    exclusions: list[Exclusion] = []
    if source.fallback_lines:
        exclusions.append(
            Exclusion(
                reason="text not UTF-8",
                rows=source.fallback_lines,
                action="flagged",
                note="lines read as cp1252 (Windows Western European); the rest of the file as UTF-8",
            )
        )
    if duplicate_rows:
        exclusions.append(
            Exclusion(
                reason="duplicate row",
                rows=duplicate_rows,
                note="identical to an earlier row of the same order",
            )
        )
    for reason, rows, orders in con.execute(
        "SELECT exclusion, sum(n_lines), count(*) FROM classified WHERE exclusion IS NOT NULL "
        "GROUP BY exclusion ORDER BY exclusion"
    ).fetchall():
        exclusions.append(Exclusion(reason=reason, rows=int(rows), orders=int(orders)))
    ret = first_row(con.execute("SELECT count(*), coalesce(sum(n_lines), 0), sum(value) FROM returns"))
    assert ret is not None
    if ret[0]:
        exclusions.append(
            Exclusion(
                reason="return or cancellation document",
                rows=int(ret[1]),
                orders=int(ret[0]),
                action="flagged",
                note="not a purchase; its negative value reduces net revenue",
            )
        )
    if returns_only[0]:
        exclusions.append(
            Exclusion(
                reason="customer with returns only",
                rows=returns_only[1],
                orders=None,
                note=f"{returns_only[0]} customers have returns but no purchase in the window; not scored",
            )
        )
    # One pass over the classified rows for every count below. The row's classes are computed once, as
    # columns, rather than in each FILTER (which would evaluate the exclusion CASE ten times a row): 0.19 s
    # instead of 0.3 s on 10M rows.
    other = "customer_id IS NOT NULL AND (exclusion IS NOT NULL OR gross < 0)"
    counts = first_row(
        con.execute(
            f"""WITH c AS (
                SELECT customer_id, order_date, gross, refunded, n_lines, status_class, exclusion IS NULL AS kept,
                       {PURCHASE_ROW} AS purchase,  -- the orders table's rows
                       {other} AS other
                FROM classified)
            SELECT count(*) FILTER (WHERE purchase AND gross = 0),
                   count(*) FILTER (WHERE kept AND status_class = 'kept_flagged'),
                   count(*) FILTER (WHERE kept AND status_class = 'unknown'),
                   coalesce(sum(n_lines) FILTER (WHERE kept), 0),
                   count(*) FILTER (WHERE purchase), min(order_date) FILTER (WHERE purchase),
                   max(order_date) FILTER (WHERE purchase), sum(gross) FILTER (WHERE purchase),
                   sum(coalesce(refunded, 0)) FILTER (WHERE purchase),
                   count(*) FILTER (WHERE other),
                   count(*) FILTER (WHERE purchase AND gross IS NULL),
                   count(*) FILTER (WHERE purchase AND contains(upper(customer_id), 'E+')
                                    AND regexp_matches(customer_id, '^\\d(\\.\\d+)?[eE]\\+\\d+$'))
            FROM c"""
        )
    )
    assert counts is not None
    zero, pending, unknown, used, orders, first, last, gross, refunds, others, no_amount, rounded_ids = counts
    if rounded_ids:
        exclusions.append(
            Exclusion(
                reason="customer id in scientific notation",
                rows=rounded_ids,
                orders=rounded_ids,
                action="flagged",
                note="Excel rounded these ids (like 1.23457E+12), so different customers may share one; "
                "re-export with the id column formatted as text",
            )
        )
    if monetary and no_amount:
        exclusions.append(
            Exclusion(
                reason="empty amount",
                rows=no_amount,
                orders=no_amount,
                action="flagged",
                note="kept as an order (it counts for recency and frequency); adds nothing to revenue",
            )
        )
    if zero:
        exclusions.append(
            Exclusion(
                reason="zero-value order",
                rows=zero,
                orders=zero,
                action="flagged",
                note="kept as an order; adds nothing to revenue",
            )
        )
    if pending:
        exclusions.append(
            Exclusion(
                reason="payment pending or authorised",
                rows=pending,
                orders=pending,
                action="flagged",
                note="kept as a purchase",
            )
        )
    if unknown:
        exclusions.append(
            Exclusion(
                reason="unrecognised status",
                rows=unknown,
                orders=unknown,
                action="flagged",
                note="kept as a purchase; see knowledge/order_status.yaml",
            )
        )
    if identical_rows:
        exclusions.append(
            Exclusion(
                reason="identical rows",
                rows=identical_rows,
                action="flagged",
                note="kept: without an order id a repeat purchase cannot be told from a copy",
            )
        )
    # The median of every gap, read off a histogram of the gap lengths (days): the same value as median()
    # over the 7.5M gaps of a 10M-order file, in a third of the time.
    per_customer = first_row(
        con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE orders > 1), (
               WITH h AS (SELECT gap, count(*) AS n FROM (SELECT unnest(gaps) AS gap FROM customers) GROUP BY gap)
               {median_of_counts("h", "gap", "n")})
           FROM customers"""
        )
    )
    assert per_customer is not None
    customers, repeat_customers, median_gap = int(per_customer[0]), int(per_customer[1]), per_customer[2]
    returns_value = ret[2] if ret[0] else 0
    net = None if not monetary or gross is None else gross - refunds + (returns_value or 0)
    # ids that never made it to a customer: excluded orders or returns only
    # (most files have none: then the anti-join against every customer is skipped)
    ids_found = customers
    if others:
        ids_found += scalar(
            con,
            f"SELECT count(DISTINCT customer_id) FROM classified WHERE {other} "
            "AND customer_id NOT IN (SELECT customer_id FROM customers)",
        )
    history = (as_of - first).days if first else 0
    level, reasons = assess_confidence(customers, history, repeat_customers)
    consent: dict[str, str] = {
        role: mapping[role] for role in ("email_consent", "sms_consent") if role in mapping
    }
    notes = list(source.notes)
    if not monetary:
        notes.append("no amount column: monetary value is unavailable; R and F are scored, M is not")
    if layout is None:
        if "quantity" in mapping and "unit_price" in mapping:
            layout_name, label = "line_items", "line items (value = quantity x unit price, grouped by order)"
        elif not monetary:
            layout_name, label = "event_log", "event log (customer and date only, no amounts)"
        elif read.grouped and scalar(con, "SELECT count(*) FROM classified WHERE n_lines > 1"):
            layout_name, label = "line_items", "line items (line totals, grouped by order)"
        else:
            layout_name, label = "orders", "one row per order"
    else:
        layout_name, label = layout.name, layout.label
    return QualityReport(
        file=str(source.path),
        file_format=source.describe(),
        layout=layout_name,
        layout_label=label,
        mapping=mapping,
        date_format=date_fmt.label,
        date_format_reason=date_fmt.reason,
        money_format=money_fmt.label if monetary else None,
        currency=currency,
        monetary_available=monetary,
        rows_read=rows_read,
        rows_used=used,
        exclusions=exclusions,
        customer_ids_found=ids_found,
        customers=customers,
        orders=orders,
        first_order_date=first,
        last_order_date=last,
        history_days=history,
        as_of=as_of,
        as_of_reason=as_of_reason,
        gross_revenue=_money(gross) if monetary else None,
        refunds=_money(refunds) if monetary else None,
        returns=_money(returns_value) if monetary else None,
        net_revenue=_money(net),
        one_time_buyer_share=round(1 - repeat_customers / customers, 4) if customers else 0.0,
        repeat_customers=repeat_customers,
        median_days_between_orders=float(median_gap) if median_gap is not None else None,
        consent_columns=consent,
        notes=notes,
        confidence=level,
        confidence_reasons=reasons,
    )
