"""Backtest first: every purchase model is scored on the shop's own past before any of its numbers is shown.

The history is split at a calibration end chosen from the data (:func:`choose_split`); every candidate in
``CANDIDATES`` is fitted on the customers first seen on or before it and scored on the holdout that follows,
beside two baselines: recency alone (days since the last order) and the naive "same rate as before". Churn
ranking is the AUC for "no order in the holdout", each model ranking by its P(no order within the holdout
length) - never by 1 - P(alive), which calls every one-time buyer of BG/NBD certainly alive.

A model is chosen only when it ranks better than recency alone by more than ``MIN_AUC_GAIN`` and its fit did not
run off; otherwise churn is ranked by recency, and the report says so.

Churn-risk bands are measured, not assumed: the share of customers with no order in the holdout, as a
non-decreasing step function of each ranking (isotonic regression), reaches knowledge/lifecycle.yaml's levels
(half, 8 in 10) where medium and high begin. The same edges band the whole history. Their calibration is checked
on customers the steps did not see (each half of the customers predicted from the other).

Winback-date rules are scored for all customers and per lifecycle stage at the calibration end (the scorer's
rules), and each model's dates are compared with a fixed wait at the same timing and at the same precision.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression

from crm_winback.errors import DataError, InputError
from crm_winback.lifecycle import lifecycle_rules, repurchase_cycle, stage_sql, vip_share
from crm_winback.lifecycle import stage_names as lifecycle_stage_names
from crm_winback.models.backtest import (
    NAIVE,
    RECENCY,
    BacktestReport,
    BandCheck,
    ModelCheck,
    WinbackRuleCheck,
)
from crm_winback.predict.candidates import CANDIDATES, BgNbdFitted, Candidate, Fitted, History
from crm_winback.predict.fitting import DAYS_PER_UNIT, TimeUnit, group_rows
from crm_winback.predict.summary import RfmSummary, holdout_outcomes, purchase_days, summarize
from crm_winback.workdb import first_row, has_table, median_of_counts

FloatArray = NDArray[np.float64]

MIN_HOLDOUT_DAYS = 90
HOLDOUT_SHARE = 1 / 3  # of the history
CYCLES = 2  # the holdout spans at least this many repurchase cycles
MIN_AUC_GAIN = 0.005  # a model must beat recency alone by more than this to be used
# No ranking is used unless it beats a coin toss (AUC 0.5) clearly: below this the data cannot rank churn, and
# every customer gets the shop's measured no-order share instead of a band drawn from noise.
AUC_FLOOR = 0.55
TIE_AUC = 0.001  # AUCs this close are a tie, broken by calibration, then MAE
# A model's own P(no order) banded at these levels gives its raw calibration gap; the bands used are measured
# (band_levels(): knowledge/lifecycle.yaml churn_risk.measured_bands, 0.5 and 0.8 as shipped).
P_BANDS = (0.5, 0.8)
FIXED_WINBACK_DAYS = 90
# A churn-risk band is measured on at least this many customers (and this share of them), or it is left empty.
MIN_BAND_CUSTOMERS = 30
MIN_BAND_SHARE = 0.01
# Fewer customers than this before the split, or fewer than MIN_OUTCOME who did / did not order in the holdout,
# and an AUC says nothing: the backtest reports too little history instead.
MIN_CUSTOMERS = 100
MIN_OUTCOME = 10
BACKTEST_TABLE = "backtest_summary"
# A shop with more customers than this before the split runs its backtest on a seeded random sample of that many
# of them: the candidates are fitted and every ranking, band and winback rule scored on the same customers. A
# fit's cost grows with the distinct (x, t_x, T) rows and the scoring with the customers, and this many pin the
# parameters and the AUCs (to about 0.002) far more tightly than the differences the choice rests on. The
# report's notes say so. Its whole-history fits (BG/NBD, Gamma-Gamma, the chosen ranking's refit, the
# forecaster) use a sample of the same size. Measured on the 10M-line bench file: see README, Speed.
SAMPLE = 200_000
SAMPLE_SEED = 20261130
SAMPLE_TABLE = "backtest_customers"

RULE = (
    "calibration ends where the last third of the history begins, holding out at least 90 days and two "
    "repurchase cycles, with at least as long before it"
)


@dataclass(frozen=True)
class Split:
    calibration_end: dt.date
    holdout_days: int


def repurchase_cycle_days(con: duckdb.DuckDBPyConnection, end: dt.date) -> float | None:
    """The median gap in days between a customer's consecutive purchase days, up to ``end``."""
    row = first_row(
        con.execute(
            f"""SELECT median(gap_days) FROM {purchase_days(con)}
                WHERE order_date <= $end AND customer_id IS NOT NULL AND gap_days IS NOT NULL""",
            {"end": end},
        )
    )
    return None if row is None or row[0] is None else float(row[0])


def choose_split(
    start: dt.date, end: dt.date, cycle: float | None, calibration_end: dt.date | None = None
) -> Split | str:
    """The calibration end by :data:`RULE` (or the user's), or a sentence saying what history is missing."""
    span = (end - start).days
    if calibration_end is not None:
        if not start < calibration_end < end:
            raise InputError(
                f"--calibration-end {calibration_end}: pick a date after the first order ({start}) and before "
                f"the last ({end})"
            )
        return Split(calibration_end, (end - calibration_end).days)
    need = max(MIN_HOLDOUT_DAYS, math.ceil(CYCLES * cycle) if cycle else 0)
    holdout = max(need, math.ceil(span * HOLDOUT_SHARE))
    if span < 2 * need or span - holdout < need:
        cycle_words = f"two repurchase cycles of {cycle:.0f} days" if cycle else "two repurchase cycles"
        return (
            f"too little history for a backtest: the orders span {span} days ({start} to {end}); it needs "
            f"{2 * need} days - {need} held out ({MIN_HOLDOUT_DAYS} days at least and {cycle_words}) and as "
            "long before them"
        )
    return Split(end - dt.timedelta(days=holdout), holdout)


