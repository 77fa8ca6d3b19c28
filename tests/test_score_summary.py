"""``crm-winback score --summary FILE --gaps FILE``: a warehouse's summary scores exactly as the orders do.

The summary and the gap histogram are built by the Ibis expressions on DuckDB from the typed tables of the real
datasets (tests/engines_support.py), exported as Parquet or CSV, and scored; the orders are scored through the
ordinary ingest. The scores files must be the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from crm_winback.cli import main
from crm_winback.engines.dialects import summary_sql
from crm_winback.errors import InputError
from crm_winback.scoring.score import ScoreOptions, score_summary

from .engines_support import Dataset, datasets, typed_table

pytest.importorskip("ibis")
from crm_winback.engines.duckdb_engine import summary_on_duckdb


def _dataset(name: str) -> Dataset:
    return next(d for d in datasets() if d.name == name)


def _export(data: Dataset, folder: Path, suffix: str) -> tuple[Path, Path]:
    """The summary and the gap histogram of ``data``, as a warehouse would export them."""
    con = duckdb.connect()
    try:
        typed_table(con, data)
        paths = []
        for part in ("summary", "gaps"):
            path = folder / f"crm_{part}{suffix}"
            relation = summary_on_duckdb(con, "orders", data.mapping, data.as_of, part=part)
            if suffix == ".parquet":
                relation.write_parquet(str(path))
            else:
                relation.write_csv(str(path), header=True)
            paths.append(path)
    finally:
        con.close()
    return paths[0], paths[1]


# (dataset, summary file format, scoring method, scores file format, the shop cycle the orders give)
# The cycles are `crm-winback profile` on each file: median days between orders 34 (CDNOW), 28 (Online Retail).
CASES = [
    ("cdnow", ".parquet", "fixed", ".parquet", 34.0),
    ("cdnow", ".csv", "quantile", ".csv", 34.0),
    ("online_retail", ".parquet", "quantile", ".parquet", 28.0),
    ("online_retail", ".parquet", "fixed", ".csv", 28.0),
]


@pytest.mark.parametrize(("name", "summary_format", "method", "scores_format", "cycle"), CASES)
def test_summary_scores_are_the_orders_scores(
    name: str, summary_format: str, method: str, scores_format: str, cycle: float, tmp_path: Path
) -> None:
    data = _dataset(name)
    summary, gaps = _export(data, tmp_path, summary_format)
    from_orders = tmp_path / f"orders-scores{scores_format}"
    from_summary = tmp_path / f"summary-scores{scores_format}"
    as_of = data.as_of.isoformat()
    common = ["--method", method, "--format", "json"]
    assert main(["score", str(data.path), "--as-of", as_of, *common, "-o", str(from_orders)]) == 0
    assert (
        main(["score", "--summary", str(summary), "--gaps", str(gaps), *common, "-o", str(from_summary)]) == 0
    )
    assert from_summary.read_bytes() == from_orders.read_bytes()

    scored = score_summary(summary, gaps, ScoreOptions(method))  # type: ignore[arg-type]
    try:
        assert scored.ingested.as_of == data.as_of  # read off first_order_date + T
        assert scored.summary.repurchase_cycle_days == cycle
    finally:
        scored.ingested.close()


def test_per_customer_medians_cannot_give_the_shop_cycle(tmp_path: Path) -> None:
    """Why the histogram exists: on CDNOW the median of the customers' own median gaps is not the pooled
    median of every gap (34 days, `crm-winback profile`), so the summary alone would score differently."""
    summary, gaps = _export(_dataset("cdnow"), tmp_path, ".parquet")
    con = duckdb.connect()
    pooled, per_customer, total, expected = con.execute(
        f"""SELECT (SELECT median(gap_days) FROM (SELECT unnest(list_resize([gap_days], n::INTEGER, gap_days))
                    AS gap_days FROM '{gaps}')),
                   (SELECT median(median_days_between) FROM '{summary}'),
                   (SELECT sum(n) FROM '{gaps}'), (SELECT sum(purchase_days - 1) FROM '{summary}')"""
    ).fetchone()  # type: ignore[misc]
    assert pooled == 34.0
    assert per_customer != pooled
    assert total == expected


def test_summary_refusals_name_the_fix(tmp_path: Path) -> None:
    summary, gaps = _export(_dataset("cdnow"), tmp_path, ".parquet")
    with pytest.raises(InputError, match="--predict with --summary needs --backtest FILE"):
        score_summary(summary, gaps, ScoreOptions(predict=True))
    with pytest.raises(InputError, match="--summary needs --gaps FILE"):
        score_summary(summary, None)
    with pytest.raises(InputError, match=r"--as-of 1998-07-01: the summary was built as of 1998-06-30"):
        score_summary(summary, gaps, None, dt.date(1998, 7, 1))
    # a histogram from another run: its gaps do not add up to the summary's purchase days
    half = tmp_path / "half.parquet"
    duckdb.connect().execute(f"COPY (SELECT gap_days, n // 2 + 1 AS n FROM '{gaps}') TO '{half}'")
    with pytest.raises(InputError, match=r"--gaps .*half.parquet: holds [\d,]+ gaps, but the summary's"):
        score_summary(summary, half)


def test_sql_part_gaps_is_portable_and_says_what_it_is() -> None:
    sql = summary_sql(
        "bigquery", "shop.orders", {"customer": "c", "date": "d"}, dt.date(2025, 6, 30), part="gaps"
    )
    lines = sql.splitlines()
    assert lines[0].startswith("-- crm-segment-winback gap histogram (gap_days, n), contract v1")
    assert "--gaps crm_gaps.parquet" in lines[4]
    assert lines[5] == "SET @@time_zone = 'UTC';"
    upper = sql.upper()
    for banned in ("MEDIAN(", "PERCENTILE", "APPROX", "LIST_", "ARRAY_AGG", "QUANTILE"):
        assert banned not in upper, banned
    assert "`gap_days`" in sql and "`n`" in sql
