"""The summary expression as SQL for a warehouse: BigQuery, Snowflake, Trino, PostgreSQL, Spark SQL or DuckDB.

The warehouse's table is described by the mapping alone (a connection is never needed): each mapped column is
cast to what the summary needs, so its real type only has to be castable. Dropping duplicate rows needs every
column of the table (``columns``); without them the SQL keeps identical rows, and its header says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from ..errors import InputError
from .contract import CONTRACT_VERSION, PARTS
from .require import require
from .summary import part_expression

# dialect -> (the Ibis compiler's name, the statement pinning the session's time zone)
DIALECTS: dict[str, tuple[str, str]] = {
    "bigquery": ("bigquery", "SET @@time_zone = '{tz}';"),
    "snowflake": ("snowflake", "ALTER SESSION SET TIMEZONE = '{tz}';"),
    "trino": ("trino", "SET TIME ZONE '{tz}';"),
    "postgres": ("postgres", "SET TIME ZONE '{tz}';"),
    "spark": ("pyspark", "SET TIME ZONE '{tz}';"),
    "duckdb": ("duckdb", "SET TimeZone = '{tz}';"),
}

# The type each role's column is declared with. Ibis drops a cast to the type a column already has, so ids and
# money are declared as something else (int64, float64): the SQL then casts them to text and DECIMAL(18, 4)
# explicitly, and works whatever their real type is. Dates are declared as timestamps: DATE(x) of a DATE column
# is the column itself, while a detour through TIMESTAMP would move dates west of UTC a day back.
ROLE_TYPES = {
    "customer": "int64", "date": "timestamp", "amount": "float64", "quantity": "float64",
    "unit_price": "float64", "order_id": "int64", "refunded_amount": "float64",
    "email": "string", "phone": "string", "first_name": "string", "last_name": "string",
    "email_consent": "boolean", "sms_consent": "boolean",
}  # fmt: skip


def check_timezone(tz: str) -> str:
    """A time-zone name safe to put in a SQL literal (letters, digits and / _ + - only)."""
    if not tz or len(tz) > 64 or any(not (ch.isalnum() or ch in "/_+-") for ch in tz):
        raise InputError(f"--timezone {tz!r}: not a time-zone name; use e.g. UTC or Europe/Berlin")
    return tz


def summary_sql(
    dialect: str,
    table: str,
    mapping: Mapping[str, str],
    as_of: dt.date,
    tz: str = "UTC",
    columns: Sequence[str] | None = None,
    part: str = "summary",
    calibration_end: dt.date | None = None,
) -> str:
    """The summary (``part`` "summary"), the gap histogram ("gaps") or the backtest part ("backtest", at
    ``calibration_end``) as one SQL script for ``dialect``: a header, the time-zone statement, the query."""
    if dialect not in DIALECTS:
        raise InputError(f"--dialect {dialect}: not supported; use one of {', '.join(DIALECTS)}")
    if part not in PARTS:
        raise InputError(f"--part {part}: not a part of the summary; use one of {', '.join(PARTS)}")
    if (part == "backtest") != (calibration_end is not None):
        raise InputError(
            "--part backtest needs --calibration-end YYYY-MM-DD (crm-winback score --summary --predict names "
            "the date)"
            if part == "backtest"
            else f"--calibration-end goes with --part backtest, not --part {part}; leave it out"
        )
    ibis = require("ibis", "crm-winback sql")
    tz = check_timezone(tz)
    compiler, set_tz = DIALECTS[dialect]
    source = unbound_table(ibis, table, mapping, columns)
    expr = part_expression(source, part, mapping, as_of, tz, calibration_end)
    if compiler == "pyspark":
        _pyspark_options(ibis)
    query = str(ibis.to_sql(expr, dialect=compiler)).strip()
    mapped = ", ".join(f"{role}={column}" for role, column in mapping.items())
    duplicates = (
        "rows identical in every listed column are dropped as duplicates"
        if columns and "order_id" in mapping
        else "no duplicate rows dropped (give --columns with every column of the table to drop them)"
        if "order_id" in mapping
        else "no order id: every row is an order"
    )
    then = "then: crm-winback score --summary crm_summary.parquet --gaps crm_gaps.parquet"
    if part == "backtest":
        what = f"backtest part (the summary at {calibration_end} and the holdout after it)"
        export = (
            "-- export the result (one row per customer who had bought by the calibration end) as "
            f"crm_backtest.parquet; {then} --backtest crm_backtest.parquet --predict"
        )
    elif part == "gaps":
        what = "gap histogram (gap_days, n)"
        export = (
            "-- export the result (one row per gap length) as crm_gaps.parquet and the --part summary result "
            f"as crm_summary.parquet; {then}"
        )
    else:
        what = "per-customer summary"
        export = (
            "-- export the result (one row per customer) as crm_summary.parquet and the --part gaps result as "
            f"crm_gaps.parquet; {then}"
        )
    header = [
        f"-- crm-segment-winback {what}, contract v{CONTRACT_VERSION} (crm-winback {__version__})",
        f"-- dialect: {dialect}; table: {table}; as of {as_of.isoformat()}; time zone: {tz}",
        f"-- map: {mapped}",
        f"-- {duplicates}",
        export,
    ]
    return "\n".join([*header, set_tz.format(tz=tz), query + ";", ""])


def unbound_table(
    ibis: Any, table: str, mapping: Mapping[str, str], columns: Sequence[str] | None = None
) -> Any:
    """An Ibis table named ``table`` (``catalog.database.name`` allowed) with the mapped columns' types."""
    parts = table.split(".")
    if not table or len(parts) > 3 or not all(parts):
        raise InputError(f"--table {table!r}: give a table name, database.table or catalog.database.table")
    schema: dict[str, str] = {name: "string" for name in columns or ()}
    for role, column in mapping.items():
        if role in ROLE_TYPES:
            schema[column] = ROLE_TYPES[role]
    name = parts[-1]
    database = ".".join(parts[:-1]) or None
    if len(parts) == 3:
        return ibis.table(schema, name=name, catalog=parts[0], database=parts[1])
    return ibis.table(schema, name=name, database=database)


def _pyspark_options(ibis: Any) -> None:
    """Ibis's Spark compiler reads an option its backend registers on connect; register it without Spark."""
    if getattr(ibis.options, "pyspark", None) is None:
        config = require("ibis.config", "crm-winback sql")

        class Options(config.Config):  # type: ignore[name-defined]
            treat_nan_as_null: bool = False

        ibis.options.pyspark = Options()
