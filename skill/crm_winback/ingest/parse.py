"""Dates and money from text: detect the convention a column uses, then parse it in SQL.

Detection looks at the distinct values of the whole column (cheap in DuckDB), so a day-first file whose
first rows all fall on days 1-12 is still recognised. Parsing is one SQL expression per column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from ..errors import InputError
from ..workdb import first_row
from .reader import sql_ident, sql_string

DATE_FORMATS = {
    "iso": "ISO (YYYY-MM-DD, time and offset ignored)",
    "ymd_compact": "YYYYMMDD",
    "mdy": "month/day/year",
    "dmy": "day/month/year",
    "d_mon_y": "day month-name year (05-Mar-2024)",
    "mon_d_y": "month-name day year (Mar 5, 2024)",
    "excel_serial": "Excel serial day numbers (days since 1899-12-30)",
}

_ISO = r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([T ].*)?$"
_COMPACT = r"^\d{8}$"
_SLASH = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}([T ,].*)?$"
_D_MON_Y = r"^(\d{1,2})[-/ .]([A-Za-z]{3,9})\.?[-/ .,]+(\d{2}|\d{4})([T ,].*)?$"  # Excel's 05-Mar-24
_MON_D_Y = r"^([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})([T ,].*)?$"  # Mar 5, 2024
_SERIAL = r"^\d{5}(\.\d+)?$"  # a date cell saved with the General format: days since 1899-12-30
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TWO_DIGIT_YEAR = {
    "mdy": r"^\d{1,2}[/.-]\d{1,2}[/.-](\d{2})([T ,].*)?$",
    "dmy": r"^\d{1,2}[/.-]\d{1,2}[/.-](\d{2})([T ,].*)?$",
    "d_mon_y": r"^\d{1,2}[-/ .][A-Za-z]{3,9}\.?[-/ .,]+(\d{2})([T ,].*)?$",
}


# Excel's and databases' "no date": serial 0 or 1 (1899-12-30, 1899-12-31, 1900-01-00, 1900-01-01) and
# 0000-00-00. Such a date is a placeholder, never a purchase: it is read as this day (or earlier) and the order
# is excluded with its reason.
PLACEHOLDER_DATE = dt.date(1900, 1, 1)
_ZERO_ISO = r"^(0{4}[-/.]0{1,2}[-/.]0{1,2}|1900[-/.]0?1[-/.]0{1,2})([T ].*)?$"
_ZERO_SLASH = r"^(0{1,2}[/.-]0{1,2}[/.-]0{2,4}|0{1,2}[/.-]0?1[/.-]1900|0?1[/.-]0{1,2}[/.-]1900)([T ,].*)?$"
_ZERO_COMPACT = r"^(00000000|19000100)$"
_TWO_DIGIT_SPAN = 50  # years: two-digit years resolved wider apart than this are a misreading, refused


@dataclass(frozen=True)
class DateFormat:
    key: str
    reason: str
    # two-digit years: 00..pivot are 20xx, the rest 19xx (the pivot is this year's two digits, so no
    # two-digit year lands in a later year than today's)
    pivot: int = 99

    @property
    def label(self) -> str:
        return DATE_FORMATS[self.key]


def detect_date_format(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    source: str,
    header: str,
    forced: str | None,
    today: dt.date,
) -> DateFormat:
    """Decide how the dates in ``table.column`` are written, from every distinct value."""
    fmt = _detect_date_format(con, table, column, source, header, forced)
    if fmt.key not in _TWO_DIGIT_YEAR:
        return fmt
    col = sql_ident(column)
    pivot = today.year % 100
    yy = f"TRY_CAST(regexp_extract(v, '{_TWO_DIGIT_YEAR[fmt.key]}', 1) AS INTEGER)"
    short = first_row(
        con.execute(
            f"SELECT count(y), min(y), max(y) FROM (SELECT {yy} + (CASE WHEN {yy} <= {pivot} THEN 2000 ELSE 1900 END) "
            f"AS y FROM (SELECT DISTINCT trim({col}) AS v FROM {table}))"
        )
    )
    if not short or not short[0]:
        return DateFormat(fmt.key, fmt.reason, pivot)
    if short[2] - short[1] > _TWO_DIGIT_SPAN:
        raise InputError(
            f"{source}: column '{header}': two-digit years would run from {short[1]} to {short[2]} (a year after "
            f"{today.year % 100:02d} cannot be 20xx, so it is 19xx); no shop's orders span {short[2] - short[1]} "
            "years - export the dates with four-digit years"
        )
    rule = (
        f"; two-digit years 00-{pivot:02d} read as 20xx and {pivot + 1:02d}-99 as 19xx, so that no date "
        f"falls after {today.year}"
    )
    return DateFormat(fmt.key, fmt.reason + rule, pivot)


def _detect_date_format(
    con: duckdb.DuckDBPyConnection, table: str, column: str, source: str, header: str, forced: str | None
) -> DateFormat:
    col = sql_ident(column)
    row = first_row(
        con.execute(
            f"""SELECT count(*) FILTER (WHERE v IS NOT NULL),
                   count(*) FILTER (WHERE regexp_matches(v, '{_ISO}')),
                   count(*) FILTER (WHERE regexp_matches(v, '{_COMPACT}')),
                   count(*) FILTER (WHERE regexp_matches(v, '{_SLASH}')),
                   max(TRY_CAST(regexp_extract(v, '^(\\d{{1,2}})[/.-]', 1) AS INTEGER))
                       FILTER (WHERE regexp_matches(v, '{_SLASH}')),
                   max(TRY_CAST(regexp_extract(v, '^\\d{{1,2}}[/.-](\\d{{1,2}})[/.-]', 1) AS INTEGER))
                       FILTER (WHERE regexp_matches(v, '{_SLASH}')),
                   count(*) FILTER (WHERE regexp_matches(v, '{_D_MON_Y}')
                                      AND list_contains({list(_MONTHS)}, lower(left(regexp_extract(v, '{_D_MON_Y}', 2), 3)))),
                   count(*) FILTER (WHERE regexp_matches(v, '{_MON_D_Y}')
                                      AND list_contains({list(_MONTHS)}, lower(left(regexp_extract(v, '{_MON_D_Y}', 1), 3)))),
                   count(*) FILTER (WHERE regexp_matches(v, '{_SERIAL}'))
            FROM (SELECT DISTINCT trim({col}) AS v FROM {table})"""
        )
    )
    assert row is not None
    total, iso, compact, slash, max_first, max_second, d_mon_y, mon_d_y, serial = row
    if forced:
        if forced not in DATE_FORMATS:
            raise InputError(f"--date-format {forced}: use one of {', '.join(DATE_FORMATS)}")
        return DateFormat(forced, "chosen with --date-format")
    if total == 0:
        raise InputError(
            f"{source}: column '{header}' (date) is empty in every row; map the order date with "
            "--map date=COLUMN"
        )
    best = max(
        (iso, "iso"),
        (compact, "ymd_compact"),
        (slash, "slash"),
        (d_mon_y, "d_mon_y"),
        (mon_d_y, "mon_d_y"),
        (serial, "excel_serial"),
    )
    if best[0] == 0:
        sample = first_row(con.execute(f"SELECT trim({col}) FROM {table} WHERE {col} IS NOT NULL LIMIT 1"))
        raise InputError(
            f"{source}: column '{header}': cannot read dates like {sample[0] if sample else ''!r}; "
            "use YYYY-MM-DD, YYYYMMDD, m/d/Y, d/m/Y or 05-Mar-2024"
        )
    if best[1] != "slash":
        return DateFormat(best[1], "every value has this shape")
    if (max_first or 0) > 12 and (max_second or 0) > 12:
        raise InputError(
            f"{source}: column '{header}' mixes day/month/year and month/day/year dates "
            f"(values above 12 in both the first and second place); export with one date format"
        )
    if (max_first or 0) > 12:
        return DateFormat("dmy", f"a first number reaches {max_first}, so it is the day")
    if (max_second or 0) > 12:
        return DateFormat("mdy", f"a second number reaches {max_second}, so it is the day")
    raise InputError(
        f"{source}: column '{header}': dates like 03/04/2024 can be month/day or day/month and "
        "no value tells which; rerun with --date-format mdy or --date-format dmy"
    )


# What exports write for "no value": database NULLs, Excel's #N/A, pandas' NaN. Read as empty, never as a
# value that does not parse (and "NAN" never as a currency code).
NULL_WORDS = ("null", "(null)", "n/a", "#n/a", "na", "nan", "none", "nil")


def null_word_sql(expr: str) -> str:
    """SQL: ``expr`` is one of the words exports write for an empty value."""
    return f"(lower(trim({expr})) IN ({', '.join(sql_string(w) for w in NULL_WORDS)}))"


def blank_sql(expr: str) -> str:
    """SQL: ``expr`` holds no value (NULL, spaces, or a null word)."""
    return f"(nullif(trim({expr}), '') IS NULL OR {null_word_sql(expr)})"


def date_sql(expr: str, fmt: DateFormat) -> str:
    """SQL turning the text ``expr`` into a DATE (NULL when it is empty or does not parse)."""
    return f"(CASE WHEN {null_word_sql(expr)} THEN NULL ELSE {_date_sql(expr, fmt)} END)"


def _month_name_sql(v: str, fmt: DateFormat) -> str:
    """05-Mar-24 or Mar 5, 2024 (English month names, three letters or more) as a DATE."""
    pattern, day_at, month_at = (_D_MON_Y, 1, 2) if fmt.key == "d_mon_y" else (_MON_D_Y, 2, 1)
    month = f"list_position({list(_MONTHS)}, lower(left(regexp_extract({v}, '{pattern}', {month_at}), 3)))"
    y = f"regexp_extract({v}, '{pattern}', 3)"
    year = (
        f"(CASE WHEN length({y}) = 2 THEN CAST({y} AS INTEGER) "
        f"+ (CASE WHEN CAST({y} AS INTEGER) <= {fmt.pivot} THEN 2000 ELSE 1900 END) "
        f"ELSE TRY_CAST({y} AS INTEGER) END)"
    )
    day = f"regexp_extract({v}, '{pattern}', {day_at})"
    text = f"CAST({year} AS VARCHAR) || '-' || CAST({month} AS VARCHAR) || '-' || {day}"
    return f"TRY_CAST(try_strptime({text}, '%Y-%m-%d') AS DATE)"


def _date_sql(expr: str, fmt: DateFormat) -> str:
    v = f"trim({expr})"
    zero = f"DATE '{PLACEHOLDER_DATE.isoformat()}'"
    if fmt.key == "iso":
        parts = f"regexp_extract({v}, '^(\\d{{4}})[-/.](\\d{{1,2}})[-/.](\\d{{1,2}})', ['y', 'm', 'd'])"
        parsed = (
            f"TRY_CAST(try_strptime({parts}.y || '-' || {parts}.m || '-' || {parts}.d, '%Y-%m-%d') AS DATE)"
        )
        return f"(CASE WHEN regexp_matches({v}, '{_ZERO_ISO}') THEN {zero} ELSE {parsed} END)"
    if fmt.key == "excel_serial":
        days = f"TRY_CAST(floor(TRY_CAST({v} AS DOUBLE)) AS INTEGER)"
        return f"(DATE '1899-12-30' + {days})"
    if fmt.key in ("d_mon_y", "mon_d_y"):
        return _month_name_sql(v, fmt)
    if fmt.key == "ymd_compact":
        parsed = f"TRY_CAST(try_strptime({v}, '%Y%m%d') AS DATE)"
        return f"(CASE WHEN regexp_matches({v}, '{_ZERO_COMPACT}') THEN {zero} ELSE {parsed} END)"
    day_first = fmt.key == "dmy"
    parts = f"regexp_extract({v}, '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-](\\d{{2,4}})', ['a', 'b', 'y'])"
    day, month = ("a", "b") if day_first else ("b", "a")
    year = (
        f"(CASE WHEN length({parts}.y) = 2 THEN CAST({parts}.y AS INTEGER) "
        f"+ (CASE WHEN CAST({parts}.y AS INTEGER) <= {fmt.pivot} THEN 2000 ELSE 1900 END) "
        f"ELSE TRY_CAST({parts}.y AS INTEGER) END)"
    )
    parsed = (
        f"TRY_CAST(try_strptime(CAST({year} AS VARCHAR) || '-' || {parts}.{month} || '-' || {parts}.{day}, "
        f"'%Y-%m-%d') AS DATE)"
    )
    return f"(CASE WHEN regexp_matches({v}, '{_ZERO_SLASH}') THEN {zero} ELSE {parsed} END)"


@dataclass(frozen=True)
class MoneyFormat:
    decimal_comma: bool
    plain: bool  # every value is a bare number: the fast path
    symbols: tuple[str, ...]  # currency symbols or codes seen in the values

    @property
    def label(self) -> str:
        if self.plain:
            return "plain numbers"
        sep = "decimal comma (1.234,50)" if self.decimal_comma else "decimal point (1,234.50)"
        return sep + (f", currency marks {', '.join(self.symbols)}" if self.symbols else "")


_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "R$": "BRL"}
_CODE_RE = r"[A-Z]{3}"


# Minus signs spreadsheets and word processors write instead of "-": U+2212 minus, hyphen, non-breaking hyphen,
# figure dash, en dash, em dash, small and full-width hyphen-minus.
_MINUS_CHARS = "\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d"
_SCIENTIFIC = r"^-?\d+([.,]\d+)?[eE][-+]?\d+$"


def _minus_sql(expr: str) -> str:
    """``expr`` trimmed, with every kind of minus sign written as '-'."""
    return f"regexp_replace(trim({expr}), '[{_MINUS_CHARS}]', '-', 'g')"


def detect_money_format(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> MoneyFormat:
    """Look at the distinct values of the money columns and decide how to read them."""
    if not columns:
        return MoneyFormat(False, True, ())
    union = " UNION ".join(
        f"SELECT DISTINCT trim({sql_ident(c)}) AS raw FROM {table} WHERE NOT {null_word_sql(sql_ident(c))}"
        for c in columns
    )
    row = first_row(
        con.execute(
            f"""SELECT count(*) FILTER (WHERE v IS NOT NULL AND NOT regexp_matches(v, '^-?\\d+(\\.\\d+)?$')),
                   count(*) FILTER (WHERE NOT sci AND (regexp_matches(n, '\\d,\\d{{1,2}}\\)?$')
                                     OR regexp_matches(n, '\\d\\.\\d{{3}},'))),
                   count(*) FILTER (WHERE NOT sci AND (regexp_matches(n, '\\d\\.\\d{{1,2}}\\)?$')
                                     OR regexp_matches(n, '\\d,\\d{{3}}\\.'))),
                   list(DISTINCT regexp_extract(v, '(R\\$|[$€£¥₹₩]|\\b{_CODE_RE}\\b)'))
            FROM (SELECT raw AS v, regexp_replace(w, '[^0-9,.()]', '', 'g') AS n,
                         regexp_matches(w, '{_SCIENTIFIC}') AS sci
                  FROM (SELECT raw, {_minus_sql("raw")} AS w FROM ({union})))"""
        )
    )
    assert row is not None
    odd, comma_votes, point_votes, marks = row
    symbols = tuple(sorted(m for m in (marks or []) if m))
    if odd == 0:
        return MoneyFormat(False, True, ())
    return MoneyFormat(comma_votes > point_votes, False, symbols)


def money_sql(expr: str, fmt: MoneyFormat) -> str:
    """SQL turning the text ``expr`` into DECIMAL(18,4): symbols, separators and (negatives) handled.

    Also read: scientific notation (``1.23456E+03``, as Excel writes large or small numbers), any minus sign
    (U+2212, dashes), a trailing minus (``5,00-``) and a lone dash, Excel's accounting format for zero. A
    null word (NULL, N/A, NaN) is empty.
    """
    if fmt.plain:
        return _money_sql(expr, fmt)
    return f"(CASE WHEN {null_word_sql(expr)} THEN NULL ELSE {_money_sql(expr, fmt)} END)"


def _money_sql(expr: str, fmt: MoneyFormat) -> str:
    if fmt.plain:
        return f"TRY_CAST(trim({expr}) AS DECIMAL(18,4))"
    v = _minus_sql(expr)
    raw = f"regexp_replace({v}, '[^0-9,.\\-]', '', 'g')"
    # a trailing minus (SAP, German Excel) moves to the front
    digits = f"regexp_replace({raw}, '^([0-9.,]+)-$', '-\\1')"
    if fmt.decimal_comma:
        number = f"replace(replace({digits}, '.', ''), ',', '.')"
    else:
        number = f"replace({digits}, ',', '')"
    sign = f"(CASE WHEN regexp_matches({v}, '^\\(.*\\)$') THEN -1 ELSE 1 END)"
    # A value written in the other convention (1.250,00 in a decimal-point column) must not be misread.
    group, dec = (r"\.", ",") if fmt.decimal_comma else (",", r"\.")
    shape = f"^-?(\\d{{1,3}}({group}\\d{{3}})+|\\d+)({dec}\\d+)?$"
    compact = f"regexp_replace({v}, '\\s', '', 'g')"
    scientific = f"replace({compact}, ',', '.')" if fmt.decimal_comma else compact
    return (
        f"(CASE WHEN regexp_matches({compact}, '{_SCIENTIFIC}') "
        f"THEN TRY_CAST(TRY_CAST({scientific} AS DOUBLE) AS DECIMAL(18,4)) "
        f"WHEN {raw} = '-' THEN 0::DECIMAL(18,4) "
        f"WHEN regexp_matches({digits}, '{shape}') THEN TRY_CAST({number} AS DECIMAL(18,4)) * {sign} END)"
    )


def currency_of_mark(mark: str) -> str:
    return _SYMBOLS.get(mark, mark)


def mark_sql(expr: str) -> str:
    """SQL giving the currency code marked on an amount ('$ 5' -> 'USD', '5 EUR' -> 'EUR'), else NULL."""
    mark = f"regexp_extract({expr}, '(R\\$|[$€£¥₹₩]|\\b{_CODE_RE}\\b)')"
    arms = " ".join(f"WHEN {sql_string(sym)} THEN {sql_string(code)}" for sym, code in _SYMBOLS.items())
    return f"(CASE WHEN {null_word_sql(expr)} THEN NULL ELSE (CASE {mark} WHEN '' THEN NULL {arms} ELSE {mark} END) END)"
