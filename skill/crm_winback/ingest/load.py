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
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import InputError
from .mapping import LayoutSignature, detect_layout, map_columns
from .parse import (
    DateFormat,
    MoneyFormat,
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
    try:
        return _build(con, source, options, layout, mapping)
    except BaseException:
        con.close()
        raise


def _build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    options: IngestOptions,
    layout: LayoutSignature | None,
    mapping: dict[str, str],
) -> Ingested:
    name = str(source.path)
    con.execute("SET preserve_insertion_order = false")
    shopify = layout is not None and layout.name == "shopify_orders"
    line_mode = "quantity" in mapping and "unit_price" in mapping and not shopify
    plan = _fast_plan(source, mapping) if not (shopify or line_mode) else None
    read: _Read | None = None
    if plan is not None:
        try:
            read = _read_typed(con, source, mapping, plan)
        except duckdb.Error:
            con.execute("DROP TABLE IF EXISTS lines")
            read = None  # a value the sample did not show: the careful path names it
    if read is None:
        read = _read_text(con, source, mapping, options, shopify, line_mode)
    currency = _pick_currency(con, name, options.currency)
    today = options.today or dt.date.today()
    has_order_id, grouped = "order_id" in mapping, read.grouped
    _build_orders(con, has_order_id, grouped, first_row_totals=shopify)

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
        f"""CREATE VIEW classified AS SELECT *,
              CASE
                WHEN customer_id IS NULL THEN 'no customer id'
                WHEN order_date IS NULL THEN 'no order date'
                WHEN {"FALSE" if currency is None else f"coalesce(currency, {sql_string(currency)}) <> {sql_string(currency)}"}
                    THEN 'other currency'
                WHEN order_date > DATE '{today.isoformat()}' THEN 'date in the future'
                WHEN order_date > DATE '{as_of.isoformat()}' THEN 'after the as-of date'
                WHEN cancelled THEN 'cancelled'
                WHEN status_class = 'excluded' THEN 'refunded, voided or failed status'
                WHEN gross > 0 AND refunded >= gross THEN 'refunded in full'
                ELSE NULL END AS exclusion
            FROM all_orders"""
    )
    con.execute(
        f"""CREATE {"TABLE" if grouped else "VIEW"} orders AS SELECT customer_id, order_id, order_date, gross,
                  coalesce(refunded, 0) AS refunded, gross - coalesce(refunded, 0) AS net, n_lines
           FROM classified WHERE exclusion IS NULL AND (gross IS NULL OR gross >= 0)"""
    )
    con.execute(
        """CREATE TABLE returns AS SELECT customer_id, order_id, order_date, gross AS value, n_lines
           FROM classified WHERE exclusion IS NULL AND gross < 0"""
    )
    _build_customers(con)
    # Customers with only returns in the window have no purchase to score.
    only = con.execute(
        "SELECT count(DISTINCT customer_id), coalesce(sum(n_lines), 0) FROM returns "
        "WHERE customer_id NOT IN (SELECT customer_id FROM customers)"
    ).fetchone()
    returns_only = (int(only[0]), int(only[1])) if only else (0, 0)
    _build_customer_info(con, mapping, as_of)
    has_items = "product" in mapping
    if has_items:
        _build_items(con, has_order_id, grouped)
    quality = _quality(
        con,
        source,
        layout,
        mapping,
        read,
        currency,
        returns_only,
        as_of,
        as_of_reason,
    )
    if grouped:  # otherwise orders is a view over the lines, which must stay
        con.execute("DROP VIEW classified")
        con.execute("DROP TABLE all_orders")
        con.execute("DROP TABLE lines")
    return Ingested(con, source, quality, as_of, read.monetary, has_items, mapping)


_CONTACT_ROLES = ("email", "phone", "first_name", "last_name", "email_consent", "sms_consent")


@dataclass
class _Read:
    """How the ``lines`` table was read."""

    rows_read: int
    grouped: bool  # rows roll up to orders by order id (line items) rather than each row being an order
    monetary: bool
    date_fmt: DateFormat
    money_fmt: MoneyFormat
    duplicate_rows: int = 0
    identical_rows: int = 0


_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_TEXT_ROLES = (
    "customer",
    "order_id",
    "status",
    "cancelled_at",
    "currency",
    "email",
    "phone",
    "first_name",
    "last_name",
    "email_consent",
    "sms_consent",
    "product",
    "category",
)


