"""The Ibis summary (contract v1) on DuckDB equals today's local DuckDB SQL on every real dataset."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from .engines_support import assert_same_summary, datasets, engine_rows, local_summary, typed_table

ibis = pytest.importorskip("ibis")  # the [warehouse] extra; the lock installs it, so CI always has it

from crm_winback.engines.duckdb_engine import summary_on_duckdb  # noqa: E402
from crm_winback.errors import InputError  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("data", datasets(), ids=lambda d: d.name)
def test_ibis_summary_on_duckdb_equals_the_local_sql(data) -> None:
    local = local_summary(data)
    con = duckdb.connect()
    typed_table(con, data)
    got = summary_on_duckdb(con, "orders", data.mapping, data.as_of)
    assert_same_summary(local, engine_rows(got.fetchall()))


@pytest.mark.slow
def test_backtest_part_holds_the_local_backtests_inputs_on_cdnow(tmp_path) -> None:
    """The third contract part at the calibration end the product chooses equals what run_backtest reads from the
    orders: per customer x, t_x, T, zbar and litt at the split, the holdout's purchase days and the day of the
    first of them; and that calibration end is the one choose_split gives from the summary and gap histogram."""
    import numpy as np

    from crm_winback.engines.summary import backtest_summary, gap_histogram
    from crm_winback.engines.summary_file import load_summary
    from crm_winback.ingest import IngestOptions, load_orders
    from crm_winback.lifecycle import repurchase_cycle, stage_sql, vip_share
    from crm_winback.predict.backtest import choose_split, find_split, stages_at
    from crm_winback.predict.summary import holdout_outcomes, summarize
    from crm_winback.workdb import median_of_counts

    from .paths import TODAY

    data = next(d for d in datasets() if d.name == "cdnow")
    ingested = load_orders(data.path, IngestOptions(as_of=data.as_of, today=TODAY))
    try:
        con = ingested.con
        _, _, split = find_split(con, data.as_of)
        assert not isinstance(split, str)
        # 1997-01-01..1998-06-30 is 545 days: the last third, ceil(545 / 3) = 182 days, is held out
        assert (split.calibration_end.isoformat(), split.holdout_days) == ("1997-12-30", 182)
        local = summarize(con, split.calibration_end, "days", table="bt")
        actual, _, first_back = holdout_outcomes(con, local, data.as_of)
        stages = stages_at(con, local)
        ids = [r[0] for r in con.execute("SELECT customer_id FROM bt ORDER BY row").fetchall()]
    finally:
        ingested.close()

    orders = duckdb.connect()
    typed_table(orders, data)
    paths = {}
    for part in ("summary", "gaps"):
        paths[part] = str(tmp_path / f"{part}.parquet")
        summary_on_duckdb(orders, "orders", data.mapping, data.as_of, part=part).write_parquet(paths[part])
    scored = load_summary(paths["summary"], paths["gaps"])
    try:
        q = scored.quality
        cycle = q.median_days_between_orders
        assert choose_split(q.first_order_date, data.as_of, cycle) == split
    finally:
        scored.close()

    schema = dict(zip(orders.table("orders").columns, orders.table("orders").types, strict=True))
    from ibis.backends.sql.datatypes import DuckDBType

    table = ibis.table({k: DuckDBType.from_string(str(v)) for k, v in schema.items()}, name="orders")
    expr = backtest_summary(table, data.mapping, data.as_of, split.calibration_end)
    got = orders.sql(str(ibis.to_sql(expr, dialect="duckdb"))).fetchnumpy()
    assert list(got["customer_id"]) == ids  # the same customers (first seen by the split), same order
    x = np.asarray(got["x"], dtype=float)
    assert np.array_equal(x, local.x)
    assert np.array_equal(np.asarray(got["t_x"], dtype=float), local.t_x)
    assert np.array_equal(np.asarray(got["T"], dtype=float), local.T)
    assert np.allclose(np.asarray(got["litt"], dtype=float), local.litt, rtol=1e-12, atol=1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        zbar = np.asarray(got["repeat_value"], dtype=float) / x
    assert np.allclose(zbar, local.zbar, rtol=1e-9, equal_nan=True)
    assert np.array_equal(np.asarray(got["holdout_purchase_days"], dtype=float), actual)
    back = np.ma.filled(np.ma.asarray(got["first_holdout_day"]).astype(float), np.inf)  # NULL where none
    assert np.array_equal(back, first_back)
    assert int(actual.sum()) > 0 and np.isinf(first_back).sum() > 0  # both outcomes occur

    # the lifecycle stage at the calibration end (the winback checks' groups), from this part and the gap
    # histogram at the calibration end, by the scorer's rules
    gaps = gap_histogram(table, data.mapping, split.calibration_end)
    orders.sql(str(ibis.to_sql(expr, dialect="duckdb"))).create("bt")
    orders.sql(str(ibis.to_sql(gaps, dialect="duckdb"))).create("bt_gaps")
    found = orders.execute(
        f"SELECT ({median_of_counts('bt_gaps', 'gap_days', 'n')}), "
        "(SELECT count(*) FILTER (WHERE orders > 1) FROM bt)"
    ).fetchall()[0]
    cycle_at_end, _ = repurchase_cycle(found[0], found[1])
    end = split.calibration_end.isoformat()
    got_stages = orders.execute(
        f"""WITH v AS (SELECT customer_id, orders, net_total AS spend_value,
                              date_diff('day', last_order_date, DATE '{end}') AS recency_days FROM bt),
                cut AS (SELECT quantile_disc(spend_value, {1 - vip_share()!r}) AS vip FROM v)
            SELECT {stage_sql(cycle_at_end, "(SELECT vip FROM cut)")} FROM v ORDER BY customer_id"""
    ).fetchall()
    assert [r[0] for r in got_stages] == list(stages)


@pytest.mark.slow
def test_backtest_on_arrays_gives_the_orders_backtest_report_on_cdnow(tmp_path) -> None:
    """run_backtest_on_arrays, fed the backtest part and the gap histogram at the split (both Ibis expressions
    over the typed table) and the whole history's first date, as-of and cycle, reports what run_backtest reports
    from the orders: the same split, checks, AUCs, bands, chosen ranking, forecaster and winback checks."""
    from ibis.backends.sql.datatypes import DuckDBType

    from crm_winback.engines.summary import backtest_summary, gap_histogram
    from crm_winback.ingest import IngestOptions, load_orders
    from crm_winback.predict.backtest import run_backtest, run_backtest_on_arrays

    from .paths import TODAY

    data = next(d for d in datasets() if d.name == "cdnow")
    ingested = load_orders(data.path, IngestOptions(as_of=data.as_of, today=TODAY))
    try:
        from_orders = run_backtest(ingested.con, data.as_of)  # in weeks, PredictOptions' default
    finally:
        ingested.close()
    report = from_orders.report
    assert report.status == "done" and report.calibration_end == "1997-12-30"
    assert (
        len([c for c in report.checks if c.status == "scored"]) >= 3 and report.winback
    )  # models were fitted

    orders = duckdb.connect()
    typed_table(orders, data)
    schema = dict(zip(orders.table("orders").columns, orders.table("orders").types, strict=True))
    table = ibis.table({k: DuckDBType.from_string(str(v)) for k, v in schema.items()}, name="orders")
    end = dt.date(1997, 12, 30)

    def run(expr):
        return orders.sql(str(ibis.to_sql(expr, dialect="duckdb"))).fetchnumpy()

    part = run(backtest_summary(table, data.mapping, data.as_of, end))
    gaps_at_end = run(gap_histogram(table, data.mapping, end))
    # the whole history's first order date and shop cycle, as the summary and its gap histogram give them
    # (crm-winback profile on CDNOW: 1997-01-01, a median of 34 days between purchase days)
    from_arrays = run_backtest_on_arrays(part, gaps_at_end, dt.date(1997, 1, 1), data.as_of, 34.0)
    assert from_arrays.report.model_dump() == report.model_dump()
    assert from_arrays.edges == from_orders.edges
    assert [c.name for c in (from_arrays.candidate, from_arrays.forecaster) if c] == [
        c.name for c in (from_orders.candidate, from_orders.forecaster) if c
    ]

    with pytest.raises(
        InputError, match="built at calibration end 1997-12-30, but the backtest splits at 1998-01-"
    ):
        run_backtest_on_arrays(part, gaps_at_end, dt.date(1997, 1, 1), data.as_of, 34.0, dt.date(1998, 1, 5))
