"""Seed 001's monthly CRM report, its actuals counted from the orders.

Definitions (every stage is the scorer's own, ``knowledge/lifecycle.yaml``, measured at each date with the data
up to that date):

- **Base**: customers who were not churned the day before the month (``live_at_start``).
- **Churn rate**: the share of the base that is churned at the month's end (crossed 4 repurchase cycles without
  an order during the month); **retention rate** is the rest of the base. Both are 0..1 fractions.
- **Reactivated**: churned at the start, ordered in the month. **New**: first order in the month.
- **Value**: net revenue, orders and AOV of the month; the average net spend per customer to date (historic
  LTV) at the month's end.
- **Segment health**: customers per RFM segment and lifecycle stage at the month's end against the day before
  the month, with the direction (↑ ↓ →) and the segment's action (``knowledge/rfm_segments.yaml``).
- **Cohorts**: the acquisition-month table (``crm_winback.cohorts``) as of the month's end, last 12 cohorts.

The email-performance table is not in the orders: the template leaves it for the operator to fill.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tempfile
from pathlib import Path

import duckdb

from .cohorts import build_cohorts
from .errors import InputError
from .ingest import Ingested, IngestOptions, load_orders
from .ingest.reader import sql_string as sql_quote
from .models.monthly import MonthFigures, MonthlyReport, SegmentTrend, SummaryRow
from .scoring import score
from .scoring.segment_map import load_segment_map
from .workdb import first_row

__all__ = ["MonthlyReport", "monthly_report", "parse_month"]

COHORT_ROWS = 12


def parse_month(text: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(f"--month {text}: write the month as YYYY-MM, e.g. 2011-11")
    first = dt.date(int(m.group(1)), int(m.group(2)), 1)
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def _load(path: str | Path, options: IngestOptions, as_of: dt.date) -> Ingested:
    return load_orders(path, dataclasses.replace(options, as_of=as_of))


def _stages(path: str | Path, options: IngestOptions, as_of: dt.date, folder: Path) -> Path | None:
    """Score the data up to ``as_of`` and keep each customer's stage and segment in a Parquet file."""
    try:
        ingested = _load(path, options, as_of)
    except InputError:
        return None  # no purchase on or before that day: nobody to count
    try:
        if ingested.quality.customers == 0:
            return None
        score(ingested)
        out = folder / f"scores-{as_of}.parquet"
        ingested.con.execute(
            "COPY (SELECT customer_id, lifecycle_stage, rfm_segment FROM scores) "
            f"TO {sql_quote(str(out))} (FORMAT parquet)"
        )
        return out
    finally:
        ingested.close()


def monthly_report(path: str | Path, month: str, options: IngestOptions | None = None) -> MonthlyReport:
    """The monthly report of ``month`` (``YYYY-MM``) from an orders export (see the module docstring)."""
    options = options or IngestOptions()
    first, last = parse_month(month)
    ingested = _load(path, options, last)
    try:
        q = ingested.quality
        data_start, data_end = q.first_order_date, q.last_order_date
        after = any(e.reason == "after the as-of date" for e in q.exclusions)
        if data_start is None or data_end is None or first <= data_start:
            raise InputError(f"--month {month}: the data starts on {data_start}; the report needs orders before "
                             "the month to measure its start - pick a later month")  # fmt: skip
        if data_end < first:
            raise InputError(
                f"--month {month}: the data ends on {data_end}; pick {data_end:%Y-%m} or earlier"
            )
        end, notes = last, []
        if not after and data_end < last:  # the month is not over in this export: measure up to its last day
            end = data_end
            notes.append(f"the data ends on {end}: {month} is not over, its figures cover {first} to {end}")
            ingested.close()
            ingested = _load(path, options, end)
        prev_first = parse_month(f"{(first - dt.timedelta(days=1)):%Y-%m}")[0]
        with tempfile.TemporaryDirectory(prefix="crm-winback-monthly-") as tmp:
            folder = Path(tmp)
            before_prev = _stages(path, options, prev_first - dt.timedelta(days=1), folder)
            start = _stages(path, options, first - dt.timedelta(days=1), folder)
            scored = score(ingested)
            con = ingested.con
            con.execute(
                "CREATE TEMP TABLE at_end AS SELECT customer_id, lifecycle_stage, rfm_segment FROM scores"
            )
            this = _figures(con, month, first, end, start, "at_end")
            previous = None
            if before_prev is not None and start is not None:
                con.execute(
                    f"CREATE TEMP TABLE at_start AS SELECT * FROM read_parquet({sql_quote(str(start))})"
                )
                previous = _figures(con, f"{prev_first:%Y-%m}", prev_first, first - dt.timedelta(days=1),
                                    before_prev, "at_start")  # fmt: skip
            else:
                notes.append(
                    f"the data starts on {data_start}: the month before {month} has no start to measure"
                )
            segments, stages = _trends(con, start)
            cohorts = build_cohorts(con, end).rows[-COHORT_ROWS:]
            cycle = scored.summary.repurchase_cycle_days
    finally:
        ingested.close()
    return MonthlyReport(month=month, partial=end < last, repurchase_cycle_days=cycle,
                         summary=summary_rows(this, previous), this_month=this,
                         previous_month=previous, segments=segments, stages=stages, cohorts=cohorts,
                         notes=notes)  # fmt: skip