def find_split(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, calibration_end: dt.date | None = None
) -> tuple[dt.date, float | None, Split | str]:
    """The first order date, the repurchase cycle and the split of the ``orders`` up to ``as_of``."""
    first = first_row(
        con.execute(f"SELECT min(order_date) FROM {purchase_days(con)} WHERE customer_id IS NOT NULL")
    )
    start = first[0] if first and first[0] is not None else as_of
    cycle = repurchase_cycle_days(con, as_of)
    return start, cycle, choose_split(start, as_of, cycle, calibration_end)


@dataclass(frozen=True)
class Ranking:
    """A score as its sorted distinct values and each customer's index among them.

    Every rank statistic the backtest takes (the AUC, the isotonic steps, the bands) is a count per distinct
    value, so a score over millions of customers is sorted once - and a model's score, which depends on the
    distinct (x, t_x, T) row alone, is sorted over those rows (:meth:`gathered`), not over the customers.
    """

    values: FloatArray  # ascending
    code: NDArray[np.intp]  # per customer

    @classmethod
    def of(cls, score: FloatArray | Ranking) -> Ranking:
        if isinstance(score, Ranking):
            return score
        values, code = np.unique(np.asarray(score, dtype=np.float64), return_inverse=True)
        return cls(values, code.ravel())

    @classmethod
    def gathered(cls, row_score: FloatArray, row_of: NDArray[np.intp]) -> Ranking:
        """The ranking of ``row_score[row_of]``, sorting only the rows' scores."""
        rows = cls.of(row_score)
        return cls(rows.values, rows.code[row_of])

    @property
    def score(self) -> FloatArray:
        return np.asarray(self.values[self.code], dtype=np.float64)

    def counts(self, weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """Customers (or summed ``weights``) at each distinct value."""
        return np.bincount(self.code, weights=weights, minlength=len(self.values)).astype(np.float64)


def auc(score: FloatArray | Ranking, positive: NDArray[np.bool_]) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half); None without both classes.

    The positives' rank sum is taken per distinct value at its average rank (ties share it), as
    ``scipy.stats.rankdata`` ranks: each term and every partial sum is a whole or half number far below 2^53,
    so the sum is exact and the AUC the same bits.
    """
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranked = Ranking.of(score)
    counts = ranked.counts()
    average_rank = np.cumsum(counts) - (counts - 1.0) / 2.0
    rank_sum = float(np.sum(ranked.counts(positive.astype(np.float64)) * average_rank))
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def probability_bands(p: FloatArray) -> NDArray[np.int8]:
    """0 low, 1 medium, 2 high, by :data:`P_BANDS` (a model's raw probability)."""
    return np.asarray(np.searchsorted(np.asarray(P_BANDS), p, side="right"), dtype=np.int8)


LEVELS = ("low", "medium", "high")


def band_levels() -> tuple[float, float]:
    """The measured no-order shares where medium and high churn risk begin (knowledge/lifecycle.yaml)."""
    bands = lifecycle_rules().churn_risk.measured_bands
    return bands.medium_from, bands.high_from


@dataclass(frozen=True)
class Steps:
    """The no-order share as a non-decreasing step function of a ranking (isotonic regression)."""

    values: FloatArray  # the distinct values of the ranking, ascending
    share: FloatArray  # the fitted share at each
    counts: NDArray[np.int64]  # customers at each

    def __call__(self, score: FloatArray) -> FloatArray:
        at = np.searchsorted(self.values, score, side="right") - 1
        return np.asarray(self.share[np.clip(at, 0, len(self.values) - 1)], dtype=np.float64)

    def edges(self, levels: Sequence[float], min_customers: int) -> list[float | None]:
        """The first value of the ranking whose share reaches each level, with at least ``min_customers`` at or
        above it; None when there is none (a step of two customers at the top says nothing)."""
        from_here = np.cumsum(self.counts[::-1])[::-1]
        out: list[float | None] = []
        for level in levels:
            at = int(np.searchsorted(self.share, level - 1e-12, side="left"))
            ok = at < len(self.values) and from_here[at] >= min_customers
            out.append(float(self.values[at]) if ok else None)
        return out


def fit_steps(
    score: FloatArray | Ranking, silent: NDArray[np.bool_], members: NDArray[np.bool_] | None = None
) -> Steps:
    """Isotonic regression of 'no order in the holdout' on ``score`` (of the ``members`` only, when given), over
    the distinct values the customers have."""
    ranked = Ranking.of(score)
    code = ranked.code if members is None else ranked.code[members]
    outcome = (silent if members is None else silent[members]).astype(np.float64)
    counts = np.bincount(code, minlength=len(ranked.values))
    present = counts > 0
    counts = counts[present]
    means = np.bincount(code, weights=outcome, minlength=len(ranked.values))[present] / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    return Steps(
        np.asarray(ranked.values[present], dtype=np.float64), np.asarray(fitted, dtype=np.float64), counts
    )


def min_band(customers: int) -> int:
    """The fewest customers a band's measured share may rest on."""
    return max(MIN_BAND_CUSTOMERS, math.ceil(MIN_BAND_SHARE * customers))


def bands_at(score: FloatArray, edges: Sequence[float | None]) -> NDArray[np.int8]:
    """0 low, 1 medium, 2 high: a customer is in a band from its edge on (an edge of None: nobody)."""
    band = np.zeros(len(score), dtype=np.int8)
    for edge in edges:
        if edge is not None:
            band += (score >= edge).astype(np.int8)
    return band


def held_out_share(score: FloatArray | Ranking, silent: NDArray[np.bool_]) -> FloatArray:
    """Each customer's no-order share as predicted by the other half of the customers (alternate rows of
    the customer-id order), so the bands' calibration is checked on customers the steps did not see."""
    ranked = Ranking.of(score)
    half = np.arange(len(ranked.code)) % 2 == 0
    out = np.empty(len(ranked.code))
    for part in (half, ~half):
        # the steps read at every distinct value once, then gathered
        out[part] = fit_steps(ranked, silent, ~part)(ranked.values)[ranked.code[part]]
    return out


def measured_bands(
    score: FloatArray | Ranking, silent: NDArray[np.bool_], words: Callable[[list[float | None]], list[str]]
) -> tuple[list[float | None], list[BandCheck], float | None]:
    """Edges where the ranking's measured no-order share reaches the band levels, the bands, and their
    largest held-out gap between predicted and observed share."""
    ranked = Ranking.of(score)
    edges = fit_steps(ranked, silent).edges(band_levels(), min_band(len(ranked.code)))
    band = bands_at(ranked.values, edges)[ranked.code]
    predicted = held_out_share(ranked, silent)
    out = []
    for i, (level, rule) in enumerate(zip(LEVELS, words(edges), strict=True)):
        members = band == i
        n = int(members.sum())
        out.append(
            BandCheck(
                band=level,  # type: ignore[arg-type]
                rule=rule,
                customers=n,
                predicted_no_order=round(float(predicted[members].mean()), 4) if n else None,
                observed_no_order=round(float(silent[members].mean()), 4) if n else None,
            )
        )
    return edges, out, _gap(out)


def _gap(bands: Sequence[BandCheck]) -> float | None:
    gaps = [
        abs(b.predicted_no_order - b.observed_no_order)
        for b in bands
        if b.predicted_no_order is not None and b.observed_no_order is not None
    ]
    return round(max(gaps), 4) if gaps else None


def _raw_gap(p: FloatArray, silent: NDArray[np.bool_]) -> float | None:
    band = probability_bands(p)
    gaps = [
        abs(float(p[band == i].mean()) - float(silent[band == i].mean()))
        for i in range(3)
        if (band == i).any()
    ]
    return round(max(gaps), 4) if gaps else None


def _none_words(level: float) -> str:
    return f"nobody: no large enough group reached {round(10 * level)} in 10 without an order"


def recency_words(edges: list[float | None]) -> list[str]:
    """The bands of days since the last order, in words."""
    a, b = (None if e is None else round(e) for e in edges)
    medium, high = band_levels()
    lo = (
        "every customer"
        if a is None and b is None
        else f"last order under {a if a is not None else b} days ago"
    )
    mid = (
        _none_words(medium)
        if a is None
        else f"last order {a} to {b - 1} days ago"
        if b is not None
        else (f"last order {a} days ago or more")
    )
    return [lo, mid, _none_words(high) if b is None else f"last order {b} days ago or more"]


def probability_words(what: str) -> Callable[[list[float | None]], list[str]]:
    """The bands of a probability of no order, in words."""

    def words(edges: list[float | None]) -> list[str]:
        a, b = edges
        medium, high = band_levels()
        top = a if a is not None else b
        lo = "every customer" if top is None else f"{what} under {top:.3f}"
        mid = (
            _none_words(medium)
            if a is None
            else f"{what} {a:.3f} to under {b:.3f}"
            if b is not None
            else (f"{what} {a:.3f} or more")
        )
        return [lo, mid, _none_words(high) if b is None else f"{what} {b:.3f} or more"]

    return words


def _scored(
    name: str,
    kind: str,
    p: FloatArray,
    expected: FloatArray | None,
    actual: FloatArray,
    holdout_days: int,
    ranking: Ranking | None = None,
) -> ModelCheck:
    """``ranking``: ``p`` as a :class:`Ranking`, when the caller has it cheaper than sorting ``p``."""
    silent = actual == 0
    words = probability_words(f"P(no order within {holdout_days} days)")
    ranked = ranking or Ranking.of(p)
    edges, bands, gap = measured_bands(ranked, silent, words)
    check = ModelCheck(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        status="scored",
        auc=_round(auc(ranked, silent)),
        calibration_gap=gap,
        raw_calibration_gap=_raw_gap(p, silent),
        band_edges=edges,
        bands=bands,
    )
    if expected is not None:
        total = float(actual.sum())
        err = np.abs(expected - actual)
        check = check.model_copy(
            update={
                "predicted_orders": round(float(expected.sum()), 2),
                "orders_error_pct": round(100 * (float(expected.sum()) - total) / total, 2)
                if total
                else None,
                "mae": round(float(err.mean()), 4),
                "relative_error": round(float(err.sum()) / total, 4) if total else None,
            }
        )
    return check


def _check_candidate(
    candidate: Candidate,
    fit_on: History,
    rows: History,
    row_of: NDArray[np.intp],
    length: float,
    actual: FloatArray,
    holdout_days: int,
) -> tuple[ModelCheck, Fitted | None]:
    """Fit ``candidate`` on the calibration customers ``fit_on`` and score it on the holdout; the fit when it
    can be used."""
    try:
        fitted = candidate.fit(fit_on)
    except DataError as exc:
        return ModelCheck(name=candidate.name, kind="model", status="failed", reason=str(exc)), None
    if fitted.runaway:
        return ModelCheck(name=candidate.name, kind="model", status="runaway", reason=fitted.runaway), None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p_rows = fitted.p_no_order(length, rows)
        expected_rows = fitted.expected_orders(length, rows)
    if not (np.isfinite(p_rows).all() and np.isfinite(expected_rows).all()):
        reason = "its predictions are not finite numbers on this data"
        return ModelCheck(name=candidate.name, kind="model", status="failed", reason=reason), None
    ranking = Ranking.gathered(p_rows, row_of)
    scored = _scored(
        candidate.name, "model", ranking.score, expected_rows[row_of], actual, holdout_days, ranking
    )
    return scored, fitted


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Backtest:
    """The report, and what the service needs to rank the whole history the same way."""

    report: BacktestReport
    candidate: Candidate | None  # the chosen model, None when recency alone ranks
    edges: list[float | None] | None  # where medium and high begin on the chosen ranking
    forecaster: Candidate | None = None  # the model whose per-customer forecasts are shown
    fits: dict[str, Fitted] = field(default_factory=dict)  # each usable model, fitted on the calibration part
    # with run_backtest(keep=True): the calibration summary's arrays (its table is dropped) and each of its
    # customers' purchase days in the holdout, for a caller that draws the holdout (predict.tracking)
    calibration: RfmSummary | None = None
    holdout: FloatArray | None = None


def history_of(summary: RfmSummary) -> History:
    litt = getattr(summary, "litt", None)
    return History(x=summary.x, t_x=summary.t_x, T=summary.T, time_unit=summary.time_unit, litt=litt)


def _report_base(
    start: dt.date, as_of: dt.date, cycle: float | None, calibration_end: dt.date | None
) -> dict[str, str | float | None]:
    """What every backtest report states: the split's rule and the history it was chosen from."""
    return {
        "rule": "set by the user (--calibration-end)" if calibration_end else RULE,
        "history_start": start.isoformat(),
        "history_end": as_of.isoformat(),
        "repurchase_cycle_days": cycle,
    }


def _too_little(reason: str, base: Mapping[str, str | float | None]) -> Backtest:
    return Backtest(BacktestReport(status="too little history", reason=reason, **base), None, None)  # type: ignore[arg-type]


def run_backtest(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    *,
    time_unit: TimeUnit = "weeks",
    threshold: float = 0.5,
    candidates: Sequence[Candidate] = CANDIDATES,
    keep: bool = False,
) -> Backtest:
    """Split the ``orders`` up to ``as_of``, fit every candidate on the calibration part, score the holdout.

    ``keep``: keep the calibration summary's arrays and the holdout purchase days in the result
    (``Backtest.calibration``, ``Backtest.holdout``); a huge shop's are its sample's, whose customer ids then
    stay in SAMPLE_TABLE (the tracking plot draws the customers the backtest scored)."""
    start, cycle, split = find_split(con, as_of, calibration_end)
    base = _report_base(start, as_of, cycle, calibration_end)
    if isinstance(split, str):
        return _too_little(split, base)
    # a huge shop's backtest reads its sample's purchase days only
    sampled_from = _sample_customers(con, split.calibration_end)
    customers = None if sampled_from is None else SAMPLE_TABLE
    try:
        summary = summarize(con, split.calibration_end, time_unit, table=BACKTEST_TABLE, customers=customers)
    finally:
        if not keep:
            con.execute(f"DROP TABLE IF EXISTS {SAMPLE_TABLE}")
    actual, _, first_back = holdout_outcomes(con, summary, as_of)
    backtest = _backtest_on(
        con, summary, actual, first_back, split, base, cycle, threshold, candidates, sampled_from
    )
    if not keep:
        return backtest
    return replace(backtest, calibration=summary, holdout=actual)


def _backtest_on(
    con: duckdb.DuckDBPyConnection,
    summary: RfmSummary,
    actual: FloatArray,
    first_back: FloatArray,
    split: Split,
    base: dict[str, str | float | None],
    cycle: float | None,
    threshold: float,
    candidates: Sequence[Candidate],
    sampled_from: int | None = None,
) -> Backtest:
    """The backtest on the calibration summary (its table in ``con``) and the holdout's outcome per customer:
    purchase days, and days to the first of them (inf for none). ``sampled_from``: the summary is the seeded
    sample of a shop with that many customers (:func:`sample_positions`), which the notes state."""
    scale = DAYS_PER_UNIT[summary.time_unit]
    silent = actual == 0
    returned = summary.customers - int(silent.sum())
    if summary.customers < MIN_CUSTOMERS or min(returned, int(silent.sum())) < MIN_OUTCOME:
        reason = (
            f"too few customers for a backtest: {summary.customers:,} had ordered by {split.calibration_end}, "
            f"{returned:,} of them ordered again in the {split.holdout_days} days after; it needs at least "
            f"{MIN_CUSTOMERS} customers and {MIN_OUTCOME} who did and {MIN_OUTCOME} who did not order again"
        )
        report = BacktestReport(status="too little history", reason=reason, **base)  # type: ignore[arg-type]
        return Backtest(report, None, None)
    h = history_of(summary)
    length = split.holdout_days / scale
    # every ranking depends on the customer's (x, t_x, T) alone: computed and sorted per distinct row
    rows, row_of = summary_rows(summary)
    recency_days = Ranking.gathered(np.round((rows.T - rows.t_x) * scale), row_of)
    edges, bands, gap = measured_bands(recency_days, silent, recency_words)
    checks = [
        ModelCheck(
            name=RECENCY,
            kind="baseline",
            status="scored",
            auc=_round(auc(recency_days, silent)),
            calibration_gap=gap,
            band_edges=edges,
            bands=bands,
        )
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rows.T > 0, rows.x / rows.T, 0.0)
    naive = Ranking.gathered(np.exp(-rate * length), row_of)
    checks.append(
        _scored(NAIVE, "baseline", naive.score, (rate * length)[row_of], actual, split.holdout_days, naive)
    )
    notes = [] if sampled_from is None else [_sample_note(sampled_from, split.calibration_end)]

    def check(candidate: Candidate) -> tuple[ModelCheck, Fitted | None]:
        # fitted on every customer of the summary: a huge shop's is already its sample (sample_positions)
        return _check_candidate(candidate, h, rows, row_of, length, actual, split.holdout_days)

    # the candidates' fits are independent, and their arithmetic runs in numpy outside the interpreter lock:
    # fitted side by side on the machine's cores, each on the same numbers as alone, reported in their order
    with ThreadPoolExecutor(max_workers=max(1, min(len(candidates), os.cpu_count() or 1))) as pool:
        results = list(pool.map(check, candidates))
    checks += [model_check for model_check, _ in results]
    fits = {fitted.name: fitted for _, fitted in results if fitted is not None}
    chosen, reason = _choose(checks)
    forecaster, forecaster_reason = _choose_forecaster(checks)
    shown = forecaster or "BG/NBD"
    winback, verdict = _winback_checks(
        summary, con, split, first_back, list(fits.values()), threshold, cycle, shown
    )
    report = BacktestReport(
        status="done",
        calibration_end=split.calibration_end.isoformat(),
        holdout_days=split.holdout_days,
        customers=summary.customers,
        sampled_from=sampled_from,
        no_order_share=round(float(silent.mean()), 4),
        actual_orders=int(actual.sum()),
        checks=checks,
        chosen=chosen,
        reason=reason,
        can_rank=not reason.startswith(CANNOT_RANK),
        forecaster=forecaster,
        forecaster_reason=forecaster_reason,
        winback=winback,
        winback_verdict=verdict,
        notes=notes,
        **base,  # type: ignore[arg-type]
    )
    con.execute(f"DROP TABLE IF EXISTS {BACKTEST_TABLE}")  # read by nothing after this: free its memory
    pick = next((c for c in candidates if c.name == chosen), None)
    picked = report.check(chosen)
    forecasts = next((c for c in candidates if c.name == forecaster), None)
    return Backtest(report, pick, None if picked is None else picked.band_edges, forecasts, fits)


CYCLE_TABLE = "backtest_cycle"  # the shop cycle at the calibration end, when the backtest runs on arrays


def run_backtest_on_arrays(
    part: Mapping[str, NDArray[Any]],
    gaps_at_end: Mapping[str, NDArray[Any]] | None,
    start: dt.date,
    as_of: dt.date,
    cycle: float | None,
    calibration_end: dt.date | None = None,
    *,
    time_unit: TimeUnit = "weeks",
    threshold: float = 0.5,
    candidates: Sequence[Candidate] = CANDIDATES,
) -> Backtest:
    """:func:`run_backtest` without the orders: ``part`` holds the backtest part of the summary contract
    (crm_winback.engines.contract.BACKTEST_COLUMNS, in customer-id order) and ``gaps_at_end`` the gap histogram
    (gap_days, n) at its calibration end, or None to read the shop cycle then from the part's ``cycle_days``
    (the median that histogram gives); ``start``, ``as_of`` and ``cycle`` are the first order date, the as-of
    date and the shop cycle of the whole history (the summary and its gap histogram), which choose the split."""
    split = choose_split(start, as_of, cycle, calibration_end)
    base = _report_base(start, as_of, cycle, calibration_end)
    if isinstance(split, str):
        return _too_little(split, base)
    cols = {name: np.ma.getdata(np.ma.asarray(a)) for name, a in part.items()}
    nulls = {name: np.ma.getmaskarray(np.ma.asarray(a)) for name, a in part.items()}
    # a huge shop's backtest runs on the seeded sample the orders give (the part is in customer-id order too)
    sampled_from = len(next(iter(cols.values()))) if cols else 0
    pick = sample_positions(sampled_from)
    if pick is not None:
        cols = {name: a[pick] for name, a in cols.items()}
        nulls = {name: a[pick] for name, a in nulls.items()}
    end = split.calibration_end
    built = {
        first + dt.timedelta(days=int(t))
        for first, t in zip(
            cols["first_order_date"][:1].astype("datetime64[D]").tolist(), cols["T"][:1], strict=True
        )
    }
    if built != {end}:
        found = ", ".join(sorted(str(d) for d in built)) or "no customers"
        raise InputError(
            f"the backtest part was built at calibration end {found}, but the backtest splits at {end}; build "
            f"it again at {end} (crm_winback.engines.summary.backtest_summary)"
        )
    scale = DAYS_PER_UNIT[time_unit]
    x = cols["x"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        zbar = np.where(nulls["repeat_value"] | (x == 0), np.nan, cols["repeat_value"].astype(np.float64) / x)
    con = duckdb.connect()
    try:
        table = {
            "row": np.arange(len(x)),
            "customer_id": cols["customer_id"].astype(str),
            "orders": cols["orders"].astype(np.int64),
            "net_total": np.where(nulls["net_total"], np.nan, cols["net_total"].astype(np.float64)),
            "last_order_date": cols["last_order_date"],
        }
        con.register("part_in", table)
        con.execute(
            f"""CREATE TEMP TABLE {BACKTEST_TABLE} AS SELECT row, customer_id, orders,
                       CASE WHEN isnan(net_total) THEN NULL ELSE net_total END AS net_total,
                       CAST(last_order_date AS DATE) AS last_order_date FROM part_in"""
        )
        at_end: float | None = None
        if gaps_at_end is not None:
            con.register("gaps_in", {k: np.asarray(v, dtype=np.int64) for k, v in gaps_at_end.items()})
            median = first_row(con.execute(median_of_counts("gaps_in", "gap_days", "n")))
            at_end = None if median is None or median[0] is None else float(median[0])
        elif len(cols["cycle_days"]) and not nulls["cycle_days"][0]:
            at_end = float(cols["cycle_days"][0])
        con.execute(f"CREATE TEMP TABLE {CYCLE_TABLE} AS SELECT $c::DOUBLE AS cycle_days", {"c": at_end})
        summary = RfmSummary(
            x=x,
            t_x=cols["t_x"].astype(np.float64) / scale,
            T=cols["T"].astype(np.float64) / scale,
            zbar=zbar,
            end=end,
            time_unit=time_unit,
            table=BACKTEST_TABLE,
            litt=cols["litt"].astype(np.float64) - x * np.log(scale),
        )
        actual = cols["holdout_purchase_days"].astype(np.float64)
        first_back = np.where(
            nulls["first_holdout_day"], np.inf, cols["first_holdout_day"].astype(np.float64)
        )
        return _backtest_on(
            con,
            summary,
            actual,
            first_back,
            split,
            base,
            cycle,
            threshold,
            candidates,
            None if pick is None else sampled_from,
        )
    finally:
        con.close()


def _cycle_at(con: duckdb.DuckDBPyConnection, end: dt.date) -> float | None:
    """The shop's median gap between purchase days up to ``end``: from the purchase days, or from the gap
    histogram at ``end`` when the backtest runs on arrays (:func:`run_backtest_on_arrays`)."""
    if not has_table(con, CYCLE_TABLE):
        return repurchase_cycle_days(con, end)
    row = first_row(con.execute(f"SELECT cycle_days FROM {CYCLE_TABLE}"))
    return None if row is None or row[0] is None else float(row[0])


def distinct_rows(h: History) -> tuple[History, NDArray[np.intp]]:
    """The distinct (x, t_x, T) rows of ``h`` and each customer's row among them.

    Every model's predictions depend on x, t_x and T alone, and a shop has far fewer distinct rows than
    customers: each prediction is computed once per row and gathered, with the same numbers.
    """
    grouped = group_rows([h.x, h.t_x, h.T], None)
    x, t_x, T = grouped.columns
    return History(x=x, t_x=t_x, T=T, time_unit=h.time_unit), grouped.inverse


def summary_rows(summary: RfmSummary) -> tuple[History, NDArray[np.intp]]:
    """:func:`distinct_rows` of the summary's customers, from the grouping the summary keeps
    (``RfmSummary.rows``)."""
    x, t_x, T = summary.rows.columns
    return History(x=x, t_x=t_x, T=T, time_unit=summary.time_unit), summary.rows.inverse


def sample_positions(n: int) -> NDArray[np.intp] | None:
    """The positions (sorted) of the SAMPLE customers a shop of ``n`` customers in customer-id order is sampled
    to, or None when it has no more than SAMPLE. They depend only on ``n`` and the seed, so the same file always
    gives the same sample, on the orders and on a per-customer summary alike."""
    if n <= SAMPLE:
        return None
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size=SAMPLE, replace=False))


