"""The per-customer summary (contract version 1) as one Ibis expression of portable operations only.

Window functions, ordinary aggregates and joins: no list or lambda functions, no ``median()`` aggregate (BigQuery
and Trino lack it; the exact median comes from row_number and count), and amounts are cast to DECIMAL(18, 4)
before any sum. The same expression runs on DuckDB and PySpark and compiles to BigQuery, Snowflake, Trino,
PostgreSQL and Spark SQL. It follows the local ingest's rules for a typed table (a warehouse has no text to
parse): rows without a customer or a date, dates on or before 1900-01-01 (zero dates) and after the as-of date
are left out; with an order id, rows identical in every column are duplicates and the rest roll up to orders
(line items without one roll up to the customer's day); an order refunded in full is not a purchase; a
negative order is a return, subtracted from net; zero and empty values stay orders.

Dates: an order's date is its timestamp's date in the engine session's time zone, which every engine here
pins (``--timezone``, default UTC); a DATE column is taken as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..errors import InputError
from .contract import BACKTEST_NAMES, CONTACT_COLUMNS, NAMES, REQUIRED_ROLES, ROLES
from .require import require

PLACEHOLDER_DATE = dt.date(1900, 1, 1)  # Excel and database zero dates: this day and earlier are no orders
MONEY = "decimal(18, 4)"


def check_mapping(
    mapping: Mapping[str, str], columns: tuple[str, ...] | list[str], table: str
) -> dict[str, str]:
    """The mapping, checked against the table's columns: known roles, the required ones, existing columns."""
    m = dict(mapping)
    unknown = sorted(set(m) - set(ROLES))
    if unknown:
        raise InputError(f"--map {unknown[0]}=...: not a role; use one of {', '.join(ROLES)}")
    missing = [role for role in REQUIRED_ROLES if role not in m]
    if missing:
        raise InputError(
            f"{table}: --map {missing[0]}=COLUMN is required (the column holding the {missing[0]})"
        )
    if "amount" in m and ("quantity" in m or "unit_price" in m):
        raise InputError("--map: give either amount or quantity and unit_price, not both")
    if ("quantity" in m) != ("unit_price" in m):
        raise InputError("--map: line items need both quantity and unit_price (or map amount instead)")
    for role, column in m.items():
        if column not in columns:
            raise InputError(
                f"{table}: --map {role}={column}: no such column; the columns are {', '.join(columns)}"
            )
    return m


def customer_summary(table: Any, mapping: Mapping[str, str], as_of: dt.date, tz: str = "UTC") -> Any:
    """The per-customer summary of ``table`` (an Ibis table of orders or order lines) as an Ibis expression.

    ``tz`` is the time zone the engine session must be pinned to (timestamps become dates there); it is not
    applied in the expression, so the same SQL serves every dialect. Rows are ordered by customer id.
    """
    ibis = require("ibis", "the summary expression")
    m = check_mapping(mapping, list(table.columns), "the orders table")
    del tz  # pinned in the session by the caller (see the module's docstring)
    as_of_lit = ibis.literal(as_of, type="date")
    rows, days, returns = _purchase_days(ibis, table, m, as_of_lit)
    agg = days.group_by("customer_id").aggregate(
        first_order_date=lambda t: t.order_date.min(),
        last_order_date=lambda t: t.order_date.max(),
        orders=lambda t: t.n_orders.sum(),
        purchase_days=lambda t: t.count(),
        gross_total=lambda t: t.day_gross.sum(),
        net_orders=lambda t: t.day_net.sum(),
        repeat_value=lambda t: t.day_net.sum(where=t.day_no > 0),
        litt=lambda t: t.gap.cast("float64").ln().sum(),
    )
    median = _median_gap(ibis, days)
    joined = agg.left_join(median, "customer_id").left_join(returns, "customer_id")
    summary = joined.select(
        customer_id=joined.customer_id,
        first_order_date=joined.first_order_date,
        last_order_date=joined.last_order_date,
        orders=joined.orders.cast("int64"),
        purchase_days=joined.purchase_days.cast("int64"),
        gross_total=joined.gross_total.cast(MONEY),
        net_total=(joined.net_orders + joined.returned.fill_null(0)).cast(MONEY),
        median_days_between=joined.median_days_between,
        x=(joined.purchase_days - 1).cast("int64"),
        t_x=joined.last_order_date.delta(joined.first_order_date, unit="day").cast("int64"),
        T=as_of_lit.delta(joined.first_order_date, unit="day").cast("int64"),
        repeat_value=joined.repeat_value.cast(MONEY),
        litt=joined.litt.fill_null(0.0),
    )
    summary = _with_contacts(ibis, summary, rows, m, as_of_lit)
    return summary.select(*NAMES).order_by("customer_id")