def _fast_plan(source: Source, m: Mapping[str, str]) -> dict[str, str] | None:
    """Column types for a direct typed read, when the sample shows plain ISO dates and plain numbers.

    Only comma/semicolon/tab/pipe CSV qualifies; anything unusual goes through the text path, which parses
    every convention and names bad values with their rows.
    """
    if source.kind != "csv" or source.delimiter == "whitespace" or not source.sample:
        return None
    index = {h: i for i, h in enumerate(source.headers)}

    def values(role: str) -> list[str]:
        i = index[m[role]]
        return [row[i].strip() for row in source.sample if i < len(row) and row[i].strip()]

    dates = values("date")
    if dates and all(_ISO_DATE.fullmatch(v) for v in dates):
        date_type = "DATE"
    elif dates and all(_ISO_TIMESTAMP.fullmatch(v) for v in dates):
        date_type = "TIMESTAMP"
    else:
        return None
    types = {m["date"]: date_type}
    for role in ("amount", "refunded_amount", "quantity"):
        if role in m:
            if not all(_PLAIN_NUMBER.fullmatch(v) for v in values(role)):
                return None
            types[m[role]] = "DECIMAL(18,4)"
    for role in _TEXT_ROLES:
        if role in m:
            types[m[role]] = "VARCHAR"
    if "customer" in m and any("@" in v for v in values("customer")[:50]):
        types["__lower_customer__"] = "yes"
    return types


def _read_typed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], plan: dict[str, str]
) -> _Read:
    """One typed pass over a clean CSV: DuckDB parses dates and numbers while it reads."""
    lower = plan.pop("__lower_customer__", None) is not None
    assert source.delimiter is not None
    comp = ", compression='gzip'" if source.compressed else ""
    enc = ", encoding='latin-1'" if source.encoding == "latin-1" else ""
    types = ", ".join(f"{sql_string(col)}: '{typ}'" for col, typ in plan.items())
    names = ", ".join(sql_string(h) for h in source.headers)
    table = (
        f"read_csv({sql_string(str(source.path))}, header=true, delim={sql_string(source.delimiter)}, "
        f"quote='\"', escape='\"', names=[{names}], types={{{types}}}, null_padding=true{comp}{enc})"
    )
    r = {role: sql_ident(header) for role, header in m.items()}
    exprs = {
        "date": f"CAST({r['date']} AS DATE)",
    }
    if "amount" in m:
        exprs["value"] = r["amount"]
    if "refunded_amount" in m:
        exprs["refunded"] = r["refunded_amount"]
    if "quantity" in m:
        exprs["quantity"] = r["quantity"]
    if "currency" in m:
        exprs["currency"] = f"upper(nullif(trim({r['currency']}), ''))"
    con.execute(f"CREATE TABLE lines AS {_lines_select(m, r, exprs, lower)} FROM {table}")
    rows = _scalar(con, "SELECT count(*) FROM lines")
    if rows == 0:
        raise InputError(f"{source.path}: only a header line and no rows; export the orders again")
    grouped = False
    if "order_id" in m:
        grouped = _order_ids_repeat(con, "lines", "order_id")
        if grouped:  # order ids repeat: duplicates must be judged on every column, on the text path
            raise duckdb.InvalidInputException("order ids repeat")
    identical = 0
    if "order_id" not in m:
        identical = rows - _scalar(con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {table})")
    date_fmt = DateFormat("iso", "every value has this shape")
    return _Read(rows, grouped, "amount" in m, date_fmt, MoneyFormat(False, True, ()), 0, identical)


_LINE_DEFAULTS = {
    "order_id": "NULL::VARCHAR", "value": "NULL::DECIMAL(18,4)", "refunded": "NULL::DECIMAL(18,4)",
    "status_class": "NULL::VARCHAR", "cancelled": "FALSE", "currency": "NULL::VARCHAR", "email": "NULL::VARCHAR",
    "phone": "NULL::VARCHAR", "first_name": "NULL::VARCHAR", "last_name": "NULL::VARCHAR",
    "email_consent": "NULL::BOOLEAN", "sms_consent": "NULL::BOOLEAN", "product": "NULL::VARCHAR",
    "category": "NULL::VARCHAR", "quantity": "NULL::DECIMAL(18,4)",
}  # fmt: skip


