"""Dates and money from text: detect the convention a column uses, then parse it in SQL.

Detection looks at the distinct values of the whole column (cheap in DuckDB), so a day-first file whose
first rows all fall on days 1-12 is still recognised. Parsing is one SQL expression per column.
"""

from __future__ import annotations

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
}

_ISO = r"^\d{4}-\d{1,2}-\d{1,2}([T ].*)?$"
_COMPACT = r"^\d{8}$"
_SLASH = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}([T ,].*)?$"


@dataclass(frozen=True)
class DateFormat:
    key: str
    reason: str

    @property
    def label(self) -> str:
        return DATE_FORMATS[self.key]


def detect_date_format(
    con: duckdb.DuckDBPyConnection, table: str, column: str, source: str, header: str, forced: str | None
) -> DateFormat:
    """Decide how the dates in ``table.column`` are written, from every distinct value."""
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
                       FILTER (WHERE regexp_matches(v, '{_SLASH}'))
            FROM (SELECT DISTINCT trim({col}) AS v FROM {table})"""
        )
    )
    assert row is not None
    total, iso, compact, slash, max_first, max_second = row
    if forced:
        if forced not in DATE_FORMATS:
            raise InputError(f"--date-format {forced}: use one of {', '.join(DATE_FORMATS)}")
        return DateFormat(forced, "chosen with --date-format")
    if total == 0:
        raise InputError(
            f"{source}: column '{header}' (date) is empty in every row; map the order date with "
            "--map date=COLUMN"
        )
    best = max((iso, "iso"), (compact, "ymd_compact"), (slash, "slash"))
    if best[0] == 0:
        sample = first_row(con.execute(f"SELECT trim({col}) FROM {table} WHERE {col} IS NOT NULL LIMIT 1"))
        raise InputError(
            f"{source}: column '{header}': cannot read dates like {sample[0] if sample else ''!r}; "
            "use YYYY-MM-DD, YYYYMMDD, m/d/Y or d/m/Y"
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


def date_sql(expr: str, fmt: DateFormat) -> str:
    """SQL turning the text ``expr`` into a DATE (NULL when it does not parse)."""
    v = f"trim({expr})"
    if fmt.key == "iso":
        return f"TRY_CAST(regexp_extract({v}, '^(\\d{{4}}-\\d{{1,2}}-\\d{{1,2}})', 1) AS DATE)"
    if fmt.key == "ymd_compact":
        return f"TRY_CAST(try_strptime({v}, '%Y%m%d') AS DATE)"
    day_first = fmt.key == "dmy"
    parts = f"regexp_extract({v}, '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-](\\d{{2,4}})', ['a', 'b', 'y'])"
    day, month = ("a", "b") if day_first else ("b", "a")
    year = (
        f"(CASE WHEN length({parts}.y) = 2 THEN 2000 + CAST({parts}.y AS INTEGER) "
        f"ELSE TRY_CAST({parts}.y AS INTEGER) END)"
    )
    return (
        f"TRY_CAST(try_strptime(CAST({year} AS VARCHAR) || '-' || {parts}.{month} || '-' || {parts}.{day}, "
        f"'%Y-%m-%d') AS DATE)"
    )


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


def detect_money_format(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> MoneyFormat:
    """Look at the distinct values of the money columns and decide how to read them."""
    if not columns:
        return MoneyFormat(False, True, ())
    union = " UNION ".join(f"SELECT DISTINCT trim({sql_ident(c)}) AS v FROM {table}" for c in columns)
    row = first_row(
        con.execute(
            f"""SELECT count(*) FILTER (WHERE v IS NOT NULL AND NOT regexp_matches(v, '^-?\\d+(\\.\\d+)?$')),
                   count(*) FILTER (WHERE regexp_matches(n, '\\d,\\d{{1,2}}\\)?$')
                                     OR regexp_matches(n, '\\d\\.\\d{{3}},')),
                   count(*) FILTER (WHERE regexp_matches(n, '\\d\\.\\d{{1,2}}\\)?$')
                                     OR regexp_matches(n, '\\d,\\d{{3}}\\.')),
                   list(DISTINCT regexp_extract(v, '(R\\$|[$€£¥₹₩]|\\b{_CODE_RE}\\b)'))
            FROM (SELECT v, regexp_replace(v, '[^0-9,.()\\-]', '', 'g') AS n FROM ({union}))"""
        )
    )
    assert row is not None
    odd, comma_votes, point_votes, marks = row
    symbols = tuple(sorted(m for m in (marks or []) if m))
    if odd == 0:
        return MoneyFormat(False, True, ())
    return MoneyFormat(comma_votes > point_votes, False, symbols)


def money_sql(expr: str, fmt: MoneyFormat) -> str:
    """SQL turning the text ``expr`` into DECIMAL(18,4): symbols, separators and (negatives) handled."""
    if fmt.plain:
        return f"TRY_CAST(trim({expr}) AS DECIMAL(18,4))"
    v = f"trim({expr})"
    digits = f"regexp_replace({v}, '[^0-9,.\\-]', '', 'g')"
    if fmt.decimal_comma:
        number = f"replace(replace({digits}, '.', ''), ',', '.')"
    else:
        number = f"replace({digits}, ',', '')"
    sign = f"(CASE WHEN regexp_matches({v}, '^\\(.*\\)$') THEN -1 ELSE 1 END)"
    # A value written in the other convention (1.250,00 in a decimal-point column) must not be misread.
    group, dec = (r"\.", ",") if fmt.decimal_comma else (",", r"\.")
    shape = f"^-?(\\d{{1,3}}({group}\\d{{3}})+|\\d+)({dec}\\d+)?$"
    return f"(CASE WHEN regexp_matches({digits}, '{shape}') THEN TRY_CAST({number} AS DECIMAL(18,4)) * {sign} END)"


def currency_of_mark(mark: str) -> str:
    return _SYMBOLS.get(mark, mark)


def mark_sql(expr: str) -> str:
    """SQL giving the currency code marked on an amount ('$ 5' -> 'USD', '5 EUR' -> 'EUR'), else NULL."""
    mark = f"regexp_extract({expr}, '(R\\$|[$€£¥₹₩]|\\b{_CODE_RE}\\b)')"
    arms = " ".join(f"WHEN {sql_string(sym)} THEN {sql_string(code)}" for sym, code in _SYMBOLS.items())
    return f"(CASE {mark} WHEN '' THEN NULL {arms} ELSE {mark} END)"