def gap_histogram(table: Any, mapping: Mapping[str, str], as_of: dt.date, tz: str = "UTC") -> Any:
    """The gap histogram (contract part ``gaps``): how many gaps between consecutive purchase days, over all
    customers, are ``gap_days`` long. The shop's repurchase cycle is the median of every gap pooled, which the
    per-customer medians cannot give; this small table can. Rows are ordered by gap_days."""
    ibis = require("ibis", "the gap histogram expression")
    m = check_mapping(mapping, list(table.columns), "the orders table")
    del tz  # pinned in the session by the caller
    _, days, _ = _purchase_days(ibis, table, m, ibis.literal(as_of, type="date"))
    gaps = days.filter(days.gap.notnull())
    hist = gaps.group_by("gap").aggregate(n=lambda t: t.count())
    return hist.select(gap_days=hist.gap.cast("int64"), n=hist.n.cast("int64")).order_by("gap_days")


def backtest_summary(
    table: Any, mapping: Mapping[str, str], as_of: dt.date, calibration_end: dt.date, tz: str = "UTC"
) -> Any:
    """The backtest part (contract ``BACKTEST_COLUMNS``): the summary at ``calibration_end`` without contacts,
    with each customer's purchase days after it up to ``as_of``, the days to the first of them, and the shop's
    repurchase cycle at ``calibration_end`` on every row. Rows are ordered by customer id."""
    ibis = require("ibis", "the backtest expression")
    if not calibration_end < as_of:
        raise InputError(
            f"--calibration-end {calibration_end}: must be before the as-of date {as_of} (the holdout follows it)"
        )
    m = check_mapping(mapping, list(table.columns), "the orders table")
    at_end = customer_summary(table, m, calibration_end, tz)
    end_lit = ibis.literal(calibration_end, type="date")
    _, days, _ = _purchase_days(ibis, table, m, ibis.literal(as_of, type="date"))
    later = days.filter(days.order_date > end_lit)
    holdout = later.group_by("customer_id").aggregate(
        n=lambda t: t.count(), first_back=lambda t: t.order_date.min()
    )
    joined = at_end.left_join(holdout, "customer_id").cross_join(_cycle(ibis, days, end_lit))
    out = joined.select(
        *(joined[name] for name in BACKTEST_NAMES[:-3]),
        holdout_purchase_days=joined.n.fill_null(0).cast("int64"),
        first_holdout_day=joined.first_back.delta(end_lit, unit="day").cast("int64"),
        cycle_days=joined.cycle_days,
    )
    return out.order_by("customer_id")


def part_expression(
    table: Any,
    part: str,
    mapping: Mapping[str, str],
    as_of: dt.date,
    tz: str = "UTC",
    calibration_end: dt.date | None = None,
) -> Any:
    """The expression of one contract part over ``table``: the summary ("summary"), the gap histogram ("gaps")
    or the backtest part at ``calibration_end`` ("backtest"). Every engine and dialect builds its part here."""
    if part == "backtest":
        if calibration_end is None:
            raise InputError("--part backtest needs --calibration-end YYYY-MM-DD")
        return backtest_summary(table, mapping, as_of, calibration_end, tz)
    return (gap_histogram if part == "gaps" else customer_summary)(table, mapping, as_of, tz)