def _lines_select(m: Mapping[str, str], r: Mapping[str, str], exprs: Mapping[str, str], lower: bool) -> str:
    """The SELECT list of the ``lines`` table, shared by the typed and the text path.

    Only columns the export has are stored (an in-memory column of NULLs still costs memory); readers get
    the rest as constants through :func:`line_col`.
    """

    def text(role: str, lowercase: bool = False) -> str | None:
        if role not in m:
            return None
        return f"lower(nullif(trim({r[role]}), ''))" if lowercase else f"nullif(trim({r[role]}), '')"

    columns = {
        "customer_id": text("customer", lower),
        "order_id": text("order_id"),
        "order_date": exprs["date"],
        "value": exprs.get("value"),
        "refunded": exprs.get("refunded"),
        "status_class": status_class_sql(r["status"]) if "status" in m else None,
        "cancelled": f"nullif(trim({r['cancelled_at']}), '') IS NOT NULL" if "cancelled_at" in m else None,
        "currency": exprs.get("currency"),
        "email": text("email", lowercase=True),
        "phone": text("phone"),
        "first_name": text("first_name"),
        "last_name": text("last_name"),
        "email_consent": _consent_sql(r["email_consent"]) if "email_consent" in m else None,
        "sms_consent": _consent_sql(r["sms_consent"]) if "sms_consent" in m else None,
        "product": text("product"),
        "category": text("category"),
        "quantity": exprs.get("quantity"),
    }
    return "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in columns.items() if expr is not None)


def line_col(con: duckdb.DuckDBPyConnection, name: str, prefix: str = "") -> str:
    """``prefix + name`` when the ``lines`` table stores the column, else its constant default."""
    present = {d[0] for d in con.execute("SELECT * FROM lines LIMIT 0").description}
    return f"{prefix}{name}" if name in present else _LINE_DEFAULTS[name]


def _read_text(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    m: Mapping[str, str],
    options: IngestOptions,
    shopify: bool,
    line_mode: bool,
) -> _Read:
    """The careful path: every column as text, conventions detected over all values, bad values located."""
    name = str(source.path)
    try:
        con.execute(f"CREATE TABLE src AS SELECT * FROM {source.sql}")
    except duckdb.Error as exc:
        raise InputError(
            f"{name}: could not be read as {source.describe()} ({_short(exc)}); "
            "check that it is an unmodified export"
        ) from None
    r = {role: sql_ident(header) for role, header in m.items()}
    rows_read = _scalar(con, "SELECT count(*) FROM src")
    if rows_read == 0:
        raise InputError(f"{name}: only a header line and no rows; export the orders again")
    date_fmt = detect_date_format(con, "src", m["date"], name, m["date"], options.date_format)
    money_roles = [x for x in ("amount", "unit_price", "refunded_amount") if x in m]
    money_fmt = detect_money_format(con, "src", [m[x] for x in money_roles])
    monetary = "amount" in m or ("quantity" in m and "unit_price" in m)
    quantity = (
        f"TRY_CAST(trim({r['quantity']}) AS DECIMAL(18,4))" if "quantity" in m else "NULL::DECIMAL(18,4)"
    )
    if not monetary:
        value_sql = "NULL::DECIMAL(18,4)"
    elif line_mode:
        value_sql = f"({money_sql(r['unit_price'], money_fmt)} * {quantity})"
    else:
        value_sql = money_sql(r["amount"], money_fmt)
    _check_parsed(con, source, m, "date", date_sql(r["date"], date_fmt), date_fmt.label)
    if monetary:
        for role in money_roles:
            _check_parsed(con, source, m, role, money_sql(r[role], money_fmt), "an amount")
        if line_mode:
            _check_parsed(con, source, m, "quantity", quantity, "a quantity")
    lower = m.get("customer") == m.get("email") or "@" in (_first_value(con, m["customer"]) or "")
    has_order_id = "order_id" in m
    # Rows roll up to orders for line items (and Shopify), or when order ids repeat (line totals).
    grouped = shopify or line_mode
    if has_order_id and not grouped:
        grouped = _order_ids_repeat(con, "src", r["order_id"])
    # With an order id, a row identical in every column to another is a duplicate: drop it (and count it).
    # Unique order ids cannot have duplicates. Without an order id, identical rows may be real repeat
    # purchases: keep them and flag them.
    dedupe = has_order_id and grouped
    currency_sql = "NULL::VARCHAR"
    if "currency" in m:
        currency_sql = f"upper(nullif(trim({r['currency']}), ''))"
    elif money_fmt.symbols and "amount" in m:
        currency_sql = mark_sql(r["amount"])
    exprs = {
        "date": date_sql(r["date"], date_fmt),
        "value": value_sql,
        "refunded": money_sql(r["refunded_amount"], money_fmt)
        if "refunded_amount" in m
        else "NULL::DECIMAL(18,4)",
        "quantity": quantity,
        "currency": currency_sql,
    }
    rows_from = "(SELECT DISTINCT * FROM src)" if dedupe else "src"
    con.execute(f"CREATE TABLE lines AS {_lines_select(m, r, exprs, lower)} FROM {rows_from}")
    duplicate_rows = rows_read - _scalar(con, "SELECT count(*) FROM lines") if dedupe else 0
    identical_rows = 0
    if not has_order_id:
        identical_rows = rows_read - _scalar(con, "SELECT count(*) FROM (SELECT DISTINCT * FROM src)")
    con.execute("DROP TABLE src")
    return _Read(rows_read, grouped, monetary, date_fmt, money_fmt, duplicate_rows, identical_rows)


