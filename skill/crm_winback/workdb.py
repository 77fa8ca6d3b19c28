"""The in-memory DuckDB database each run works in, with its memory cap.

DuckDB would otherwise let a large export take most of the machine's memory. The cap (default 1 GB, or
``CRM_WINBACK_MEMORY_LIMIT``, e.g. ``4GB``) makes DuckDB spill to a temporary folder instead, which costs a
little time on very large files and nothing on ordinary ones.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import duckdb

from .errors import InputError

DEFAULT_MEMORY_LIMIT = "1GB"


def memory_limit() -> str:
    value = os.environ.get("CRM_WINBACK_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise InputError(
            f"CRM_WINBACK_MEMORY_LIMIT={value}: give an amount such as 1GB or 512MB (or unset it for 1GB)"
        )
    return value


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database that spills to the system's temporary folder past the memory cap."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")  # row order never matters here: outputs are sorted
    con.execute(f"SET memory_limit = '{memory_limit()}'")
    con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'crm-winback-spill')}'")
    # DuckDB's own progress bar helps a person at a terminal; in a pipe or an MCP host's log it is noise
    con.execute(f"SET enable_progress_bar = {'true' if sys.stderr.isatty() else 'false'}")
    return con