def _cycle(ibis: Any, days: Any, end_lit: Any) -> Any:
    """One row: the median of every gap between purchase days up to ``end_lit`` pooled over all customers (NULL
    without any), from the histogram's running counts as workdb.median_of_counts computes it locally."""
    gaps = days.filter(days.gap.notnull(), days.order_date <= end_lit)
    hist = gaps.group_by("gap").aggregate(n=lambda t: t.count())
    ranked = hist.mutate(
        upto=hist.n.sum().over(ibis.cumulative_window(order_by="gap")),
        total=hist.n.sum().over(ibis.window()),
    )
    low = ranked.gap.min(where=ranked.upto >= (ranked.total + 1) // 2)
    high = ranked.gap.min(where=ranked.upto >= ranked.total // 2 + 1)
    return ranked.aggregate(cycle_days=(low + high).cast("float64") / 2)


def latest_order_date(table: Any, mapping: Mapping[str, str], today: dt.date) -> Any:
    """The default as-of date as the local ingest chooses it: the latest order date on or before ``today`` of a
    row with a customer (a scalar Ibis expression; NULL when no row qualifies)."""
    ibis = require("ibis", "the summary expression")
    rows = _rows(ibis, table, check_mapping(mapping, list(table.columns), "the orders table"))
    kept = rows.filter(
        rows.customer_id.notnull(),
        rows.order_date > ibis.literal(PLACEHOLDER_DATE, type="date"),
        rows.order_date <= ibis.literal(today, type="date"),
    )
    return kept.order_date.max()


def _purchase_days(ibis: Any, table: Any, m: dict[str, str], as_of_lit: Any) -> tuple[Any, Any, Any]:
    """The rows, each customer's purchase days (with the gap to the previous one and its number), and the
    returns per customer: what the summary and the gap histogram are built from."""
    rows = _rows(ibis, table.distinct() if "order_id" in m else table, m)
    orders = _orders(ibis, rows, m)
    kept = orders.filter(
        orders.customer_id.notnull(),
        orders.order_date.notnull(),
        orders.order_date > ibis.literal(PLACEHOLDER_DATE, type="date"),
        orders.order_date <= as_of_lit,
        ~((orders.gross > 0) & (orders.refunded >= orders.gross)).fill_null(False),
    )
    purchases = kept.filter(kept.gross.isnull() | (kept.gross >= 0))
    returns = kept.filter(kept.gross < 0).group_by("customer_id").aggregate(returned=lambda t: t.gross.sum())

    days = purchases.group_by(["customer_id", "order_date"]).aggregate(
        n_orders=lambda t: t.count(),
        day_gross=lambda t: t.gross.sum(),
        day_net=lambda t: (t.gross - t.refunded.fill_null(0)).sum(),
    )
    by_customer = ibis.window(group_by="customer_id", order_by="order_date")
    days = days.mutate(
        gap=days.order_date.delta(days.order_date.lag().over(by_customer), unit="day"),
        day_no=ibis.row_number().over(by_customer),
    )
    return rows, days, returns


def _rows(ibis: Any, table: Any, m: dict[str, str]) -> Any:
    """One row per source row, in the roles' names and types."""
    key = table[m["customer"]].cast("string").strip()
    key = ibis.ifelse(key.contains("@"), key.lower(), key).nullif("")
    date = table[m["date"]]
    if not date.type().is_date():
        date = date.cast("timestamp").date() if not date.type().is_timestamp() else date.date()
    if "amount" in m:
        value = table[m["amount"]].cast(MONEY)
    elif "quantity" in m:
        value = (table[m["unit_price"]].cast(MONEY) * table[m["quantity"]].cast(MONEY)).cast(MONEY)
    else:
        value = ibis.null().cast(MONEY)
    refunded = table[m["refunded_amount"]].cast(MONEY) if "refunded_amount" in m else ibis.null().cast(MONEY)
    columns = {"customer_id": key, "order_date": date, "value": value, "refunded": refunded}
    if "order_id" in m:
        columns["order_id"] = table[m["order_id"]].cast("string")
    for name in CONTACT_COLUMNS:
        if name in m:
            typ = "boolean" if name.endswith("_consent") else "string"
            columns[name] = table[m[name]].cast(typ)
    return table.select(**columns)


def _orders(ibis: Any, rows: Any, m: dict[str, str]) -> Any:
    """Rows rolled up to orders: by order id; line items without one by customer and day; else a row each."""
    if "order_id" in m:
        key = ["order_id"]
    elif "quantity" in m:
        key = ["customer_id", "order_date"]
    else:
        return rows.select(
            customer_id=rows.customer_id, order_date=rows.order_date, gross=rows.value, refunded=rows.refunded
        )
    metrics = {
        "gross": rows.value.sum(),
        "refunded": rows.refunded.max(),
    }
    if key == ["order_id"]:
        metrics |= {"customer_id": rows.customer_id.max(), "order_date": rows.order_date.min()}
    grouped = rows.group_by(key).aggregate(**metrics)
    return grouped.select("customer_id", "order_date", "gross", "refunded")


def _median_gap(ibis: Any, days: Any) -> Any:
    """Per customer, the exact median of the gaps between purchase days, from row_number and count."""
    gaps = days.filter(days.gap.notnull())
    ranked = gaps.mutate(
        rn=ibis.row_number().over(group_by="customer_id", order_by="gap") + 1,
        n=gaps.gap.count().over(group_by="customer_id"),
    )
    # rows (n + 1) // 2 and n // 2 + 1 (1-based): the middle one, or the middle two, of n sorted gaps
    middle = ranked.filter((ranked.rn == (ranked.n + 1) // 2) | (ranked.rn == ranked.n // 2 + 1))
    return middle.group_by("customer_id").aggregate(
        median_days_between=lambda t: t.gap.cast("float64").mean()
    )


def _with_contacts(ibis: Any, summary: Any, rows: Any, m: dict[str, str], as_of: Any) -> Any:
    """Each contact column from the customer's latest row that has one (consent: on a tie, no wins)."""
    out = summary
    for name in CONTACT_COLUMNS:
        typ = "boolean" if name.endswith("_consent") else "string"
        if name not in m:
            out = out.mutate(**{name: ibis.null().cast(typ)})
            continue
        have = rows.filter(rows.customer_id.notnull(), rows.order_date <= as_of, rows[name].notnull()).select(
            "customer_id", "order_date", value=rows[name]
        )
        # latest first; on a tie the smaller value (consent: false before true, so "no" wins)
        order = [ibis.desc("order_date"), "value"]
        ranked = have.mutate(rn=ibis.row_number().over(group_by="customer_id", order_by=order))
        latest = ranked.filter(ranked.rn == 0).select("customer_id", **{name: ranked.value})
        out = out.left_join(latest, "customer_id").drop("customer_id_right")
    return out
