"""The Ibis summary on DuckDB: the parity check against the local SQL, and a second opinion on a laptop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb

from .dialects import check_timezone
from .require import require
from .summary import part_expression


def summary_on_duckdb(
    con: duckdb.DuckDBPyConnection,
    table: str,
    mapping: Mapping[str, str],
    as_of: dt.date,
    tz: str = "UTC",
    part: str = "summary",
) -> duckdb.DuckDBPyRelation:
    """The summary expression (``part`` "summary") or the gap histogram ("gaps") over ``table`` in ``con``, the
    session pinned to ``tz``: a relation to fetch or write."""
    ibis = require("ibis", "the Ibis summary")
    con.execute(f"SET TimeZone = '{check_timezone(tz)}'")
    # An unbound table compiled and run on the connection itself: Ibis's DuckDB backend calls an API that
    # DuckDB 2 deprecates, and the compiler alone needs neither pandas nor pyarrow.
    from ibis.backends.sql.datatypes import DuckDBType

    described = con.execute(f"DESCRIBE {quote(table)}").fetchall()
    schema = {name: DuckDBType.from_string(typ) for name, typ, *_ in described}
    expr = part_expression(ibis.table(schema, name=table), part, mapping, as_of, tz)
    return con.sql(str(ibis.to_sql(expr, dialect="duckdb")))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
