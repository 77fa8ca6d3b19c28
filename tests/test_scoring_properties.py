"""Invariants of scoring, for any order history: scores in 1..5, segments partition the customers, the row
order of the file changes nothing, and the same input gives byte-identical output."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_winback.api import score_file
from crm_winback.ingest import IngestOptions
from crm_winback.scoring import ScoreOptions

from .paths import TODAY

orders = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=12),  # customer
        st.integers(min_value=0, max_value=700),  # day offset
        st.integers(min_value=0, max_value=90000),  # cents
    ),
    min_size=1,
    max_size=40,
)


def _write(path: Path, rows: list[tuple[int, int, int]]) -> None:
    base = dt.date(2023, 1, 1)
    lines = ["order_id,customer,date,amount"]
    lines += [
        f"{i},c{c},{base + dt.timedelta(days=d)},{cents / 100:.2f}" for i, (c, d, cents) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")


def _run(rows: list[tuple[int, int, int]], method: str, folder: Path, name: str) -> bytes:
    src, out = folder / f"{name}.csv", folder / f"{name}-scores.csv"
    _write(src, rows)
    result, _ = score_file(src, IngestOptions(today=TODAY), ScoreOptions(method=method), out)  # type: ignore[arg-type]
    body = out.read_bytes()
    lines = body.decode().splitlines()[1:]
    header = body.decode().splitlines()[0].split(",")
    r, f, m = (header.index(c) for c in ("r_score", "f_score", "m_score"))
    for line in lines:
        cells = line.split(",")
        assert all(1 <= int(cells[i]) <= 5 for i in (r, f, m))
    # dates, counts and gaps against plain Python (gaps: days between consecutive distinct purchase days)
    days: dict[str, list[int]] = {}
    for c, d, _ in rows:
        days.setdefault(f"c{c}", []).append(d)
    gaps = {
        k: [b - a for a, b in zip(sorted(set(v)), sorted(set(v))[1:], strict=False)] for k, v in days.items()
    }
    names = (
        "customer_id",
        "first_order_date",
        "last_order_date",
        "orders",
        "purchase_days",
        "median_days_between",
    )
    col = {name: header.index(name) for name in names}
    base = dt.date(2023, 1, 1)
    for line in lines:
        cells = line.split(",")
        own, dates = gaps[cells[col["customer_id"]]], days[cells[col["customer_id"]]]
        assert cells[col["first_order_date"]] == str(base + dt.timedelta(days=min(dates)))
        assert cells[col["last_order_date"]] == str(base + dt.timedelta(days=max(dates)))
        assert int(cells[col["orders"]]) == len(dates)
        assert int(cells[col["purchase_days"]]) == len(own) + 1
        expected = f"{statistics.median(own):.1f}" if own else ""
        assert cells[col["median_days_between"]] == expected
    every_gap = [g for own in gaps.values() for g in own]
    assert result.quality.median_days_between_orders == (statistics.median(every_gap) if every_gap else None)
    card = result.scoring.scorecard
    assert sum(row.customers for row in card.by_segment) == len(lines) == result.quality.customers
    assert sum(row.customers for row in card.by_lifecycle) == len(lines)
    assert len({row.group for row in card.by_segment}) == len(card.by_segment)
    # the scorecard's medians and churn-risk counts against the per-customer file
    rows_out = [line.split(",") for line in lines]
    recency, risk = header.index("recency_days"), header.index("churn_risk")
    for groups, column in (
        (card.by_segment, "rfm_segment"),
        (card.by_lifecycle, "lifecycle_stage"),
        ([card.total], None),
    ):
        for row in groups:
            members = [r for r in rows_out if column is None or r[header.index(column)] == row.group]
            assert row.median_days_since_last_order == statistics.median(int(r[recency]) for r in members)
            counts = [sum(r[risk] == level for r in members) for level in ("low", "medium", "high")]
            assert [row.churn_risk_low, row.churn_risk_medium, row.churn_risk_high] == counts
    return body


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=orders, method=st.sampled_from(["fixed", "quantile"]), seed=st.integers(0, 2**32 - 1))
def test_scores_partition_and_ignore_row_order(
    rows: list[tuple[int, int, int]], method: str, seed: int
) -> None:
    shuffled = list(enumerate(rows))
    random.Random(seed).shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first = _run(rows, method, folder, "a")
        again = _run(rows, method, folder, "b")
        # the same orders in another row order (order ids travel with their rows)
        src = folder / "c.csv"
        base = dt.date(2023, 1, 1)
        lines = ["order_id,customer,date,amount"]
        lines += [
            f"{i},c{c},{base + dt.timedelta(days=d)},{cents / 100:.2f}" for i, (c, d, cents) in shuffled
        ]
        src.write_text("\n".join(lines) + "\n")
        out = folder / "c-scores.csv"
        score_file(src, IngestOptions(today=TODAY), ScoreOptions(method=method), out)  # type: ignore[arg-type]
        assert first == again == out.read_bytes()


def test_a_brand_new_customer_is_never_lost_or_inactive(tmp_path: Path) -> None:
    rows = [(1, 0, 5000), (1, 300, 5000), (2, 10, 100), (3, 700, 2500)]  # customer 3 placed one order today
    for method in ("fixed", "quantile"):
        out = _run(rows, method, tmp_path, method).decode().splitlines()
        newest = next(line for line in out if line.startswith("c3,"))
        assert ",New Customers,new," in newest, newest


def test_the_scores_file_is_in_customer_order_when_duckdb_works_in_parallel(tmp_path: Path) -> None:
    # enough customers for several row groups, so that DuckDB splits every step over its threads; the ids
    # arrive scrambled, and sort as text ("k10" before "k9")
    src, out = tmp_path / "many.csv", tmp_path / "many-scores.csv"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT i AS order_id, 'k' || ((i * 7919) % 150000) AS customer,
                         DATE '2023-01-01' + CAST(i % 700 AS INTEGER) AS date, 10 + i % 97 AS amount
                  FROM range(200000) t(i)) TO '{src}' (HEADER)"""
    )
    con.close()
    score_file(src, IngestOptions(today=TODAY), ScoreOptions(), out)
    ids = [line.split(",", 1)[0] for line in out.read_text().splitlines()[1:]]
    assert len(ids) == len(set(ids)) == 150000
    assert ids == sorted(ids)