def _figures(
    con: duckdb.DuckDBPyConnection, month: str, first: dt.date, end: dt.date, start: Path | None, at_end: str
) -> MonthFigures:
    """One month: the base from the stages at ``start`` (a Parquet file), its fate from the ``at_end`` table."""
    src = (
        f"read_parquet({sql_quote(str(start))})"
        if start
        else "(SELECT NULL AS customer_id, NULL AS lifecycle_stage WHERE FALSE)"
    )
    cur = con.execute(
        f"""WITH s AS (SELECT customer_id, lifecycle_stage AS stage FROM {src}),
                 e AS (SELECT customer_id, lifecycle_stage AS stage FROM {at_end}),
                 firsts AS (SELECT customer_id, min(order_date) AS first_day FROM orders GROUP BY 1),
                 m AS (SELECT customer_id, count(*) AS n, sum(net) AS net FROM orders
                       WHERE order_date BETWEEN ? AND ? GROUP BY 1)
            SELECT
              (SELECT count(*) FROM s WHERE stage <> 'churned'),
              (SELECT count(*) FROM s JOIN e USING (customer_id) WHERE s.stage <> 'churned' AND e.stage = 'churned'),
              (SELECT count(*) FROM s JOIN m USING (customer_id) WHERE s.stage <> 'churned'),
              (SELECT count(*) FROM s JOIN m USING (customer_id) WHERE s.stage = 'churned'),
              (SELECT count(*) FROM firsts WHERE first_day BETWEEN ? AND ?),
              (SELECT count(*) FROM m),
              (SELECT coalesce(sum(n), 0) FROM m),
              (SELECT CAST(sum(net) AS DOUBLE) FROM m),
              (SELECT CAST(sum(net) AS DOUBLE) / count(DISTINCT customer_id) FROM orders WHERE order_date <= ?)""",
        [first, end, first, end, end],
    )
    row = first_row(cur)
    assert row is not None
    live, lost, base_ordered, reactivated, new, ordering, orders, revenue, to_date = row
    churn = round(lost / live, 4) if live else None
    return MonthFigures(
        month=month, start=first - dt.timedelta(days=1), end=end, live_at_start=live, lost=lost, churn_rate=churn,
        retention_rate=round(1 - churn, 4) if churn is not None else None, base_ordered=base_ordered,
        reactivated=reactivated, new_customers=new, customers_ordering=ordering, orders=int(orders),
        revenue=round(revenue, 2) if revenue is not None else None,
        aov=round(revenue / orders, 2) if revenue is not None and orders else None,
        avg_spend_to_date=round(to_date, 2) if to_date is not None else None,
    )  # fmt: skip


def _trends(
    con: duckdb.DuckDBPyConnection, start: Path | None
) -> tuple[list[SegmentTrend], list[SegmentTrend]]:
    from .lifecycle import lifecycle_rules

    seg_map = load_segment_map()
    actions = {s.name: s.action for s in seg_map.segments}
    actions |= {r.stage: r.description for r in lifecycle_rules().stages}
    src = f"read_parquet({sql_quote(str(start))})" if start else None

    def rows(column: str, order: list[str]) -> list[SegmentTrend]:
        now = dict(con.execute(f"SELECT {column}, count(*) FROM at_end GROUP BY 1").fetchall())
        before = (
            dict(con.execute(f"SELECT {column}, count(*) FROM {src} GROUP BY 1").fetchall()) if src else {}
        )
        out = []
        for group in order:
            n, p = int(now.get(group, 0)), int(before.get(group, 0))
            out.append(SegmentTrend(group=group, customers=n, previous=p,
                                    trend="↑" if n > p else "↓" if n < p else "→", action=actions.get(group, "")))  # fmt: skip
        return out

    stages = [r.stage for r in lifecycle_rules().stages]
    return rows("rfm_segment", [s.name for s in seg_map.segments]), rows("lifecycle_stage", stages)


_SUMMARY = [
    ("Retention rate (base not churned by month end)", "rate", "retention_rate"),
    ("Churn rate", "rate", "churn_rate"),
    ("Customers in the base (not churned at the start)", "count", "live_at_start"),
    ("Base customers who ordered", "count", "base_ordered"),
    ("New customers", "count", "new_customers"),
    ("Reactivated (churned at the start)", "count", "reactivated"),
    ("Orders", "count", "orders"),
    ("Revenue (net)", "money", "revenue"),
    ("AOV", "money", "aov"),
    ("LTV to date (net spend per customer)", "money", "avg_spend_to_date"),
]


def summary_rows(this: MonthFigures, previous: MonthFigures | None) -> list[SummaryRow]:
    """The summary table's rows: each metric this month, the month before and the change."""
    rows = []
    for label, kind, field in _SUMMARY:
        now = getattr(this, field)
        before = getattr(previous, field) if previous is not None else None
        delta = round(now - before, 4) if now is not None and before is not None else None
        rows.append(SummaryRow(metric=label, kind=kind, actual=now, previous=before, delta=delta))
    return rows
