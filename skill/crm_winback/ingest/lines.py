"""Read an export's rows into the typed ``lines`` table: one fast typed pass for clean CSV, or the careful
text path that detects every convention and names bad values with their rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import duckdb

from ..errors import InputError
from ..workdb import first_row
from .parse import (
    DateFormat,
    MoneyFormat,
    blank_sql,
    date_sql,
    detect_date_format,
    detect_money_format,
    mark_sql,
    money_sql,
    null_word_sql,
)
from .reader import ReadAgain, Source, describe_read_error, sql_ident, sql_string
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


def _consent_sql(expr: str) -> str:
    norm = f"regexp_replace(lower(trim({expr})), '[^a-z0-9]+', '_', 'g')"
    yes = ", ".join(sql_string(v) for v in _TRUE)
    no = ", ".join(sql_string(v) for v in _FALSE)
    return f"(CASE WHEN {norm} IN ({yes}) THEN TRUE WHEN {norm} IN ({no}) THEN FALSE ELSE NULL END)"


@dataclass
class LinesRead:
    """How the ``lines`` table was read."""

    rows_read: int
    grouped: bool  # rows roll up to orders by order id (line items) rather than each row being an order
    monetary: bool
    date_fmt: DateFormat
    money_fmt: MoneyFormat
    duplicate_rows: int = 0
    identical_rows: int = 0


_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_PLAIN_ID_NUMBER = re.compile(r"[1-9]\d{0,17}")
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


@dataclass(frozen=True)
class FastPlan:
    """Column types for DuckDB to parse while it reads.

    ``integer_ids``: the order ids are read as BIGINT (every sampled id a plain number without leading
    zeros). Should a later id not be one, the read fails and the text path takes over; should two ids
    differ only as text ("05", "5"), the repeat check sends the file to the text path, which compares text.
    """

    types: dict[str, str]
    integer_ids: bool = False


def fast_plan(source: Source, m: Mapping[str, str]) -> FastPlan | None:
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
    integer_ids = "order_id" in m and all(_PLAIN_ID_NUMBER.fullmatch(v) for v in values("order_id"))
    if integer_ids:
        types[m["order_id"]] = "BIGINT"
    return FastPlan(types, integer_ids)


def read_typed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], plan: FastPlan
) -> LinesRead | None:
    """One typed pass over a clean CSV: DuckDB parses dates and numbers while it reads.

    None when the file needs the text path after all: a value the sample did not show (DuckDB cannot parse
    it, and the text path names it with its row), or order ids that repeat (duplicates must then be judged on
    every column).
    """
    try:
        return _read_typed(con, source, m, plan)
    except duckdb.Error:
        con.execute("DROP TABLE IF EXISTS lines")
        return None


def _read_typed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], plan: FastPlan
) -> LinesRead | None:
    # every column's type given: DuckDB skips sniffing the file (~25 ms, a few percent of a 100k-line run)
    table = source.csv_table(plan.types)
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
    if plan.integer_ids:
        exprs["order_id"] = r["order_id"]  # kept as BIGINT; the orders view shows it as text
    con.execute(f"CREATE TABLE lines AS {_lines_select(m, r, exprs)} FROM {table}")
    rows = scalar(con, "SELECT count(*) FROM lines")
    if rows == 0:
        raise InputError(f"{source.path}: only a header line and no rows; export the orders again")
    if "order_id" in m and _order_ids_repeat(con, "lines", "order_id"):
        con.execute("DROP TABLE lines")
        return None
    identical = 0
    if "order_id" not in m:
        identical = rows - scalar(con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {table})")
    date_fmt = DateFormat("iso", "every value has this shape")
    return LinesRead(rows, False, "amount" in m, date_fmt, MoneyFormat(False, True, ()), 0, identical)


_LINE_DEFAULTS = {
    "order_id": "NULL::VARCHAR", "value": "NULL::DECIMAL(18,4)", "refunded": "NULL::DECIMAL(18,4)",
    "status_class": "NULL::VARCHAR", "cancelled": "FALSE", "currency": "NULL::VARCHAR", "email": "NULL::VARCHAR",
    "phone": "NULL::VARCHAR", "first_name": "NULL::VARCHAR", "last_name": "NULL::VARCHAR",
    "email_consent": "NULL::BOOLEAN", "sms_consent": "NULL::BOOLEAN", "product": "NULL::VARCHAR",
    "category": "NULL::VARCHAR", "quantity": "NULL::DECIMAL(18,4)",
}  # fmt: skip


def _lines_select(m: Mapping[str, str], r: Mapping[str, str], exprs: Mapping[str, str]) -> str:
    """The SELECT list of the ``lines`` table, shared by the typed and the text path.

    Only columns the export has are stored (an in-memory column of NULLs still costs memory); readers get
    the rest as constants through :func:`line_col`.
    """

    def text(role: str, lowercase: bool = False) -> str | None:
        if role not in m:
            return None
        return f"lower(nullif(trim({r[role]}), ''))" if lowercase else f"nullif(trim({r[role]}), '')"

    columns = {
        "customer_id": _customer_key(r["customer"]) if "customer" in m else None,
        "order_id": exprs.get("order_id") or (_text_sql(r["order_id"]) if "order_id" in m else None),
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


def _customer_key(expr: str) -> str:
    """The customer key: trimmed; an email address (any value with an @) lower-cased, decided per value.

    ``Ana@X.com`` and ``ana@x.com`` are one customer; an id such as ``AB-12`` keeps its case.
    """
    v = _text_sql(expr)
    return f"(CASE WHEN contains({v}, '@') THEN lower({v}) ELSE {v} END)"


def _text_sql(expr: str) -> str:
    """A key as text: trimmed of spaces, tabs and no-break spaces, and out of Excel's ``="00123"`` wrapper.

    A null word (a database's NULL for a guest order) is no key: such rows must not merge into one customer.
    """
    v = f"trim({expr}, ' \t\u00a0')"
    key = f"""nullif(regexp_replace({v}, '^="(.*)"$', '\\1'), '')"""
    return f"(CASE WHEN {null_word_sql(expr)} THEN NULL ELSE {key} END)"


def line_col(con: duckdb.DuckDBPyConnection, name: str, prefix: str = "") -> str:
    """``prefix + name`` when the ``lines`` table stores the column, else its constant default."""
    present = {d[0] for d in con.execute("SELECT * FROM lines LIMIT 0").description}
    return f"{prefix}{name}" if name in present else _LINE_DEFAULTS[name]


def read_text(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    m: Mapping[str, str],
    date_format: str | None,
    today: dt.date,
    shopify: bool,
    line_mode: bool,
) -> LinesRead:
    """The careful path: every column as text, conventions detected over all values, bad values located."""
    name = str(source.path)
    try:
        con.execute(f"CREATE TABLE src AS SELECT * FROM {source.sql}")
    except duckdb.Error as exc:
        if source.kind == "csv" and not source.robust:
            raise ReadAgain from None  # not UTF-8 past the head, mixed line endings, quoted line breaks...
        raise InputError(describe_read_error(source, exc)) from None
    r = {role: sql_ident(header) for role, header in m.items()}
    rows_read = scalar(con, "SELECT count(*) FROM src")
    if rows_read == 0:
        raise InputError(f"{name}: only a header line and no rows; export the orders again")
    date_fmt = detect_date_format(con, "src", m["date"], name, m["date"], date_format, today)
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
    has_order_id = "order_id" in m
    # Rows roll up to orders for line items (and Shopify), or when order ids repeat (line totals).
    grouped = shopify or line_mode
    if has_order_id and not grouped:
        grouped = _order_ids_repeat(con, "src", f"nullif(trim({r['order_id']}), '')")
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
    con.execute(f"CREATE TABLE lines AS {_lines_select(m, r, exprs)} FROM {rows_from}")
    duplicate_rows = rows_read - scalar(con, "SELECT count(*) FROM lines") if dedupe else 0
    identical_rows = 0
    if not has_order_id:
        identical_rows = rows_read - scalar(con, "SELECT count(*) FROM (SELECT DISTINCT * FROM src)")
    con.execute("DROP TABLE src")
    return LinesRead(rows_read, grouped, monetary, date_fmt, money_fmt, duplicate_rows, identical_rows)


def _check_parsed(
    con: duckdb.DuckDBPyConnection, source: Source, m: Mapping[str, str], role: str, parsed: str, what: str
) -> None:
    """Every non-empty value of a column must parse; otherwise name the first bad value and its row."""
    col = sql_ident(m[role])
    bad = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT {col} FROM src WHERE NOT {blank_sql(col)} AND {parsed} IS NULL LIMIT 1000"
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
        opener = gzip.open if source.read_compressed else open
        with opener(source.data_path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
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


_BITMAP_MAX_RANGE = 1 << 27  # integer order ids spanning at most this many values: a 16 MB bitmap


def _order_ids_repeat(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether any order id occurs on more than one row.

    Equal ids always map to equal integers and equal hashes, so "no two ids share an integer" or "no two
    share a 64-bit hash" proves "no repeated id". Integer ids (the usual order numbers) are counted in a
    bitmap over their range, which is much cheaper than hashing; otherwise distinct hashes are counted. A
    repeat found that way is confirmed on the ids themselves.
    """
    as_int = f"TRY_CAST({column} AS BIGINT)"
    row = first_row(
        con.execute(f"SELECT count({column}), count({as_int}), min({as_int}), max({as_int}) FROM {table}")
    )
    assert row is not None
    ids, ints, low, high = row
    if ids == 0:
        return False
    if ints == ids and high - low < _BITMAP_MAX_RANGE:
        distinct = scalar(con, f"SELECT bit_count(bitstring_agg({as_int}, {low}, {high})) FROM {table}")
        if distinct == ids:
            return False
    elif scalar(con, f"SELECT count({column}) - count(DISTINCT hash({column})) FROM {table}") == 0:
        return False
    return scalar(con, f"SELECT count({column}) - count(DISTINCT {column}) FROM {table}") > 0


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = first_row(con.execute(sql, params or []))
    return int(row[0]) if row and row[0] is not None else 0


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