def _build_customer_info(con: duckdb.DuckDBPyConnection, m: Mapping[str, str], as_of: dt.date) -> None:
    """Per customer, the contact details and consent of their latest order (ties: consent false wins)."""
    if not any(role in m for role in _CONTACT_ROLES):
        con.execute(
            """CREATE TABLE customer_info (customer_id VARCHAR, email VARCHAR, phone VARCHAR, first_name VARCHAR,
                   last_name VARCHAR, email_consent BOOLEAN, sms_consent BOOLEAN)"""
        )
        return
    c = {name: line_col(con, name) for name in _CONTACT_ROLES}
    latest = {
        name: f"arg_max({c[name]}, order_date) FILTER (WHERE {c[name]} IS NOT NULL)"
        for name in _CONTACT_ROLES[:4]
    }
    # consent: the latest order's answer; on a tie, "no" wins
    for name in ("email_consent", "sms_consent"):
        latest[name] = f"arg_max({c[name]}, (order_date, NOT {c[name]})) FILTER (WHERE {c[name]} IS NOT NULL)"
    select = ", ".join(f"{expr} AS {name}" for name, expr in latest.items())
    con.execute(
        f"""CREATE TABLE customer_info AS SELECT customer_id, {select}
           FROM lines WHERE customer_id IS NOT NULL AND order_date <= ?
           GROUP BY customer_id""",
        [as_of],
    )


def _build_customers(con: duckdb.DuckDBPyConnection) -> None:
    """The per-customer summary: dates, orders, purchase days and the gaps between them, gross and net."""
    con.execute(
        """CREATE TABLE customers AS
           WITH agg AS (
               SELECT customer_id, min(order_date) AS first_order_date, max(order_date) AS last_order_date,
                      count(*) AS orders, list_sort(list_distinct(list(order_date))) AS days,
                      sum(gross) AS gross_total, sum(net) AS net_orders
               FROM orders GROUP BY customer_id),
           ret AS (SELECT customer_id, sum(value) AS returned FROM returns GROUP BY customer_id)
           SELECT a.customer_id, first_order_date, last_order_date, orders, len(days) AS purchase_days,
                  list_transform(range(1, len(days)), lambda i: date_diff('day', days[i], days[i + 1])) AS gaps,
                  CAST(gross_total AS DOUBLE) AS gross_total,
                  CAST(net_orders + coalesce(returned, 0) AS DOUBLE) AS net_total
           FROM agg a LEFT JOIN ret USING (customer_id)"""
    )


def _build_items(con: duckdb.DuckDBPyConnection, has_order_id: bool, grouped: bool) -> None:
    """Purchase lines with a product, for product and category rules."""
    if grouped:
        key = "l.order_id" if has_order_id else "l.customer_id || '|' || CAST(l.order_date AS VARCHAR)"
        source = f"lines l JOIN orders o ON o.customer_id = l.customer_id AND o.order_id = {key}"
        select = "l.customer_id, o.order_id, o.order_date"
    else:
        source = "lines l JOIN orders o ON o.order_id = " + (
            "l.order_id" if has_order_id else "'row ' || CAST(l.rowid AS VARCHAR)"
        )
        select = "l.customer_id, o.order_id, o.order_date"
    product, category, quantity, value = (
        line_col(con, c, "l.") for c in ("product", "category", "quantity", "value")
    )
    con.execute(
        f"""CREATE TABLE items AS SELECT {select}, {product} AS product, {category} AS category,
                   {quantity} AS quantity, {value} AS value
            FROM {source} WHERE {product} IS NOT NULL AND ({value} IS NULL OR {value} > 0)"""
    )


