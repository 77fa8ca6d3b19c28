"""The in-memory DuckDB database each run works in, with its memory cap.

DuckDB would otherwise let a large export take up to 80% of the machine's memory, beside the agent host and
everything else the user runs. The cap - a quarter of the physical memory, at least 1 GB, or
``CRM_WINBACK_MEMORY_LIMIT`` (e.g. ``4GB``) - makes DuckDB spill to a temporary folder instead. Scoring 10
million order lines needs about 1 GB; below that the run still completes, only slower. Memory DuckDB frees
stays with its allocator until :func:`release_freed_memory` hands it back.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from .errors import InputError

MIN_MEMORY_LIMIT_MIB = 1024


def default_memory_limit() -> str:
    """A quarter of the physical memory in MiB, at least 1 GB (1 GB where the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = 0
    return f"{max(MIN_MEMORY_LIMIT_MIB, total // 4 // 2**20)}MiB"


def memory_limit() -> str:
    value = os.environ.get("CRM_WINBACK_MEMORY_LIMIT", "").strip() or default_memory_limit()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise InputError(
            f"CRM_WINBACK_MEMORY_LIMIT={value}: give an amount such as 1GB or 512MB "
            "(or unset it for a quarter of the machine's memory)"
        )
    return value


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database that spills to the system's temporary folder past the memory cap."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")  # free to reorder rows, except inside in_order()
    con.execute(f"SET memory_limit = '{memory_limit()}'")
    con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'crm-winback-spill')}'")
    # DuckDB's own progress bar helps a person at a terminal; in a pipe or an MCP host's log it is noise
    con.execute(f"SET enable_progress_bar = {'true' if sys.stderr.isatty() else 'false'}")
    return con


ALL_ARENAS = 4096  # jemalloc's MALLCTL_ARENAS_ALL: "arena.4096.purge" purges every arena


@functools.cache
def _jemalloc_ctl() -> Callable[..., int] | None:
    """DuckDB's own jemalloc ``mallctl``, where its build has one (Linux), else None."""
    module = sys.modules.get("_duckdb") or sys.modules.get("duckdb.duckdb")
    path = getattr(module, "__file__", None)
    if not path:
        return None
    try:
        ctl = ctypes.CDLL(path).duckdb_je_mallctl
    except (OSError, AttributeError):
        return None
    ctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    ctl.restype = ctypes.c_int
    return ctl


def release_freed_memory() -> None:
    """Give the memory of the tables and intermediate results DuckDB has freed back to the system.

    DuckDB's Linux builds allocate through their own jemalloc, which keeps freed pages for reuse and returns
    them only as later allocations in the same arena come by: after a large table is dropped the process stays
    as large as before. On the 10M-line bench file ~0.9 GB freed by DuckDB (the lines, the purchase days, the
    backtest's tables) was still held when the models were fitted. Purging the arenas takes 1-40 ms; call it
    where a large table has just been dropped. Where DuckDB uses the system's allocator it does nothing.
    """
    ctl = _jemalloc_ctl()
    if ctl is not None:
        ctl(f"arena.{ALL_ARENAS}.purge".encode(), None, None, None, 0)


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a query's result, reading the result to its end.

    ``fetchone()`` leaves the result open, and DuckDB 2 then refuses ``register``, ``sql`` and ``table`` on the
    connection ("connection has an unfinished result from execute()"). Use this instead of ``fetchone()``.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection holds a table (temporary or not) called ``name``."""
    found = first_row(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t", {"t": name}))
    return bool(found and found[0])


@contextmanager
def in_order(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Keep row order for the statements inside: a ``CREATE TABLE ... ORDER BY``, then projections and COPYs of
    that table alone.

    Elsewhere the connection lets DuckDB reorder rows, which is faster. With ``preserve_insertion_order`` on,
    DuckDB keeps the order of a SELECT, WHERE or COPY over a single table (not of a join or GROUP BY):
    https://duckdb.org/docs/2.0/sql/dialect/order_preservation.html
    """
    con.execute("SET preserve_insertion_order = true")
    try:
        yield con
    finally:
        con.execute("SET preserve_insertion_order = false")


def median_of_counts(table: str, value: str, count: str, by: Sequence[str] = ()) -> str:
    """SQL selecting the median of ``value`` weighted by ``count`` over ``table`` (per group of ``by``).

    ``table`` holds one row per distinct value (per group): the value and how often it occurs. The result is
    what median() over the expanded values gives - the mean of the values at the middle ranks (N+1)//2 and
    N//2+1 of the running count - without expanding millions of rows.
    """
    keys = "".join(f"{key}, " for key in by)
    within = f"PARTITION BY {', '.join(by)}" if by else ""
    grouped = f" GROUP BY {', '.join(by)}" if by else ""
    return (
        f"SELECT {keys}(min({value}) FILTER (WHERE upto >= (total + 1) // 2) "
        f"+ min({value}) FILTER (WHERE upto >= total // 2 + 1)) / 2 AS median "
        f"FROM (SELECT {keys}{value}, sum({count}) OVER ({within} ORDER BY {value}) AS upto, "
        f"sum({count}) OVER ({within}) AS total FROM {table}){grouped}"
    )
