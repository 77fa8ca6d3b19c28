"""The speed work on the backtest (issue 14) changes no number it should not.

A shop with more than ``backtest.SAMPLE`` customers has its backtest run on a seeded sample of them: here the
cap is lowered below the CDNOW master's customers to exercise it. Predictions computed once per
distinct (x, t_x, T) row must equal the per-customer ones exactly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from crm_winback.ingest import IngestOptions, load_orders
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict import backtest as bt
from crm_winback.predict.candidates import CANDIDATES
from crm_winback.predict.summary import summarize

from .paths import CDNOW

# issue 14's CDNOW split
CALIBRATION_END, HOLDOUT_END = dt.date(1997, 9, 30), dt.date(1998, 6, 30)


def _report() -> BacktestReport:
    ingested = load_orders(CDNOW, IngestOptions(as_of=HOLDOUT_END))
    try:
        return bt.run_backtest(ingested.con, ingested.as_of, CALIBRATION_END).report
    finally:
        ingested.close()


def test_a_huge_shops_backtest_runs_on_a_stated_seeded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    full = _report()
    assert full.notes == [] and full.sampled_from is None  # 23,570 customers: under the cap, all of them
    monkeypatch.setattr(bt, "SAMPLE", 5_000)
    first, second = _report(), _report()
    assert first.model_dump() == second.model_dump()  # the same sample every run
    assert first.notes == [
        "the backtest fitted and scored every model and rule on a random sample of 5,000 of the 23,570 "
        "customers first seen by 1997-09-30 (seed 20261130, the same every run)"
    ]
    assert first.customers == 5_000 and first.sampled_from == full.customers == 23_570
    assert "a random sample of 5,000 of the 23,570 customers" in first.summary_lines()[0]
    for check in first.checks:
        assert sum(b.customers for b in check.bands) in (0, 5_000)  # every customer of the sample scored
    for name in (bt.RECENCY, "BG/NBD"):
        sampled, everyone = first.check(name), full.check(name)
        assert sampled is not None and everyone is not None
        assert sampled.auc is not None and everyone.auc is not None
        assert sampled.auc != everyone.auc  # other customers ...
        assert abs(sampled.auc - everyone.auc) < 0.02  # ... ranked much the same


def test_predictions_on_distinct_rows_equal_the_per_customer_ones() -> None:
    ingested = load_orders(CDNOW, IngestOptions(as_of=HOLDOUT_END))
    try:
        summary = summarize(ingested.con, CALIBRATION_END, "weeks")
    finally:
        ingested.close()
    h = bt.history_of(summary)
    rows, row_of = bt.distinct_rows(h)
    assert len(rows.x) < len(h.x) / 2  # CDNOW's 23,570 customers share far fewer (x, t_x, T) rows
    for candidate in CANDIDATES:
        fitted = candidate.fit(h)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            np.testing.assert_array_equal(fitted.p_no_order(39.0, rows)[row_of], fitted.p_no_order(39.0, h))
            np.testing.assert_array_equal(
                fitted.expected_orders(39.0, rows)[row_of], fitted.expected_orders(39.0, h)
            )


def test_rank_statistics_per_distinct_value_equal_the_per_customer_ones() -> None:
    """The backtest's AUC, isotonic steps and held-out shares, taken per distinct value of the score
    (``Ranking``), are the same bits as scipy's ranks and the per-customer steps they replaced."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(7)
    rows = rng.random(400).round(2)  # ties on purpose
    row_of = rng.integers(0, len(rows), 5_000)
    score = rows[row_of]
    silent = rng.random(5_000) < score
    n_pos = int(silent.sum())
    n_neg = len(silent) - n_pos
    expected = float((rankdata(score)[silent].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    ranking = bt.Ranking.gathered(rows, row_of)
    np.testing.assert_array_equal(ranking.score, score)
    assert bt.auc(ranking, silent) == bt.auc(score, silent) == expected
    half = np.arange(len(score)) % 2 == 0
    out = np.empty(len(score))
    for part in (half, ~half):  # the per-customer held-out shares, as computed before
        steps = bt.fit_steps(score[~part], silent[~part])
        out[part] = steps(score[part])
        subset = bt.fit_steps(ranking, silent, ~part)
        np.testing.assert_array_equal(subset.values, steps.values)
        np.testing.assert_array_equal(subset.share, steps.share)
    np.testing.assert_array_equal(bt.held_out_share(ranking, silent), out)


def test_values_and_logs_are_summed_the_same_whatever_the_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Same-day orders are summed as decimals and the logs of the gaps as whole multiples of 2^-48: a sum of
    doubles depends on the order the engine's threads add them in (0.1 + 0.2 + 0.3 is 0.6000000000000001 left
    to right), and 117 of 2.3M customers' CLV moved by a cent between two runs of the 10M-line bench file
    before. A and B have the same gaps in opposite orders; summed as doubles in date order, their logs differ in
    the last bit (31.340549516991484 against 31.34054951699149)."""
    import math

    gaps = [122, 304, 279, 67, 190, 310]
    lines = ["customer_id,date,amount", "C,2020-01-01,10.00", "C,2020-02-01,0.1", "C,2020-02-01,0.2",
             "C,2020-02-01,0.3"]  # fmt: skip
    for customer, order in (("A", gaps), ("B", gaps[::-1])):
        day = dt.date(2020, 1, 1)
        lines.append(f"{customer},{day},5.00")
        for gap in order:
            day += dt.timedelta(days=gap)
            lines.append(f"{customer},{day},1.00")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingested = load_orders(path)
    try:
        s = summarize(ingested.con, dt.date(2025, 1, 1), "days")
    finally:
        ingested.close()
    a, b, c = 0, 1, 2  # rows in customer-id order
    assert s.zbar[c] == 0.6  # the repeat day's value, exactly
    assert s.litt[a] == s.litt[b]  # the same bits whatever order the gaps come in
    assert abs(s.litt[a] - math.fsum(math.log(g) for g in gaps)) < 1e-13


def test_the_summary_grouped_by_whole_days_equals_the_grouping_of_its_floats() -> None:
    """``RfmSummary.rows`` groups integer day counts (a lookup, no sort) and gives the values back in weeks:
    the same rows, counts, levels and customer-to-row map as grouping the float columns."""
    from crm_winback.predict.fitting import group_rows

    ingested = load_orders(CDNOW, IngestOptions(as_of=HOLDOUT_END))
    try:
        summary = summarize(ingested.con, CALIBRATION_END, "weeks")
    finally:
        ingested.close()
    fast, plain = summary.rows, group_rows([summary.x, summary.t_x, summary.T], None)
    for a, b in zip(fast.columns, plain.columns, strict=True):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.weights, plain.weights)
    np.testing.assert_array_equal(fast.inverse, plain.inverse)
    for a, b in zip(fast.levels, plain.levels, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.index, b.index)


def test_the_key_grouping_equals_numpy_unique() -> None:
    """group_rows' one-argsort unique gives np.unique's sorted keys and inverse, ties and all."""
    from crm_winback.predict.fitting import _unique_inverse

    rng = np.random.default_rng(7)
    for key in (
        rng.integers(0, 50, 10_000),
        rng.integers(-(2**40), 2**40, 5_000),
        np.array([3, 3, 3]),
        np.array([], np.int64),
    ):
        key = key.astype(np.int64)
        distinct, inverse = _unique_inverse(key)
        expected, expected_inverse = np.unique(key, return_inverse=True)
        np.testing.assert_array_equal(distinct, expected)
        np.testing.assert_array_equal(inverse, expected_inverse.ravel())


def test_a_huge_shops_whole_history_fits_use_the_seeded_sample_and_predict_everyone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """BG/NBD and Gamma-Gamma on the whole history of a shop over backtest.SAMPLE customers (lowered here) are
    fitted on the seeded sample: stated once, close to the fit on everyone, and every customer predicted."""
    from crm_winback.api import predict_file

    full = predict_file(CDNOW)
    monkeypatch.setattr(bt, "SAMPLE", 5_000)
    out = tmp_path / "predictions.csv"
    sampled = predict_file(CDNOW, output=out)
    note = bt.whole_history_note(23_570)
    assert note == (
        "the whole-history model fits used a random sample of 5,000 of the 23,570 customers (seed 20261130, "
        "the same every run); every customer is scored and predicted"
    )
    assert sampled.notes.count(note) == 1 and note not in full.notes
    assert sampled.customers == full.customers == 23_570
    assert len(out.read_text(encoding="utf-8").splitlines()) == 23_570 + 1  # header and every customer
    assert sampled.bgnbd is not None and full.bgnbd is not None
    assert sampled.bgnbd.r != full.bgnbd.r  # another fit ...
    assert abs(sampled.bgnbd.r / full.bgnbd.r - 1) < 0.15  # ... of the same shop
