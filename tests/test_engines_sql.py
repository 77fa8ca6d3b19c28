"""``crm-winback sql``: the summary compiled for each warehouse dialect, pinned as golden SQL.

The goldens were reviewed by eye once; regenerate after an intended change, review the diff, run again:
    CRM_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_engines_sql.py
Regen mode writes every golden and then fails, so it can never pass by comparing a file with itself.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from crm_winback.cli import main

pytest.importorskip("ibis")  # the [warehouse] extra; the lock installs it

from crm_winback.engines.dialects import DIALECTS, summary_sql

GOLDEN = Path(__file__).parent / "golden" / "sql"
# the example: a warehouse orders table with line items, refunds and consent
MAPPING = {
    "customer": "customer_id", "date": "created_at", "order_id": "order_id", "quantity": "qty",
    "unit_price": "price", "refunded_amount": "refunded", "email": "email", "email_consent": "accepts_email",
}  # fmt: skip
COLUMNS = [
    "order_id",
    "line_no",
    "customer_id",
    "created_at",
    "qty",
    "price",
    "refunded",
    "email",
    "accepts_email",
]


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_summary_sql_matches_its_golden(dialect: str) -> None:
    sql = summary_sql(
        dialect, "shop.sales.order_lines", MAPPING, dt.date(2025, 6, 30), "Europe/Berlin", COLUMNS
    )
    golden = GOLDEN / f"summary_{dialect}.sql"
    if os.environ.get("CRM_REGEN_GOLDEN"):
        golden.write_text(sql, encoding="utf-8", newline="\n")
        pytest.fail(f"{golden.name} written; review the diff, then run the tests without CRM_REGEN_GOLDEN")
    # bytes: the TRIM of some dialects holds a literal carriage return, which text mode would translate
    assert sql == golden.read_bytes().decode("utf-8"), f"{golden.name} differs; see the module docstring"


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_summary_sql_uses_only_portable_operations(dialect: str) -> None:
    """No median()/percentile aggregate, no list or lambda functions, no approximate aggregates; money summed
    as DECIMAL; the session's time zone pinned before the query."""
    sql = summary_sql(dialect, "orders", MAPPING, dt.date(2025, 6, 30), "UTC", COLUMNS).upper()
    for banned in ("MEDIAN(", "PERCENTILE", "APPROX", "LIST_", "ARRAY_AGG", "->", "QUANTILE"):
        assert banned not in sql, banned
    assert "ROW_NUMBER() OVER" in sql
    assert re.search(r"(DECIMAL|NUMERIC)(\(18, ?4\))?\b", sql)  # BigQuery: NUMERIC, exact (38, 9)
    assert "UTC" in sql.splitlines()[5]  # the time-zone statement, after the five header lines


def test_sql_command_prints_the_script_and_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sql", "--dialect", "trino", "--table", "orders", "--as-of", "2025-06-30"]
    assert main([*args, "--map", "customer=c,date=d,amount=t"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-- crm-segment-winback per-customer summary, contract v1")
    assert "time zone: UTC" in out and "SET TIME ZONE 'UTC';" in out
    assert main([*args, "--map", "customer=c"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "crm-winback: error: the orders table: --map date=COLUMN is required (the column holding the date)"
    ]
    assert main([*args, "--map", "customer=c,date=d", "--timezone", "UTC'; DROP TABLE x; --"]) == 2
    assert "not a time-zone name" in capsys.readouterr().err
