"""The backtest drawn: cumulative repeat purchases, predicted against actual, over calibration and holdout.

This is the classic tracking plot of the purchase models (Fader, Hardie and Lee 2005, "Counting your customers
the easy way", figure 3 on CDNOW): a model fitted on the calibration period predicts, for the customers first
seen by its end, how many repeat purchase days they make week by week, in the calibration period and on into
the holdout it never saw. Each customer contributes the model's unconditional E[X(t)] from their first
purchase day (a customer with no history: x = t_x = T = 0, where every candidate's conditional expectation is
the unconditional one). The actual line counts the same customers' repeat purchase days.

Beside it, the holdout by decile: customers ranked by the model's conditional expectation for the holdout, ten
groups of (nearly) equal size, mean predicted and mean actual repeat purchase days in each.

A huge shop's backtest runs on a seeded sample of its customers (crm_winback.predict.backtest.SAMPLE); both
views then draw that sample, the customers whose AUCs and band shares the report gives, and say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import duckdb
import numpy as np
from numpy.typing import NDArray

from crm_winback.errors import DataError
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict.backtest import SAMPLE_TABLE, fit_sample, history_of, summary_rows
from crm_winback.predict.candidates import CANDIDATES, Candidate, Fitted, History
from crm_winback.predict.fitting import DAYS_PER_UNIT
from crm_winback.predict.summary import RfmSummary, holdout_purchases, purchase_days, summarize
from crm_winback.workdb import has_table

TRACKING_TABLE = "tracking_summary"
DECILES = 10


@dataclass(frozen=True)
class Tracking:
    """Weekly cumulative repeat purchase days of the calibration customers, and the holdout by decile."""

    model: str
    why: str  # why this model is drawn
    start: dt.date  # the first purchase day of the history: week 0
    calibration_end: dt.date
    calibration_weeks: float  # where the split falls, in weeks from ``start``
    weeks: list[int]  # week numbers 1..n; week w ends ``start + 7w`` days (the last one at the as-of date)
    actual: list[float]  # cumulative repeat purchase days at the end of each week
    predicted: list[float]
    deciles: list[
        tuple[int, int, float, float]
    ]  # (decile 1 = highest predicted, customers, mean pred, actual)
    customers: int = 0  # the customers drawn: first seen by the calibration end (of the sample, if any)
    sampled_from: int | None = None  # a huge shop's: the backtest's sample was drawn from this many

    def who(self) -> str:
        """The customers drawn, in words."""
        if self.sampled_from is None:
            return f"the {self.customers:,} customers first seen by {self.calibration_end}"
        return (
            f"the backtest's random sample of {self.customers:,} of the {self.sampled_from:,} customers first "
            f"seen by {self.calibration_end}"
        )


def _candidate(report: BacktestReport) -> tuple[Candidate, str]:
    by_name = {c.name: c for c in CANDIDATES}
    if report.chosen in by_name:
        return by_name[report.chosen], "the model the backtest chose for churn risk"
    model = report.forecaster if report.forecaster in by_name else "BG/NBD"
    return by_name[model], f"{model}, whose forecasts the documents show ({report.chosen} ranks churn risk)"


def tracking(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    report: BacktestReport,
    fits: Mapping[str, Fitted] | None = None,
    calibration: RfmSummary | None = None,
    holdout: NDArray[np.float64] | None = None,
) -> Tracking:
    """Fit the drawn model on the backtest's calibration period and build both views of the holdout.

    ``fits``: the backtest's own fits by model name (``Backtest.fits``), used instead of fitting again; they
    were fitted on the same customers, so the numbers are the same. ``calibration`` and ``holdout``: the
    backtest's calibration summary and its customers' holdout purchase days (``Backtest.calibration``,
    ``Backtest.holdout``), used instead of summarizing the calibration period again. When the backtest ran on
    a sample (``report.sampled_from``), they are the sample's, and so are both views.

    Raises DataError when the backtest was not run or the model cannot be fitted on the calibration part.
    """
    if report.status != "done" or report.calibration_end is None:
        raise DataError(f"no tracking plot: the backtest was not run ({report.reason})")
    candidate, why = _candidate(report)
    end = dt.date.fromisoformat(report.calibration_end)
    reuse = calibration is not None and calibration.end == end and calibration.time_unit == "weeks"
    summary = (
        calibration if reuse and calibration is not None else summarize(con, end, "weeks", TRACKING_TABLE)
    )
    # a sampled backtest's calibration is its sample's: the actual line counts the same customers' purchases
    sampled = reuse and report.sampled_from is not None
    if sampled and not has_table(con, SAMPLE_TABLE):
        raise DataError("no tracking plot: the backtest's sample is no longer in the connection")
    try:
        # the backtest's own fit: the same customers (its seeded sample of a huge shop), the same parameters
        fitted = (fits or {}).get(candidate.name) or candidate.fit(fit_sample(history_of(summary))[0])
        if fitted.runaway:
            raise DataError(fitted.runaway)
        days = purchase_days(con)
        drawn = (
            f"SELECT customer_id FROM {SAMPLE_TABLE}"
            if sampled
            else f"SELECT customer_id FROM {days} WHERE gap_days IS NULL AND order_date <= $c"
        )
        # each customer's first purchase day, counted back from the calibration end by T (whole days)
        age = np.rint(summary.T * DAYS_PER_UNIT["weeks"]).astype(np.int64)
        start = end - dt.timedelta(days=int(age.max()))
        born, count = np.unique((end - start).days - age, return_counts=True)
        births = {"d": born, "n": count}
        total_days = (as_of - start).days
        weeks = list(range(1, total_days // 7 + 1))
        if total_days % 7:
            weeks.append(weeks[-1] + 1 if weeks else 1)
        ends = np.minimum(np.array(weeks) * 7, total_days)  # days from start at each week's end
        # the repeat purchase days (every one after a customer's first) of the customers first seen by the end
        repeats = con.execute(
            f"""SELECT date_diff('day', $s::DATE, order_date) AS d, count(*) AS n
                FROM {days}
                WHERE gap_days IS NOT NULL AND order_date <= $e AND customer_id IN ({drawn})
                GROUP BY d ORDER BY d""",
            {"s": start, "e": as_of} | ({} if sampled else {"c": end}),
        ).fetchnumpy()
        actual_daily = np.zeros(total_days + 1)
        np.add.at(actual_daily, np.asarray(repeats["d"], dtype=np.intp), np.asarray(repeats["n"], float))
        actual_cum = np.cumsum(actual_daily)[ends]
        predicted_cum = _predicted(fitted, births, ends)
        holdout_days = (as_of - end).days
        if holdout is None or not reuse:
            holdout, _ = holdout_purchases(con, summary, as_of)
        deciles = _deciles(fitted, summary, holdout_days / DAYS_PER_UNIT["weeks"], holdout)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {TRACKING_TABLE}")
        con.execute(f"DROP TABLE IF EXISTS {SAMPLE_TABLE}")  # kept by the backtest for this plot alone
    return Tracking(
        model=candidate.name,
        why=why,
        start=start,
        calibration_end=end,
        calibration_weeks=round((end - start).days / 7, 2),
        weeks=weeks,
        actual=[float(v) for v in actual_cum],
        predicted=[round(float(v), 1) for v in predicted_cum],
        deciles=deciles,
        customers=summary.customers,
        sampled_from=report.sampled_from if sampled else None,
    )


def _predicted(fitted: Fitted, births: dict[str, np.ndarray], ends: np.ndarray) -> np.ndarray:
    """Sum over birth days of customers x E[X(age)], at each week's end."""
    born = np.asarray(births["d"], dtype=np.float64)
    count = np.asarray(births["n"], dtype=np.float64)
    ages_days = np.arange(int(ends.max()) + 1, dtype=np.float64)
    zeros = np.zeros(len(ages_days))
    fresh = History(x=zeros, t_x=zeros, T=zeros, time_unit="weeks", litt=zeros)
    # every candidate's expectation is numpy arithmetic that broadcasts the horizon: one call for all ages
    # (tests/test_visual_report.py checks it against one call per age for each candidate)
    ages = cast(float, ages_days / DAYS_PER_UNIT["weeks"])
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        curve = np.asarray(fitted.expected_orders(ages, fresh))
    if not np.isfinite(curve).all():
        raise DataError(f"{fitted.name} gives no finite expected purchases for new customers on this data")
    out = np.empty(len(ends))
    for i, end in enumerate(ends):
        alive = born <= end
        out[i] = float(np.dot(count[alive], curve[(end - born[alive]).astype(np.intp)]))
    return out


def _deciles(
    fitted: Fitted, summary: RfmSummary, length: float, actual: NDArray[np.float64]
) -> list[tuple[int, int, float, float]]:
    rows, row_of = summary_rows(summary)  # one prediction per distinct (x, t_x, T), as the backtest does
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        expected = np.asarray(fitted.expected_orders(length, rows))[row_of]
    # highest predicted first; ties broken by row so the groups are the same on every run
    order = np.lexsort((np.arange(len(expected)), -expected))
    groups = np.array_split(order, DECILES)
    return [
        (i + 1, len(g), round(float(expected[g].mean()), 3), round(float(actual[g].mean()), 3))
        for i, g in enumerate(groups)
        if len(g)
    ]