def _build_orders(
    con: duckdb.DuckDBPyConnection, has_order_id: bool, grouped: bool, first_row_totals: bool
) -> None:
    """Roll lines up to orders; when each row is an order, a view over the lines is enough.

    Without an order id a row is an order; for line items the order is the customer's day.
    """
    value, refunded, status, cancelled, currency = (
        line_col(con, c) for c in ("value", "refunded", "status_class", "cancelled", "currency")
    )
    if not grouped:
        order_id = "order_id" if has_order_id else "'row ' || CAST(rowid AS VARCHAR)"
        con.execute(
            f"""CREATE VIEW all_orders AS SELECT customer_id, {order_id} AS order_id, order_date,
                   {value} AS gross, {refunded} AS refunded, {status} AS status_class, {cancelled} AS cancelled,
                   {currency} AS currency, 1 AS n_lines
               FROM lines"""
        )
        return
    key = "order_id" if has_order_id else "customer_id || '|' || CAST(order_date AS VARCHAR)"
    gross = f"max({value})" if first_row_totals else f"sum({value})"  # Shopify: the total is on the first row
    con.execute(
        f"""CREATE TABLE all_orders AS SELECT
               max(customer_id) AS customer_id, {key} AS order_id,
               min(order_date) AS order_date, {gross} AS gross, max({refunded}) AS refunded,
               CASE WHEN bool_or({status} = 'excluded') THEN 'excluded' ELSE max({status}) END AS status_class,
               bool_or({cancelled}) AS cancelled, max({currency}) AS currency, count(*) AS n_lines
            FROM lines GROUP BY {key}"""
    )


def _pick_currency(con: duckdb.DuckDBPyConnection, name: str, chosen: str | None) -> str | None:
    """The one currency of the file, or the one the user chose when it mixes several."""
    currency = line_col(con, "currency")
    found = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT {currency} FROM lines WHERE {currency} IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
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


def _first_value(con: duckdb.DuckDBPyConnection, column: str) -> str | None:
    row = con.execute(
        f"SELECT {sql_ident(column)} FROM src WHERE {sql_ident(column)} IS NOT NULL LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _check_parsed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], role: str, parsed: str, what: str
) -> None:
    """Every non-empty value of a column must parse; otherwise name the first bad value and its row."""
    col = sql_ident(m[role])
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


def _order_ids_repeat(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether any order id occurs on more than one row.

    Counting distinct 64-bit hashes is much cheaper than distinct strings. Equal ids always hash equal, so
    "no repeated hash" proves "no repeated id"; a repeated hash is confirmed on the ids themselves.
    """
    if _scalar(con, f"SELECT count({column}) - count(DISTINCT hash({column})) FROM {table}") == 0:
        return False
    return _scalar(con, f"SELECT count({column}) - count(DISTINCT {column}) FROM {table}") > 0


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
    read: _Read,
    currency: str | None,
    returns_only: tuple[int, int],
    as_of: dt.date,
    as_of_reason: str,
) -> QualityReport:
    date_fmt, money_fmt, monetary, rows_read = read.date_fmt, read.money_fmt, read.monetary, read.rows_read
    duplicate_rows, identical_rows = read.duplicate_rows, read.identical_rows
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
        "SELECT (SELECT count(*) FROM customers), count(*), min(order_date), max(order_date), sum(gross), "
        "sum(refunded) FROM orders"
    ).fetchone()
    assert stats is not None
    customers, orders, first, last, gross, refunds = stats
    returns_value = ret[2] if ret[0] else 0
    net = None if not monetary or gross is None else gross - refunds + (returns_value or 0)
    # ids that never made it to a customer: excluded orders or returns only
    ids_found = customers + _scalar(
        con,
        "SELECT count(DISTINCT customer_id) FROM classified WHERE customer_id IS NOT NULL "
        "AND (exclusion IS NOT NULL OR gross < 0) AND customer_id NOT IN (SELECT customer_id FROM customers)",
    )
    repeat = con.execute(
        "SELECT count(*) FILTER (WHERE orders > 1), (SELECT median(g) FROM (SELECT unnest(gaps) AS g FROM customers)) "
        "FROM customers"
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