def fit_sample(h: History) -> tuple[History, bool]:
    """The customers a model is fitted on: all of them, or the seeded sample of SAMPLE of a huge shop (True)."""
    pick = sample_positions(len(h.x))
    if pick is None:
        return h, False
    sample = History(
        x=h.x[pick],
        t_x=h.t_x[pick],
        T=h.T[pick],
        time_unit=h.time_unit,
        litt=None if h.litt is None else h.litt[pick],
    )
    return sample, True


def whole_history_note(n: int) -> str:
    """What the notes say when a huge shop's whole-history fits used the seeded sample (:func:`fit_sample`)."""
    return (
        f"the whole-history model fits used a random sample of {SAMPLE:,} of the {n:,} customers (seed "
        f"{SAMPLE_SEED}, the same every run); every customer is scored and predicted"
    )


def _sample_note(n: int, end: dt.date) -> str:
    return (
        f"the backtest fitted and scored every model and rule on a random sample of {SAMPLE:,} of the {n:,} "
        f"customers first seen by {end} (seed {SAMPLE_SEED}, the same every run)"
    )


def _sample_customers(con: duckdb.DuckDBPyConnection, end: dt.date) -> int | None:
    """Build SAMPLE_TABLE, the customer ids of the backtest's sample (:func:`sample_positions` among the
    customers first seen by ``end``, in customer-id order), and return how many customers it was drawn from;
    None (and no table) when the backtest scores them all."""
    first_days = f"""SELECT customer_id FROM {purchase_days(con)}
                     WHERE gap_days IS NULL AND order_date <= $end AND customer_id IS NOT NULL"""
    counted = first_row(con.execute(f"SELECT count(*) FROM ({first_days})", {"end": end}))
    n = int(counted[0]) if counted else 0
    pick = sample_positions(n)
    if pick is None:
        return None
    con.register("sample_positions", {"pos": pick.astype(np.int64)})
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {SAMPLE_TABLE} AS
                SELECT customer_id FROM (
                    SELECT customer_id, row_number() OVER () - 1 AS pos  -- in customer-id order (as summarize)
                    FROM ({first_days} ORDER BY customer_id))
                WHERE pos IN (SELECT pos FROM sample_positions)""",
            {"end": end},
        )
    finally:
        con.unregister("sample_positions")
    return n


CANNOT_RANK = "the data cannot rank churn"


def _choose(checks: list[ModelCheck]) -> tuple[str, str]:
    """The best scored model (or the naive rule) by AUC, ties broken by calibration then MAE, if it beats
    recency alone by more than MIN_AUC_GAIN; else recency alone. When nothing reaches AUC_FLOOR the reason
    begins with CANNOT_RANK (recency stays the nominal choice; churn_now bands nobody by it)."""
    recency = checks[0]
    assert recency.name == RECENCY
    rivals = [c for c in checks[1:] if c.status == "scored" and c.auc is not None]
    if recency.auc is None or not rivals:
        return RECENCY, "no model could be scored on this history, so customers are ranked by recency"
    best_auc = max(c.auc for c in rivals if c.auc is not None)
    tied = [c for c in rivals if c.auc is not None and c.auc >= best_auc - TIE_AUC]
    best = min(tied, key=lambda c: (c.calibration_gap or 1.0, c.mae or math.inf))
    assert best.auc is not None
    top = best if best.auc > recency.auc else recency
    assert top.auc is not None
    if top.auc < AUC_FLOOR:
        return RECENCY, (
            f"{CANNOT_RANK}: nothing told who would not return clearly better than a coin toss (best: "
            f"{top.name}, AUC {top.auc:.3f}; a ranking needs {AUC_FLOOR:.2f}), so every customer gets the "
            "shop's measured share with no order"
        )
    if best.auc > recency.auc + MIN_AUC_GAIN:
        return best.name, (
            f"it ranked who did not return better than recency alone (AUC {best.auc:.3f} vs {recency.auc:.3f})"
        )
    return RECENCY, (
        f"nothing ranked who did not return better than recency alone by more than {MIN_AUC_GAIN} "
        f"(best: {best.name}, AUC {best.auc:.3f} vs {recency.auc:.3f}), so customers are ranked by days since "
        "their last order"
    )


def _choose_forecaster(checks: list[ModelCheck]) -> tuple[str | None, str]:
    """The scored model with the smallest per-customer error (MAE of purchase days) on the holdout: its
    expected orders, P(active), CLV and winback dates are the per-customer numbers shown. Ties (within 0.0001)
    go to the earlier candidate; None when no model was scored."""
    models = [c for c in checks if c.kind == "model" and c.status == "scored" and c.mae is not None]
    if not models:
        return None, "no model could be scored on this history, so BG/NBD gives the per-customer forecasts"
    least = min(c.mae for c in models if c.mae is not None)
    best = next(c for c in models if c.mae is not None and c.mae <= least + 1e-4)
    others = ", ".join(f"{c.name} {c.mae:.4f}" for c in models if c is not best)
    naive = next((c for c in checks if c.name == NAIVE and c.mae is not None), None)
    against = f"; {NAIVE}: {naive.mae:.4f}" if naive is not None else ""
    return best.name, (
        f"it forecast each customer's orders in the holdout most closely (mean absolute error {best.mae:.4f} "
        f"purchase days{'; ' + others if others else ''}{against})"
    )


def quiet_gap(fitted: Fitted, h: History, threshold: float, cap: float) -> FloatArray:
    """Silence after the last order (time units) at which P(active) falls to ``threshold``; inf beyond ``cap``.

    BG/NBD has a closed form (with the shop-level time for one-time buyers, whom it never lets lapse); other
    models are searched by bisection (P(active) falls as the silence grows), to within cap / 2^14.
    """
    if isinstance(fitted, BgNbdFitted):
        from crm_winback.predict.bgnbd import winback

        gap = winback(fitted.fitted, h.x, h.t_x, h.T, threshold).gap
        return np.where(gap <= cap, gap, np.inf)

    # the search depends on (x, t_x) alone: run it once per distinct pair
    pairs = group_rows([h.x, h.t_x], None)
    x, t_x = pairs.columns

    def quiet(u: FloatArray) -> NDArray[np.bool_]:
        probe = History(x=x, t_x=t_x, T=t_x + u, time_unit=h.time_unit)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return np.asarray(fitted.p_active(probe) <= threshold)

    n = len(x)
    lo, hi = np.zeros(n), np.full(n, cap)
    never, at_once = ~quiet(hi), quiet(lo)
    for _ in range(14):
        mid = (lo + hi) / 2
        done = quiet(mid)
        hi = np.where(done, mid, hi)
        lo = np.where(done, lo, mid)
    return np.where(never, np.inf, np.where(at_once, 0.0, hi))[pairs.inverse]


def _winback_checks(
    summary: RfmSummary,
    con: duckdb.DuckDBPyConnection,
    split: Split,
    first_back: FloatArray,
    fits: list[Fitted],
    threshold: float,
    cycle: float | None,
    shown: str = "BG/NBD",
) -> tuple[list[WinbackRuleCheck], list[str]]:
    """Each date rule on the holdout: of the customers flagged inside it with no order before the flag, how many
    then stayed silent, and how long they had been silent when flagged - for all customers and per lifecycle
    stage at the calibration end; and per model, how it compares with a fixed wait at its timing and precision.

    ``first_back``: days from the calibration end to each customer's first holdout order, inf for none."""
    scale = DAYS_PER_UNIT[summary.time_unit]
    last = (summary.T - summary.t_x) * scale  # days since the last order at the calibration end

    def flagged(silence: FloatArray) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        flag = silence - last  # days after the calibration end
        inside = (flag > 0) & (flag <= split.holdout_days) & (first_back > flag)
        return inside, inside & ~np.isfinite(first_back)

    n = len(last)
    rules: list[tuple[str, FloatArray]] = [
        (f"a fixed {FIXED_WINBACK_DAYS} days", np.full(n, float(FIXED_WINBACK_DAYS)))
    ]
    if cycle:
        rules.append((f"twice the repurchase cycle ({2 * cycle:.0f} days)", np.full(n, 2 * cycle)))
    h = history_of(summary)
    models: list[tuple[str, str]] = []
    for fitted in fits:
        gap = quiet_gap(fitted, h, threshold, float(summary.T.max())) * scale
        rule = f"{fitted.name}: P(active) falls to {threshold:g}"
        rules.append((rule, np.ceil(gap)))
        models.append((fitted.name, rule))
    stage = stages_at(con, summary)
    groups = [("all customers", np.ones(n, bool))]
    groups += [(name, stage == name) for name in lifecycle_stage_names() if (stage == name).any()]
    # per stage only for the fixed rules and the model whose dates the documents show (``shown``, the
    # forecasting model): MCP results stay small
    per_stage = {rule for rule, _ in rules} - {rule for name, rule in models if name != shown}
    out = []
    for rule, silence in rules:
        inside, stayed = flagged(silence)
        for group, members in groups if rule in per_stage else groups[:1]:
            f = inside & members
            k = int(f.sum())
            if not k and group != "all customers":
                continue  # compact: a stage the rule never flagged is left out
            s = stayed & members
            out.append(
                WinbackRuleCheck(
                    rule=rule,
                    group=group,
                    flagged=k,
                    precision=round(float(s.sum()) / k, 4) if k else None,
                    median_days_silent_at_flag=float(np.median(silence[s])) if s.any() else None,
                )
            )

    # a fixed wait treats alike the customers with the same (days since the last order, first holdout order):
    # the verdicts try up to 64 waits per model, each counted over those distinct pairs
    # (grouped as integer codes: the silence depends on the customer's (x, t_x, T) row alone, so its distinct
    # values are those of the rows; the first holdout order is a whole number of days)
    rows, row_of = summary_rows(summary)
    silences, silence_code = np.unique((rows.T - rows.t_x) * scale, return_inverse=True)
    back = np.where(np.isfinite(first_back), first_back, -1.0).astype(np.int64)
    pairs = group_rows([silence_code.ravel()[row_of], back], None)
    pair_last = silences[pairs.columns[0]]
    pair_back = np.where(pairs.columns[1] < 0, np.inf, pairs.columns[1].astype(np.float64))

    def fixed(days: float) -> float | None:
        flag = days - pair_last
        inside = (flag > 0) & (flag <= split.holdout_days) & (pair_back > flag)
        k = float(pairs.weights[inside].sum())
        return float(pairs.weights[inside & ~np.isfinite(pair_back)].sum()) / k if k else None

    verdicts = []
    for name, rule in models:
        row = next(w for w in out if w.rule == rule and w.group == "all customers")
        if row.precision is not None and row.median_days_silent_at_flag is not None:
            verdicts.append(_verdict(name, row.precision, row.median_days_silent_at_flag, fixed))
    return out, verdicts


