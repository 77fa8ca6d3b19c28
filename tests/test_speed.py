"""The speed work on the backtest (issue 14) changes no number it should not.

A shop with more than ``backtest.FIT_SAMPLE`` customers has the backtest's models fitted on a seeded sample:
here the cap is lowered below the CDNOW master's customers to exercise it. Predictions computed once per
distinct (x, t_x, T) row must equal the per-customer ones exactly.
"""

from __future__ import annotations

import datetime as dt

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


def test_a_sampled_fit_is_stated_seeded_and_scores_every_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    full = _report()
    assert full.notes == []  # 23,570 customers: under the cap, every one is fitted
    monkeypatch.setattr(bt, "FIT_SAMPLE", 5_000)
    first, second = _report(), _report()
    assert first.model_dump() == second.model_dump()  # the same sample every run
    assert first.notes == [
        "the backtest fitted each model on a random sample of 5,000 of the 23,570 customers (seed 20261130, "
        "the same every run) and scored it on all of them"
    ]
    assert first.customers == full.customers == 23_570
    for check in first.checks:
        assert sum(b.customers for b in check.bands) in (0, 23_570)  # every customer scored
    recency = first.check(bt.RECENCY)
    assert recency is not None and recency == full.check(bt.RECENCY)  # no fit: unchanged
    model = first.check("BG/NBD")
    fitted_on_all = full.check("BG/NBD")
    assert model is not None and fitted_on_all is not None
    assert model.auc is not None and fitted_on_all.auc is not None
    assert model.auc != fitted_on_all.auc  # a different fit ...
    assert abs(model.auc - fitted_on_all.auc) < 0.01  # ... ranking the customers much the same


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
