"""From an export file to a clean ``orders`` table in DuckDB, with the quality report.

Tables left in the connection for the scorer and later features:
- ``orders``: one row per purchase (customer_id, order_id, order_date, gross, refunded, net, items);
- ``returns``: one row per return document (negative invoice) per customer, with its (negative) value;
- ``customer_info``: per customer, the latest email, phone, names and consent flags found;
- ``items``: per purchase line with a product (customer_id, order_id, order_date, product, category,
  quantity, value) when the export has a product column.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import InputError
from .mapping import LayoutSignature, detect_layout, map_columns
from .parse import (
    DateFormat,
    MoneyFormat,
    currency_of_mark,
    date_sql,
    detect_date_format,
    detect_money_format,
    mark_sql,
    money_sql,
)
from .quality import Exclusion, QualityReport, assess_confidence
from .reader import Source, open_source, sql_ident, sql_string
from .status import status_class_sql

_TRUE = ("yes", "y", "true", "t", "1", "subscribed", "opted_in", "opt_in", "optin", "accepted", "granted")
_FALSE = (
    "no",
    "n",
    "false",
    "f",
    "0",
    "unsubscribed",
    "opted_out",
    "opt_out",
    "optout",
    "declined",
    "not_subscribed",
    "never_subscribed",
    "revoked",
    "pending",
)


@dataclass
class IngestOptions:
    column_map: Mapping[str, str] = field(default_factory=dict)
    as_of: dt.date | None = None
    currency: str | None = None
    date_format: str | None = None
    today: dt.date | None = None  # what "the future" means; tests pin it


@dataclass
class Ingested:
    con: duckdb.DuckDBPyConnection
    source: Source
    quality: QualityReport
    as_of: dt.date
    monetary: bool
    has_items: bool
    mapping: dict[str, str]

    def close(self) -> None:
        self.con.close()
        self.source.close()


def _col(mapping: Mapping[str, str], role: str) -> str:
    return sql_ident(mapping[role]) if role in mapping else "NULL"


def _consent_sql(expr: str) -> str:
    norm = f"regexp_replace(lower(trim({expr})), '[^a-z0-9]+', '_', 'g')"
    yes = ", ".join(sql_string(v) for v in _TRUE)
    no = ", ".join(sql_string(v) for v in _FALSE)
    return f"(CASE WHEN {norm} IN ({yes}) THEN TRUE WHEN {norm} IN ({no}) THEN FALSE ELSE NULL END)"


def load_orders(path: str | Path, options: IngestOptions | None = None) -> Ingested:
    """Read ``path`` and build the ``orders`` table. Raises :class:`InputError` for unusable input."""
    options = options or IngestOptions()
    source = open_source(path)
    try:
        return _load(source, options)
    except BaseException:
        source.close()
        raise


def _load(source: Source, options: IngestOptions) -> Ingested:
    name = str(source.path)
    layout = detect_layout(source.headers)
    mapping = map_columns(source.headers, options.column_map, layout, name)
    for role in ("customer", "date"):
        if role not in mapping:
            raise InputError(
                f"{name}: no {'customer' if role == 'customer' else 'order date'} column found among "
                f"{', '.join(repr(h) for h in source.headers)}; name it with --map {role}=COLUMN "
                f'(e.g. --map customer=Email,date="Created at",amount=Total)'
            )
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    m = mapping
    selected = {role: header for role, header in m.items()}
    cols = ", ".join(f"{sql_ident(h)} AS {sql_ident(r)}" for r, h in selected.items())
    # With an order id, a row identical in every column to another is a duplicate: drop it (and count it).
    # Without one, identical rows may be real repeat purchases: keep them and flag them.
    has_order_id = "order_id" in m
    every = ", ".join(sql_ident(h) for h in source.headers)
    rows_sql = (
        f"(SELECT {cols}, count(*) AS _copies FROM {source.sql} GROUP BY {every})"
        if has_order_id
        else f"(SELECT {cols}, 1 AS _copies FROM {source.sql})"
    )
    try:
        con.execute(f"CREATE TABLE src AS SELECT * FROM {rows_sql}")
    except duckdb.Error as exc:
        con.close()
        raise InputError(
            f"{name}: could not be read as {source.describe()} ({_short(exc)}); "
            "check that it is an unmodified export"
        ) from None
    r = {role: sql_ident(role) for role in selected}  # columns of src are named after their roles

    rows_read = _scalar(con, "SELECT coalesce(sum(_copies), 0) FROM src")
    if rows_read == 0:
        raise InputError(f"{name}: only a header line and no rows; export the orders again")

    date_fmt = detect_date_format(con, "src", "date", name, m["date"], options.date_format)
    money_roles = [x for x in ("amount", "unit_price", "refunded_amount") if x in m]
    money_fmt = detect_money_format(con, "src", money_roles)
    monetary = "amount" in m or ("quantity" in m and "unit_price" in m)
    shopify = layout is not None and layout.name == "shopify_orders"
    line_mode = "quantity" in m and "unit_price" in m and not shopify
    if not monetary:
        value_sql = "NULL::DECIMAL(18,4)"
    elif line_mode:
        value_sql = (
            f"({money_sql(r['unit_price'], money_fmt)} * TRY_CAST(trim({r['quantity']}) AS DECIMAL(18,4)))"
        )
    else:
        value_sql = money_sql(r["amount"], money_fmt)

    _check_parsed(con, source, m, "date", date_sql(r["date"], date_fmt), date_fmt.label)
    if monetary:
        for role in money_roles:
            _check_parsed(con, source, m, role, money_sql(r[role], money_fmt), "an amount")
        if line_mode:
            _check_parsed(
                con, source, m, "quantity", f"TRY_CAST(trim({r['quantity']}) AS DECIMAL(18,4))", "a quantity"
            )

    currency = _pick_currency(con, name, m, r, money_fmt, options.currency)
    customer_expr = f"nullif(trim({r['customer']}), '')"
    if m.get("customer") == m.get("email") or "@" in (_first_value(con, "customer") or ""):
        customer_expr = f"lower({customer_expr})"
    refunded_sql = money_sql(r["refunded_amount"], money_fmt) if "refunded_amount" in m else "NULL"
    currency_sql = "NULL"
    if "currency" in m:
        currency_sql = f"upper(nullif(trim({r['currency']}), ''))"
    elif money_fmt.symbols and "amount" in m:
        currency_sql = mark_sql(r["amount"])
    con.execute(
        f"""CREATE TABLE lines AS SELECT
              {customer_expr} AS customer_id,
              {f"nullif(trim({r['order_id']}), '')" if has_order_id else "NULL"} AS order_id,
              {date_sql(r["date"], date_fmt)} AS order_date,
              {value_sql} AS value,
              {refunded_sql} AS refunded,
              {status_class_sql(r["status"]) if "status" in m else "NULL"} AS status_class,
              {f"nullif(trim({r['cancelled_at']}), '') IS NOT NULL" if "cancelled_at" in m else "FALSE"} AS cancelled,
              {currency_sql} AS currency,
              {f"lower(nullif(trim({r['email']}), ''))" if "email" in m else "NULL"} AS email,
              {f"nullif(trim({r['phone']}), '')" if "phone" in m else "NULL"} AS phone,
              {f"nullif(trim({r['first_name']}), '')" if "first_name" in m else "NULL"} AS first_name,
              {f"nullif(trim({r['last_name']}), '')" if "last_name" in m else "NULL"} AS last_name,
              {_consent_sql(r["email_consent"]) if "email_consent" in m else "NULL::BOOLEAN"} AS email_consent,
              {_consent_sql(r["sms_consent"]) if "sms_consent" in m else "NULL::BOOLEAN"} AS sms_consent,
              {f"nullif(trim({r['product']}), '')" if "product" in m else "NULL"} AS product,
              {f"nullif(trim({r['category']}), '')" if "category" in m else "NULL"} AS category,
              {f"TRY_CAST(trim({r['quantity']}) AS DECIMAL(18,4))" if "quantity" in m else "NULL"} AS quantity
            FROM src"""
    )
    duplicate_rows = rows_read - _scalar(con, "SELECT count(*) FROM lines") if has_order_id else 0
    identical_rows = 0
    if not has_order_id:
        identical_rows = rows_read - _scalar(
            con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {source.sql})"
        )
    con.execute("DROP TABLE src")

    today = options.today or dt.date.today()
    order_level_fields = shopify  # Shopify fills order fields on the first line only
    _build_orders(
        con, has_order_id, line_mode or (has_order_id and not order_level_fields), order_level_fields
    )

    latest = con.execute(
        "SELECT max(order_date) FROM all_orders WHERE customer_id IS NOT NULL AND order_date <= ?", [today]
    ).fetchone()
    if latest is None or latest[0] is None:
        raise InputError(
            f"{name}: no order has both a customer and a date on or before {today}; "
            "check the --map of customer and date"
        )
    if options.as_of is not None:
        as_of, as_of_reason = options.as_of, "set with --as-of"
    else:
        as_of, as_of_reason = latest[0], "the latest order date in the file (set another with --as-of)"

    con.execute(
        """CREATE TABLE classified AS SELECT *,
              CASE
                WHEN customer_id IS NULL THEN 'no customer id'
                WHEN order_date IS NULL THEN 'no order date'
                WHEN ? IS NOT NULL AND coalesce(currency, ?) <> ? THEN 'other currency'
                WHEN order_date > ? THEN 'date in the future'
                WHEN order_date > ? THEN 'after the as-of date'
                WHEN cancelled THEN 'cancelled'
                WHEN status_class = 'excluded' THEN 'refunded, voided or failed status'
                WHEN gross > 0 AND refunded >= gross THEN 'refunded in full'
                ELSE NULL END AS exclusion
            FROM all_orders""",
        [currency, currency, currency, today, as_of],
    )
    con.execute(
        """CREATE TABLE orders AS SELECT customer_id, order_id, order_date, gross,
                  coalesce(refunded, 0) AS refunded, gross - coalesce(refunded, 0) AS net, n_lines
           FROM classified WHERE exclusion IS NULL AND (gross IS NULL OR gross >= 0)"""
    )
    con.execute(
        """CREATE TABLE returns AS SELECT customer_id, order_id, order_date, gross AS value, n_lines
           FROM classified WHERE exclusion IS NULL AND gross < 0"""
    )
    # Customers with only returns in the window have no purchase to score.
    only = con.execute(
        "SELECT count(DISTINCT customer_id), coalesce(sum(n_lines), 0) FROM returns "
        "WHERE customer_id NOT IN (SELECT customer_id FROM orders)"
    ).fetchone()
    returns_only = (int(only[0]), int(only[1])) if only else (0, 0)
    con.execute(
        """CREATE TABLE customer_info AS SELECT customer_id,
              arg_max(email, order_date) FILTER (WHERE email IS NOT NULL) AS email,
              arg_max(phone, order_date) FILTER (WHERE phone IS NOT NULL) AS phone,
              arg_max(first_name, order_date) FILTER (WHERE first_name IS NOT NULL) AS first_name,
              arg_max(last_name, order_date) FILTER (WHERE last_name IS NOT NULL) AS last_name,
              arg_max(email_consent, (order_date, NOT email_consent)) FILTER (WHERE email_consent IS NOT NULL)
                  AS email_consent,
              arg_max(sms_consent, (order_date, NOT sms_consent)) FILTER (WHERE sms_consent IS NOT NULL)
                  AS sms_consent
           FROM lines WHERE customer_id IS NOT NULL AND order_date <= ?
           GROUP BY customer_id""",
        [as_of],
    )
    has_items = "product" in m
    if has_items:
        key = "order_id" if has_order_id else "NULL"
        con.execute(
            f"""CREATE TABLE items AS SELECT l.customer_id, o.order_id, o.order_date, l.product, l.category,
                   l.quantity, l.value
                FROM lines l JOIN orders o ON o.customer_id = l.customer_id
                  AND o.order_id = coalesce(l.{key}, l.customer_id || '|' || CAST(l.order_date AS VARCHAR))
                WHERE l.product IS NOT NULL AND (l.value IS NULL OR l.value > 0)"""
        )
    quality = _quality(
        con,
        source,
        layout,
        mapping,
        date_fmt,
        money_fmt,
        currency,
        monetary,
        rows_read,
        duplicate_rows,
        identical_rows,
        returns_only,
        as_of,
        as_of_reason,
    )
    con.execute("DROP TABLE lines")
    con.execute("DROP TABLE all_orders")
    return Ingested(con, source, quality, as_of, monetary, has_items, mapping)


def _build_orders(
    con: duckdb.DuckDBPyConnection, has_order_id: bool, sum_lines: bool, first_row: bool
) -> None:
    """Roll lines up to orders. Without an order id, a row is an order (or, for line items, a customer-day)."""
    line_items = sum_lines
    if not has_order_id and not line_items:
        con.execute(
            """CREATE TABLE all_orders AS SELECT customer_id,
                   CAST(row_number() OVER () AS VARCHAR) AS order_id, order_date, value AS gross,
                   refunded, status_class, cancelled, currency, 1 AS n_lines
               FROM lines"""
        )
        return
    key = "order_id" if has_order_id else "customer_id || '|' || CAST(order_date AS VARCHAR)"
    gross = "max(value)" if first_row else "sum(value)"
    con.execute(
        f"""CREATE TABLE all_orders AS SELECT
               max(customer_id) AS customer_id, {key if not has_order_id else "order_id"} AS order_id,
               min(order_date) AS order_date, {gross} AS gross, max(refunded) AS refunded,
               CASE WHEN bool_or(status_class = 'excluded') THEN 'excluded' ELSE max(status_class) END
                   AS status_class,
               bool_or(cancelled) AS cancelled, max(currency) AS currency, count(*) AS n_lines
            FROM lines GROUP BY {key}"""
    )


def _pick_currency(
    con: duckdb.DuckDBPyConnection,
    name: str,
    m: Mapping[str, str],
    r: Mapping[str, str],
    money_fmt: MoneyFormat,
    chosen: str | None,
) -> str | None:
    if "currency" in m:
        found = [
            row[0]
            for row in con.execute(
                f"SELECT DISTINCT upper(trim({r['currency']})) FROM src WHERE nullif(trim({r['currency']}), '') "
                "IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
    else:
        found = sorted({currency_of_mark(s) for s in money_fmt.symbols})
        if found and len(found) > 1 and chosen:
            raise InputError(
                f"{name}: amounts carry several currency marks ({', '.join(money_fmt.symbols)}) "
                "and no currency column to filter by; export one currency at a time"
            )
    if chosen:
        chosen = chosen.upper()
        if found and chosen not in found:
            raise InputError(f"{name}: --currency {chosen} does not occur; the file has {', '.join(found)}")
        return chosen
    if len(found) > 1:
        raise InputError(
            f"{name}: the file mixes currencies ({', '.join(found)}); rerun with --currency "
            f"{found[0]} (or another) to score one of them"
        )
    return found[0] if found else None


def _first_value(con: duckdb.DuckDBPyConnection, role: str) -> str | None:
    row = con.execute(
        f"SELECT {sql_ident(role)} FROM src WHERE {sql_ident(role)} IS NOT NULL LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _check_parsed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], role: str, parsed: str, what: str
) -> None:
    """Every non-empty value of a column must parse; otherwise name the first bad value and its row."""
    col = sql_ident(role)
    bad = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT {col} FROM src WHERE nullif(trim({col}), '') IS NOT NULL AND {parsed} IS NULL LIMIT 1000"
        ).fetchall()
    ]
    if not bad:
        return
    row_no, value = _locate(source, m[role], set(bad))
    where = f"row {row_no}" if row_no else "a row"
    raise InputError(
        f"{source.path}: column '{m[role]}', {where}: cannot read {value!r} as {what}; fix the value "
        f"or map another column with --map {role}=COLUMN"
    )


def _locate(source: Source, header: str, bad: set[str]) -> tuple[int | None, str]:
    """Find the first data row (1 = first row after the header) holding one of ``bad`` values."""
    fallback = sorted(bad)[0]
    if source.kind != "csv":
        return None, fallback
    try:
        opener = gzip.open if source.compressed else open
        with opener(source.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=source.encoding, errors="replace", newline="")
            index = source.headers.index(header)
            if source.delimiter == "whitespace":
                rows: Iterator[list[str]] = (line.split() for line in text)
            else:
                rows = csv.reader(text, delimiter=source.delimiter or ",")
            next(rows, None)
            for number, row in enumerate(rows, start=1):
                if index < len(row) and row[index].strip() in bad:
                    return number, row[index].strip()
    except (OSError, ValueError, csv.Error):
        pass
    return None, fallback


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _money(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]


def _quality(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    layout: LayoutSignature | None,
    mapping: dict[str, str],
    date_fmt: DateFormat,
    money_fmt: MoneyFormat,
    currency: str | None,
    monetary: bool,
    rows_read: int,
    duplicate_rows: int,
    identical_rows: int,
    returns_only: tuple[int, int],
    as_of: dt.date,
    as_of_reason: str,
) -> QualityReport:
    exclusions: list[Exclusion] = []
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
    ret = con.execute("SELECT count(*), coalesce(sum(n_lines), 0), sum(value) FROM returns").fetchone()
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
    zero = _scalar(con, "SELECT count(*) FROM orders WHERE gross = 0")
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
    pending = _scalar(
        con, "SELECT count(*) FROM classified WHERE exclusion IS NULL AND status_class = 'kept_flagged'"
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
    unknown = _scalar(
        con, "SELECT count(*) FROM classified WHERE exclusion IS NULL AND status_class = 'unknown'"
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
    used = _scalar(con, "SELECT coalesce(sum(n_lines), 0) FROM classified WHERE exclusion IS NULL")
    stats = con.execute(
        """SELECT count(DISTINCT customer_id), count(*), min(order_date), max(order_date),
                  sum(gross), sum(refunded)
           FROM orders"""
    ).fetchone()
    assert stats is not None
    customers, orders, first, last, gross, refunds = stats
    returns_value = ret[2] if ret[0] else 0
    net = None if not monetary or gross is None else gross - refunds + (returns_value or 0)
    ids_found = _scalar(con, "SELECT count(DISTINCT customer_id) FROM lines WHERE customer_id IS NOT NULL")
    repeat = con.execute(
        """WITH days AS (SELECT DISTINCT customer_id, order_date FROM orders),
                gaps AS (SELECT customer_id,
                           date_diff('day', lag(order_date) OVER (PARTITION BY customer_id ORDER BY order_date),
                                     order_date) AS gap FROM days)
           SELECT (SELECT count(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) > 1)),
                  median(gap) FROM gaps WHERE gap IS NOT NULL"""
    ).fetchone()
    assert repeat is not None
    repeat_customers, median_gap = int(repeat[0]), repeat[1]
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
        elif "order_id" in mapping and _scalar(con, "SELECT count(*) FROM classified WHERE n_lines > 1"):
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