def _verdict(name: str, precision: float, days: float, fixed: Callable[[float], float | None]) -> str:
    """Is the model earlier than a fixed wait at equal precision, or more precise at equal timing? In words.

    Equal timing: a fixed wait of the model's median days of silence at the flag. Equal precision: the shortest
    fixed wait, on a grid of at most 64 steps up to twice that median, whose precision reaches the model's.
    """
    same_time = fixed(days)
    step = max(1, math.ceil(2 * days / 64))
    equal = next(
        (d for d in range(step, math.ceil(2 * days) + 1, step) if (fixed(float(d)) or 0.0) >= precision), None
    )
    earlier = equal is None or equal > days
    sharper = same_time is not None and precision > same_time
    found = [
        w
        for w, yes in (("earlier at equal precision", earlier), ("more precise at equal timing", sharper))
        if yes
    ]
    verdict = (
        " and ".join(found)
        if found
        else "neither earlier at equal precision nor more precise at equal timing"
    )
    at_time = "" if same_time is None else f"a fixed {days:.0f}-day wait {100 * same_time:.0f}%; "
    as_precise = (
        f"no fixed wait up to {2 * days:.0f} days is as precise"
        if equal is None
        else f"a fixed wait is as precise from {equal} days"
    )
    return (
        f"{name} dates: {100 * precision:.0f}% of those flagged stayed silent, flagged after a median {days:.0f} "
        f"days of silence; {at_time}{as_precise} - {verdict} than a fixed wait"
    )


