"""The model summary built in SQL, ``crm-winback predict`` and ``crm-winback validate`` end to end.

CDNOW reference: the 1/10 sample's published calibration summaries (tests/data/cdnow, from lifetimes 0.11.3)
and the R BTYD walkthrough's BG/NBD fit on the same transactions, LL = -9582.429 (Fader, Hardie & Lee 2005,
Marketing Science 24(2)); Gamma-Gamma p = 6.25, q = 3.74, v = 15.44 (Fader & Hardie, note 025).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

import crm_winback.cli as cli
from crm_winback.ingest import IngestOptions, load_orders
from crm_winback.predict import (
    BgNbdParams,
    fit_bgnbd,
    fit_gamma_gamma,
    mbgcnbd,
    mbgnbd,
    pareto_nbd,
    probability_alive,
)
from crm_winback.predict.summary import holdout_purchases, summarize
from crm_winback.predict.validation import validate

from .paths import CDNOW as CDNOW_MASTER
from .paths import DATA

CDNOW = DATA / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)

SMALL = """customer_id,order_date,amount
A,2024-01-01,10
A,2024-01-01,5
A,2024-01-11,20
A,2024-01-31,30
A,2024-02-20,5
A,2024-02-20,7
B,2024-01-20,40
C,2024-01-05,8
C,2024-02-15,9
D,2024-02-20,11
"""


@pytest.fixture(autouse=True)
def predict_commands_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lead wires "predict" into cli.COMMAND_MODULES; until then the tests register it themselves.
    if "predict" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "predict"])


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cdnow_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW sample transactions as an ordinary orders CSV, keyed by the sample id of the summaries."""
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_sample.csv"
    lines = ["customer_id,date,cds,amount"]
    for row in (CDNOW / "CDNOW_sample.txt").read_text().split("\n"):
        if row.strip():
            _, sample_id, date, cds, dollars = row.split()
            lines.append(f"{int(sample_id):04d},{date},{cds},{dollars}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_summary_merges_same_day_orders_and_leaves_the_first_purchase_out_of_zbar(small_file: Path) -> None:
    ingested = load_orders(small_file)
    try:
        s = summarize(ingested.con, dt.date(2024, 2, 10), "days")
        # A: purchase days 01-01 (15), 01-11 (20), 01-31 (30); B: 01-20; C: 01-05 (its 02-15 is later); D: later
        assert s.x.tolist() == [2, 0, 0]
        assert s.t_x.tolist() == [30, 0, 0]
        assert s.T.tolist() == [40, 21, 36]
        assert s.zbar[0] == 25.0 and np.isnan(s.zbar[1:]).all()
        ids = ingested.con.execute(f"SELECT customer_id FROM {s.table} ORDER BY row").fetchall()
        assert [i[0] for i in ids] == ["A", "B", "C"]
        weeks = summarize(ingested.con, dt.date(2024, 2, 10), "weeks")
        np.testing.assert_allclose(weeks.T, [40 / 7, 3, 36 / 7])
        purchases, value = holdout_purchases(ingested.con, weeks, dt.date(2024, 3, 1))
        assert purchases.tolist() == [1, 0, 1]  # A's two orders on 02-20 are one purchase
        assert value[0] == 12.0 and np.isnan(value[1]) and value[2] == 9.0
    finally:
        ingested.close()


def test_summary_from_cdnow_transactions_reproduces_the_published_summary(cdnow_sample: Path) -> None:
    ingested = load_orders(cdnow_sample)
    try:
        s = summarize(ingested.con, CALIBRATION_END, "weeks")
    finally:
        ingested.close()
    published = np.loadtxt(CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    assert s.customers == len(published) == 2357
    np.testing.assert_array_equal(s.x, published[:, 1])
    np.testing.assert_allclose(s.t_x, published[:, 2], atol=0.005)
    np.testing.assert_allclose(s.T, published[:, 3], atol=0.005)
    np.testing.assert_allclose(np.nan_to_num(s.zbar), published[:, 4], atol=0.005 + 1e-9)


def test_fit_on_unrounded_cdnow_summary_matches_btyd_to_the_last_digit(cdnow_sample: Path) -> None:
    ingested = load_orders(cdnow_sample)
    try:
        s = summarize(ingested.con, CALIBRATION_END, "weeks")
    finally:
        ingested.close()
    bgnbd = fit_bgnbd(s.x, s.t_x, s.T, time_unit="weeks")
    # BTYD: r = 0.2425982, alpha = 4.4136842, a = 0.7929899, b = 2.4261667, LL = -9582.429
    assert round(bgnbd.log_likelihood or 0.0, 3) == -9582.429
    np.testing.assert_allclose(
        [bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b], [0.2425982, 4.4136842, 0.7929899, 2.4261667], rtol=2e-4
    )
    gamma_gamma = fit_gamma_gamma(s.x, np.nan_to_num(s.zbar))
    assert [round(gamma_gamma.p, 2), round(gamma_gamma.q, 2), round(gamma_gamma.v, 2)] == [6.25, 3.74, 15.44]
    # the same data in days: the same model, alpha 7 times larger
    days = fit_bgnbd(s.x, s.t_x * 7, s.T * 7, time_unit="days")
    assert days.alpha == pytest.approx(7 * bgnbd.alpha, rel=1e-5)
    assert days.r == pytest.approx(bgnbd.r, rel=1e-5) and days.b == pytest.approx(bgnbd.b, rel=1e-5)


@pytest.fixture(scope="module")
def cdnow_validation() -> Iterator[dict]:
    ingested = load_orders(CDNOW_MASTER, IngestOptions(as_of=dt.date(1998, 6, 30)))
    try:
        yield validate(ingested, CALIBRATION_END).model_dump()
    finally:
        ingested.close()


def test_cdnow_holdout_validation_numbers(cdnow_validation: dict) -> None:
    r = cdnow_validation
    assert (r["calibration_start"], r["calibration_end"], r["holdout_end"]) == (
        "1997-01-01",
        "1997-09-30",
        "1998-06-30",
    )
    assert (r["holdout_days"], r["customers"], r["new_in_holdout"], r["time_unit"]) == (
        273,
        23570,
        0,
        "weeks",
    )
    b = r["bgnbd"]
    np.testing.assert_allclose(
        [b["r"], b["alpha"], b["a"], b["b"]], [0.25162, 4.78894, 0.72343, 2.16109], rtol=1e-4
    )
    assert round(b["log_likelihood"], 1) == -95368.4
    g = r["gamma_gamma"]
    np.testing.assert_allclose([g["p"], g["q"], g["v"]], [6.27536, 3.62445, 14.98369], rtol=1e-4)
    assert (r["actual"], r["predicted"], r["naive"]) == (19684, 16873.73, 29010.65)
    assert (r["predicted_error_pct"], r["naive_error_pct"]) == (-14.28, 47.38)
    assert (r["mae_predicted"], r["mae_naive"]) == (0.8187, 1.0381)
    assert (r["spend_predicted"], r["spend_actual"]) == (36.69, 37.66)


def test_cdnow_holdout_by_decile(cdnow_validation: dict) -> None:
    deciles = [
        (d["decile"], d["customers"], d["predicted"], d["actual"], d["naive"])
        for d in cdnow_validation["deciles"]
    ]
    assert deciles == [
        (1, 2357, 461.17, 713, 1021.56),
        (2, 2357, 503.82, 534, 118.59),
        (3, 2357, 525.44, 557, 107.53),
        (4, 2357, 547.91, 635, 183.72),
        (5, 2357, 572.76, 572, 108.27),
        (6, 2357, 599.25, 711, 166.82),
        (7, 2357, 754.71, 1187, 2334.97),
        (8, 2357, 1451.36, 2383, 3642.62),
        (9, 2357, 2651.4, 3420, 5677.27),
        (10, 2357, 8805.91, 8972, 15649.31),
    ]
    assert sum(d[3] for d in deciles) == cdnow_validation["actual"]


def test_validate_command_prints_json(capsys: pytest.CaptureFixture[str], cdnow_sample: Path) -> None:
    code, out, err = run(
        ["validate", str(cdnow_sample), "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30",
         "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert (report["customers"], report["actual"], report["bgnbd"]["time_unit"]) == (2357, 1882, "weeks")
    assert report["predicted"] == 1653.41 and report["naive"] == 2930.1
    assert round(report["bgnbd"]["log_likelihood"], 3) == -9582.429


def test_validate_table_names_the_baseline(capsys: pytest.CaptureFixture[str], cdnow_sample: Path) -> None:
    code, out, _ = run(["validate", str(cdnow_sample), "--calibration-end", "1997-09-30"], capsys)
    assert code == 0
    assert "naive (same rate)" in out and "BY DECILE OF PREDICTION" in out and "time unit: weeks" in out


def test_predict_writes_one_row_per_customer_and_a_segment_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    out_file = tmp_path / "predictions.parquet"
    code, out, err = run(
        ["predict", str(cdnow_sample), "--as-of", "1997-09-30", "--horizon", "273", "-o", str(out_file),
         "--model", "BG/NBD", "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["predictions_file"] == str(out_file)
    assert (summary["customers"], summary["one_time_buyers"]) == (2357, 1411)
    assert summary["bgnbd"]["time_unit"] == "weeks"
    assert round(summary["bgnbd"]["log_likelihood"], 3) == -9582.429
    assert sum(g["customers"] for g in summary["by_segment"]) == 2357
    assert summary["overall"]["expected_orders"] == 1653.41  # the same holdout forecast as validate
    assert "One-time buyers" in summary["definitions"]["p_alive"]
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{out_file}') ORDER BY customer_id").fetchall()
    assert len(rows) == 2357
    assert list(tmp_path.iterdir()) == [out_file]  # no temporary file left behind


def test_predicted_winback_date_is_the_day_p_alive_reaches_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    out_file = tmp_path / "p.csv"
    code, out, err = run(
        ["predict", str(cdnow_sample), "--as-of", "1997-09-30", "--time-unit", "days", "--threshold", "0.6",
         "-o", str(out_file), "--model", "BG/NBD", "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    params = BgNbdParams(**json.loads(out)["bgnbd"])
    assert params.time_unit == "days"
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT repeat_purchases, date_diff('day', first_order_date, last_order_date),
                   date_diff('day', first_order_date, winback_date), days_until_winback, winback_basis
            FROM read_csv('{out_file}') WHERE repeat_purchases > 0 AND winback_date > DATE '1997-09-30'"""
    ).fetchall()
    assert len(rows) > 100
    x, t_x, at = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    assert {r[4] for r in rows} == {"customer"}
    # on the winback date P(alive) is at or below 0.6, the day before it is above
    assert np.all(probability_alive(params, x, t_x, at) <= 0.6)
    assert np.all(probability_alive(params, x, t_x, at - 1) > 0.6)
    first = con.execute(f"SELECT * FROM read_csv('{out_file}') ORDER BY customer_id LIMIT 1").fetchone()
    assert first is not None and (first[0], first[3], first[10]) == ("0001", 2, "customer")  # winback_basis


def test_one_time_buyers_share_the_shop_level_winback_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    out_file = tmp_path / "p.csv"
    code, out, _ = run(["predict", str(cdnow_sample), "--threshold", "0.6", "-o", str(out_file),
                        "--model", "BG/NBD", "--format", "json"], capsys)  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    b = summary["bgnbd"]
    shop_days = math.ceil(7 * b["alpha"] * (0.6 ** (-1 / b["r"]) - 1))
    assert summary["shop_level_winback_days"] == shop_days  # within the 545 days of history
    assert shop_days < 545
    gaps = duckdb.sql(
        f"""SELECT DISTINCT date_diff('day', last_order_date, winback_date) FROM read_csv('{out_file}')
            WHERE winback_basis = 'shop level'"""
    ).fetchall()
    assert gaps == [(shop_days,)]


def test_no_winback_date_beyond_the_history_the_data_cover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    # up to 1997-09-30 the sample covers 272 days; the shop-level point (508 days) lies beyond it (issue 14)
    out_file = tmp_path / "p.csv"
    code, out, _ = run(["predict", str(cdnow_sample), "--as-of", "1997-09-30", "-o", str(out_file),
                        "--format", "json"], capsys)  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["shop_level_winback_days"] is None
    assert any("beyond the 272 days of history" in n for n in summary["notes"])
    longest = duckdb.sql(
        f"SELECT max(date_diff('day', last_order_date, winback_date)) FROM read_csv('{out_file}')"
    ).fetchall()[0][0]
    assert longest <= 272


def test_predictions_are_byte_identical_across_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_file: Path, cdnow_sample: Path
) -> None:
    outputs = []
    for name in ("one.csv", "two.csv"):
        code, _, err = run(["predict", str(cdnow_sample), "-o", str(tmp_path / name)], capsys)
        assert code == 0, err
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]


def test_without_amounts_spend_and_clv_are_empty_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    no_amounts = tmp_path / "dates_only.csv"
    lines = cdnow_sample.read_text().splitlines()
    no_amounts.write_text("\n".join(",".join(line.split(",")[:2]) for line in lines) + "\n")
    out_file = tmp_path / "p.csv"
    code, out, err = run(["predict", str(no_amounts), "-o", str(out_file), "--format", "json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["gamma_gamma"] is None
    assert any("no order values" in note for note in summary["notes"])
    nulls = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{out_file}') WHERE clv IS NULL AND expected_spend_per_order IS NULL"
    ).fetchall()
    assert nulls == [(2357,)]


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--threshold", "1.5"], 2, "--threshold 1.5: give a probability between 0 and 1"),
        (["--margin", "0"], 2, "--margin 0.0: give a fraction"),
        (["--horizon", "0"], 2, "--horizon 0: give a number of days > 0"),
        (["-o", "predictions.txt"], 2, "use a .csv or .parquet file name"),
    ],
)
def test_bad_predict_options_are_one_line_usage_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    small_file: Path,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["predict", str(small_file), *extra]
    if "-o" not in extra:
        args += ["-o", str(out_dir / "p.csv")]
    else:
        args[-1] = str(out_dir / extra[-1])
    got, out, err = run(args, capsys)
    assert got == code and out == ""
    assert message in err and err.count("\n") == 1
    assert list(out_dir.iterdir()) == []


def test_too_few_repeat_buyers_is_a_one_line_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_file: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(["predict", str(small_file), "-o", str(out_dir / "p.csv")], capsys)
    assert code == 1 and out == ""
    assert "only 2 of 4 customers bought more than once" in err and err.count("\n") == 1
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--calibration-end", "1998-07-01"], "--calibration-end 1998-07-01 must be before the end of the holdout"),
        (["--calibration-end", "30/09/1997"], "--calibration-end 30/09/1997: not a date"),
        (["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", "--as-of", "1998-06-30"],
         "give only --holdout-end"),
    ],
)  # fmt: skip
def test_bad_validate_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], cdnow_sample: Path, extra: list[str], message: str
) -> None:
    code, _, err = run(["validate", str(cdnow_sample), *extra], capsys)
    assert code == 2 and message in err


def test_predict_and_validate_have_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("predict", "validate"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert f"crm-winback {command}" in out and "Example" in out


def test_per_customer_forecasts_come_from_the_model_the_backtest_chose_for_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cdnow_sample: Path
) -> None:
    out_file = tmp_path / "p.csv"
    code, out, err = run(
        ["predict", str(cdnow_sample), "--as-of", "1997-09-30", "--time-unit", "days", "--threshold", "0.6",
         "-o", str(out_file), "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    models = [c for c in summary["backtest"]["checks"] if c["kind"] == "model" and c["mae"] is not None]
    least = min(models, key=lambda c: c["mae"])  # the smallest per-customer error on the holdout
    assert summary["forecast_model"] == summary["backtest"]["forecaster"] == least["name"] != "BG/NBD"
    module, kind = {
        "Pareto/NBD": (pareto_nbd, pareto_nbd.ParetoNbdParams),
        "MBG/NBD": (mbgnbd, mbgnbd.MbgNbdParams),
        "MBG/CNBD-k": (mbgcnbd, mbgcnbd.MbgCnbdParams),
    }[least["name"]]
    assert summary["definitions"]["p_alive"].startswith(least["name"])
    given = kind(**summary["forecast_parameters"], time_unit="days")  # type: ignore[operator]
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT repeat_purchases, date_diff('day', first_order_date, last_order_date),
                   date_diff('day', first_order_date, DATE '1997-09-30'), p_alive,
                   date_diff('day', first_order_date, winback_date), winback_basis
            FROM read_csv('{out_file}') WHERE winback_date > DATE '1997-09-30'"""
    ).fetchall()
    assert len(rows) > 100 and {r[5] for r in rows} == {"customer"}  # one-time buyers too: the model's own
    x, t_x, T, p_alive, at = (np.array([r[i] for r in rows], dtype=float) for i in range(5))
    assert np.allclose(module.probability_alive(given, x, t_x, T), p_alive, atol=1e-4)
    # on the winback date the model's P(alive) is at or below 0.6, the day before it is above
    assert np.all(module.probability_alive(given, x, t_x, at) <= 0.6)
    before = module.probability_alive(given, x, t_x, at - 1)
    assert np.all(before > 0.6), (
        before[before <= 0.6],
        at[before <= 0.6],
        x[before <= 0.6],
        t_x[before <= 0.6],
    )
