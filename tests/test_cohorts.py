"""Acquisition-month cohorts: exact tables on a hand-made fixture and a hand-checked CDNOW cohort."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from crm_winback.api import ingest_options
from crm_winback.cohorts import build_cohorts, observed
from crm_winback.ingest import load_orders

CDNOW = Path(__file__).resolve().parents[1] / "examples" / "cdnow" / "CDNOW_master.txt"


def _orders(rows: list[tuple[str, str, float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE orders (customer_id VARCHAR, order_id VARCHAR, order_date DATE, net DECIMAL(18,4))"
    )
    if rows:
        con.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)", [(c, str(i), d, v) for i, (c, d, v) in enumerate(rows)]
        )
    return con


def test_month_offsets_are_calendar_months_and_same_month_repeats_do_not_count() -> None:
    con = _orders([
        ("a", "2024-01-31", 10), ("a", "2024-02-01", 5),  # offset 1 although only a day later
        ("b", "2024-01-02", 20), ("b", "2024-01-30", 20),  # second order in the acquisition month: offset 0
        ("c", "2024-01-15", 30), ("c", "2024-04-15", 1), ("c", "2024-07-01", 1),  # offsets 3 and 6
        ("d", "2024-02-10", 7), ("d", "2024-03-01", 7),
    ])  # fmt: skip
    table = build_cohorts(con, dt.date(2024, 7, 31))
    assert [r.model_dump() for r in table.rows] == [
        {"cohort": "2024-01", "customers": 3, "m1": 0.3333, "m2": 0.0, "m3": 0.3333, "m6": 0.3333,
         "m12": None, "revenue": 87.0},
        {"cohort": "2024-02", "customers": 1, "m1": 1.0, "m2": 0.0, "m3": 0.0, "m6": None, "m12": None,
         "revenue": 14.0},
    ]  # fmt: skip


def test_month_cut_off_by_the_as_of_date_is_unknown_not_zero() -> None:
    con = _orders([("a", "2024-01-05", 10), ("a", "2024-02-05", 10)])
    # February has not ended on 2024-02-20: m1 is unknown although an order already happened in it.
    assert build_cohorts(con, dt.date(2024, 2, 20)).rows[0].m1 is None
    assert build_cohorts(con, dt.date(2024, 2, 29)).rows[0].m1 == 1.0
    # Orders after the as-of date are not seen at all.
    assert build_cohorts(con, dt.date(2024, 1, 31)).rows[0].revenue == 10.0


def test_observed_handles_year_ends() -> None:
    assert observed("2023-12", 1, dt.date(2024, 1, 31))
    assert not observed("2023-12", 1, dt.date(2024, 1, 30))
    assert observed("2023-01", 12, dt.date(2024, 1, 31))


def test_no_orders_gives_an_empty_table() -> None:
    assert build_cohorts(_orders([])).rows == []


def _cdnow_by_hand() -> tuple[dict[str, set[str]], dict[str, set[tuple[int, int]]], dict[str, float]]:
    """Plain Python over the raw file: first order month, months ordered in, and spend per customer."""
    months: dict[str, set[tuple[int, int]]] = defaultdict(set)
    spend: dict[str, float] = defaultdict(float)
    first: dict[str, str] = {}
    with CDNOW.open() as fh:
        next(fh)  # header
        for line in fh:
            cid, date, _cds, value = line.split()
            ym = (int(date[:4]), int(date[4:6]))
            months[cid].add(ym)
            spend[cid] += float(value)
            first[cid] = min(first.get(cid, date), date)
    cohorts: dict[str, set[str]] = defaultdict(set)
    for cid, d in first.items():
        cohorts[f"{d[:4]}-{d[4:6]}"].add(cid)
    return cohorts, months, spend


def test_cdnow_january_1997_cohort_matches_a_count_over_the_raw_file() -> None:
    cohorts, months, spend = _cdnow_by_hand()
    jan = cohorts["1997-01"]
    expected = {k: round(sum((1997 + (k // 12), 1 + k % 12) in months[c] for c in jan) / len(jan), 4)
                for k in (1, 2, 3, 6, 12)}  # fmt: skip
    ingested = load_orders(CDNOW, ingest_options())
    try:
        table = build_cohorts(ingested.con, ingested.as_of)
    finally:
        ingested.close()
    row = {r.cohort: r for r in table.rows}["1997-01"]
    assert row.customers == len(jan) == 7846
    assert (row.m1, row.m2, row.m3, row.m6, row.m12) == (
        expected[1],
        expected[2],
        expected[3],
        expected[6],
        expected[12],
    )
    assert (row.m1, row.m3, row.m12) == (0.1475, 0.1032, 0.0673)
    assert row.revenue == pytest.approx(round(sum(spend[c] for c in jan), 2), abs=0.005)
    assert [r.cohort for r in table.rows] == ["1997-01", "1997-02", "1997-03"]
    assert sum(r.customers for r in table.rows) == 23570


def test_cdnow_at_september_1997_leaves_month_12_unknown() -> None:
    ingested = load_orders(CDNOW, ingest_options(as_of="1997-09-30"))
    try:
        table = build_cohorts(ingested.con, ingested.as_of)
    finally:
        ingested.close()
    # March 1997 + 6 = September 1997 (ended on the as-of date): known; + 12 = March 1998: unknown.
    march = table.rows[2]
    assert (march.cohort, march.m6, march.m12) == ("1997-03", 0.0774, None)