def stages_at(con: duckdb.DuckDBPyConnection, summary: RfmSummary) -> NDArray[np.str_]:
    """Each summary customer's lifecycle stage at ``summary.end``, by the scorer's rules (crm_winback.lifecycle):
    the cycle measured on the orders up to then, VIP by net spend (orders without amounts). Reads the summary's
    own order counts and net totals (summed from the purchase days up to then), not ``orders``, which a large
    run has freed by then."""
    per = first_row(
        con.execute(f"SELECT count(*) FILTER (WHERE orders > 1), count(net_total) FROM {summary.table}")
    )
    repeat, priced = (int(per[0]), int(per[1])) if per else (0, 0)
    cycle, _ = repurchase_cycle(_cycle_at(con, summary.end), repeat)
    spend = "net_total" if priced else "CAST(orders AS DOUBLE)"
    col = con.execute(
        f"""WITH v AS (
                SELECT row, orders, net_total, date_diff('day', last_order_date, $end::DATE) AS recency_days,
                       {spend} AS spend_value
                FROM {summary.table}),
            cut AS (SELECT quantile_disc(spend_value, {1 - vip_share()!r}) AS vip FROM v)
            SELECT {stage_sql(cycle, "(SELECT vip FROM cut)")} AS stage FROM v ORDER BY row""",
        {"end": summary.end},
    ).fetchnumpy()["stage"]
    return np.asarray(col, dtype=str)


@dataclass(frozen=True)
class ChurnNow:
    """Churn risk on the whole history, ranked the way the backtest chose: per-customer arrays and notes."""

    p_no_order: FloatArray  # NaN where a rule (recency) ranks
    band: NDArray[np.int8]  # 0 low, 1 medium, 2 high; -1 when no backtest could be run
    fitted: Fitted | None  # the chosen model refitted on the whole history
    notes: list[str]


def churn_now(bt: Backtest, summary: RfmSummary) -> ChurnNow:
    """Refit the chosen model on the whole history and band every customer as on the backtest.

    The probability is of no order within the holdout length, and the bands' edges are the values of the ranking
    measured on the backtest, so each band's measured meaning carries over.
    """
    report, n = bt.report, summary.customers
    nan = np.full(n, np.nan)
    if report.status != "done" or report.holdout_days is None or bt.edges is None:
        return ChurnNow(nan, np.full(n, -1, dtype=np.int8), None, [report.reason])
    scale = DAYS_PER_UNIT[summary.time_unit]
    length = report.holdout_days / scale
    by_recency = report.check(RECENCY)
    recency_edges = by_recency.band_edges if by_recency is not None else [None, None]
    if not report.can_rank and report.no_order_share is not None:
        # no ranking beat a coin toss: every customer in the band of the shop's measured no-order share
        level = sum(report.no_order_share >= edge for edge in band_levels())
        return ChurnNow(nan, np.full(n, level, dtype=np.int8), None, [])
    recency = ChurnNow(nan, bands_at(np.round((summary.T - summary.t_x) * scale), recency_edges), None, [])
    if report.chosen == RECENCY:
        return recency
    if report.chosen == NAIVE:
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(summary.T > 0, summary.x / summary.T, 0.0)
        p = np.exp(-rate * length)
        return ChurnNow(p, bands_at(p, bt.edges), None, [])
    assert bt.candidate is not None
    fit_on, sampled = fit_sample(history_of(summary))
    notes = [whole_history_note(summary.customers)] if sampled else []
    fitted: Fitted | None = None
    try:
        fitted = bt.candidate.fit(fit_on)
        words = fitted.runaway
    except DataError as exc:
        words = f"{bt.candidate.name} could not be refitted on the whole history: {exc}"
    if fitted is None or words:
        note = f"{words}; churn risk is ranked by days since the last order instead"
        return ChurnNow(recency.p_no_order, recency.band, None, [*notes, note])
    rows, row_of = summary_rows(summary)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p = fitted.p_no_order(length, rows)[row_of]
    return ChurnNow(p, bands_at(p, bt.edges), fitted, notes)
