"""Per-customer predictions for a shop: P(alive), expected orders, spend, CLV and winback dates.

Works on an ingested ``orders`` table (crm_winback.ingest): backtests the candidate models (:func:`prepare`),
builds the whole-history model summary in SQL and fits the models on it (:func:`forecast`: every customer's
numbers, in customer-id order). :func:`predict` leaves them in a ``predictions`` table in the same DuckDB
connection (one row per customer, joinable on customer_id) for the predict command's file; ``score --predict``
adds them to the scores itself (crm_winback.scoring.predicted).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from numpy.typing import NDArray

from crm_winback import workdb
from crm_winback.errors import DataError
from crm_winback.files import copy_query
from crm_winback.ingest import Ingested
from crm_winback.models.predictions import GroupSummary, PredictionSummary, PredictOptions
from crm_winback.predict.backtest import (
    LEVELS,
    Backtest,
    ChurnNow,
    churn_now,
    fit_sample,
    history_of,
    quiet_gap,
    run_backtest,
    run_backtest_on_arrays,
    sample_positions,
    summary_rows,
    whole_history_note,
)
from crm_winback.predict.bgnbd import (
    BgNbdParams,
    expected_purchases_curve,
    fit_bgnbd,
    one_time_buyer_survival,
    probability_alive,
    winback,
)
from crm_winback.predict.candidates import BGNBD_LIMITS, CANDIDATES, Fitted, History, runaway_words
from crm_winback.predict.fitting import (
    DAYS_PER_UNIT,
    TimeUnit,
    check_time_unit,
    discounted_orders,
    group_rows,
)
from crm_winback.predict.gamma_gamma import (
    GammaGammaParams,
    conditional_expected_average_spend,
    fit_gamma_gamma,
)
from crm_winback.predict.summary import (
    DAYS_TABLE,
    SUMMARY_TABLE,
    RfmSummary,
    purchase_days,
    summarize,
    summary_of_table,
)
from crm_winback.workdb import first_row

PREDICTIONS_TABLE = "predictions"
# Scored from a per-customer summary (crm_winback.engines.summary_file), the models read the summary's columns
# and the backtest part from these tables instead of the purchase days.
CONTRACT_SUMMARY_TABLE = "contract_summary"
CONTRACT_BACKTEST_TABLE = "contract_backtest"

PREDICTION_COLUMNS = (
    "customer_id", "first_order_date", "last_order_date", "repeat_purchases", "p_alive", "expected_orders",
    "expected_spend_per_order", "clv", "winback_date", "days_until_winback", "winback_basis", "p_no_order",
    "churn_risk",
)  # fmt: skip

# decimal places of the rounded columns (as built in _build_table), written as fixed-point numbers in CSV
CSV_DECIMALS = {"p_alive": 4, "expected_orders": 4, "expected_spend_per_order": 2, "clv": 2, "p_no_order": 4}

DEFINITIONS = {
    "p_alive": "BG/NBD probability that the customer has not lapsed for good (Fader, Hardie & Lee 2005). "
    "One-time buyers (winback_basis 'shop level') get the share of the shop's new customers still without a "
    "second order after as long: BG/NBD itself gives them 1, since it only lets customers lapse after a "
    "repeat order",
    "expected_orders": "expected orders (purchase days) in the horizon after the as-of date",
    "expected_spend_per_order": "Gamma-Gamma expected value of a future order: the customer's own mean "
    "repeat order value shrunk towards the shop mean, more for customers with few orders",
    "clv": "margin x expected spend per order x expected orders, per period of period_days, each period "
    "discounted by (1 + discount_rate)^i, summed over the horizon",
    "winback_date": "the day on which P(alive) falls to the threshold if the customer orders nothing more. "
    "For one-time buyers (shop level) it is the day by which a share (1 - threshold) of the shop's new "
    "customers would have ordered again. A date before the as-of date means that point has passed",
    "days_until_winback": "days from the as-of date to the winback date, 0 once it has passed",
    "p_no_order": "the chosen model's probability of no order within the backtest's holdout length after the "
    "as-of date; empty when a rule (days since the last order) ranks churn because no model beat it",
    "churn_risk": "low, medium or high by the ranking the backtest chose; what each band meant on the shop's "
    "own past is in backtest.summary_lines",
}


@dataclass(frozen=True)
class Prepared:
    """The backtest, the whole-history summary and the churn ranking: what ``predict`` builds on, kept by a
    caller whose model fit then fails (scoring.predicted) so the backtest is never run twice."""

    backtest: Backtest
    summary: RfmSummary
    churn: ChurnNow
    history_days: int
    """Days from the first order to the as-of date: the longest a winback date may lie after the last order."""
    mean_value: float | None = None
    """The shop's mean purchase value (the spend fallback), read before the purchase days were freed."""


def prepare(
    ingested: Ingested, options: PredictOptions, *, free_days: bool = False, totals: bool = True
) -> Prepared:
    """Run the backtest, summarize the whole history and band churn risk the way the backtest chose.

    From a per-customer summary (quality layout "summary") the backtest runs on its backtest part and the whole
    history's summary is the summary's own columns, in the same ``predict_summary`` table the orders give.

    ``free_days``: nothing after this reads the purchase days (the caller does not draw them): drop their table
    here, before the models are fitted on the whole history (the purchase days are the largest table of a run).
    ``totals``: the whole history's summary table keeps each customer's orders and net total (the predict
    command writes them; ``score --predict`` has them from the scores).
    """
    unit = options.time_unit
    if ingested.quality.layout == "summary":
        q = ingested.quality
        assert q.first_order_date is not None  # a summary has customers (engines.summary_file)
        backtest = run_backtest_on_arrays(
            _contract_part(ingested.con),
            None,
            q.first_order_date,
            ingested.as_of,
            q.median_days_between_orders,
            options.calibration_end,
            time_unit=unit,
            threshold=options.threshold,
        )
        summary = contract_summary(ingested.con, ingested.as_of, unit)
    else:
        backtest = run_backtest(
            ingested.con,
            ingested.as_of,
            options.calibration_end,
            time_unit=unit,
            threshold=options.threshold,
            keep=not free_days,  # the caller draws the holdout (predict.tracking): its summary is kept
        )
        workdb.release_freed_memory()  # the backtest's tables, before the whole history's summary
        summary = summarize(ingested.con, ingested.as_of, unit, totals=totals)
    mean_value = None
    if free_days and ingested.monetary:
        mean_value = _mean_purchase_value(ingested.con, summary, ingested.quality.layout == "summary")
    if free_days:
        ingested.con.execute(f"DROP TABLE IF EXISTS {DAYS_TABLE}")
    workdb.release_freed_memory()  # the purchase days and the summary's aggregation
    history_days = _history_days(ingested, summary)
    churn = churn_now(backtest, summary)
    return Prepared(backtest, summary, churn, history_days=history_days, mean_value=mean_value)


def _contract_part(con: duckdb.DuckDBPyConnection) -> dict[str, NDArray[np.generic]]:
    """The backtest part the summary reader kept, in customer-id order (empty when no backtest can be run)."""
    if not workdb.has_table(con, CONTRACT_BACKTEST_TABLE):
        return {}
    part = con.execute(f"SELECT * FROM {CONTRACT_BACKTEST_TABLE} ORDER BY customer_id").fetchnumpy()
    con.execute(f"DROP TABLE {CONTRACT_BACKTEST_TABLE}")  # read once
    return dict(part)


def contract_summary(
    con: duckdb.DuckDBPyConnection, end: dt.date, time_unit: TimeUnit, table: str = SUMMARY_TABLE
) -> RfmSummary:
    """:func:`~crm_winback.predict.summary.summarize` from a per-customer summary (contract v1) instead of the
    purchase days: the same ``table`` (row, customer_id, first/last order date, x, t_x_days, T_days, zbar,
    litt_days, orders, net_total) from the summary reader's ``contract_summary`` table.

    zbar is the repeat value over x, divided as DuckDB's avg() of the purchase days' DECIMAL values divides
    (the scaled integer sum over the count times 10^4), so that it is the same double the orders give.
    """
    unit = check_time_unit(time_unit)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT row_number() OVER () - 1 AS row, * FROM (  -- numbered in customer-id order (as summarize)
            SELECT customer_id,
                   first_order_date, last_order_date, x, t_x AS t_x_days, "T" AS T_days,
                   coalesce(CASE WHEN x > 0 THEN {ZBAR} END, 'NaN'::DOUBLE) AS zbar,
                   coalesce(litt, 0.0) AS litt_days, orders, net_total
            FROM {CONTRACT_SUMMARY_TABLE} m ORDER BY customer_id)"""
    )
    con.execute(f"DROP TABLE {CONTRACT_SUMMARY_TABLE}")  # read once
    return summary_of_table(con, table, end, unit)


# the scaled integer sum over x times 10^4, one division: as DuckDB's avg() of DECIMAL(18, 4) values divides, so
# zbar is the double the purchase days give (on CDNOW all 23,570 the same bits; CAST(repeat_value AS DOUBLE) / x
# differs in the last bit for 999)
ZBAR = "CAST(CAST(repeat_value * 10000 AS BIGINT) AS DOUBLE) / (x * 10000.0)"


@dataclass(frozen=True)
class Forecast:
    """The whole-history fits and every customer's numbers, in the summary's row (customer-id) order: what
    :func:`predict` writes to the ``predictions`` table and ``score --predict`` adds to the scores."""

    summary: RfmSummary
    churn: ChurnNow
    backtest: Backtest
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    forecaster: Fitted | None
    p_alive: NDArray[np.float64]
    expected: NDArray[np.float64]
    spend: NDArray[np.float64]
    clv: NDArray[np.float64]
    gap_days: NDArray[np.float64]
    """Days from the last order to the winback date; NaN beyond the history the data can speak for."""
    shop_level: NDArray[np.bool_]
    notes: list[str]

    @property
    def model(self) -> str:
        return "BG/NBD" if self.forecaster is None else self.forecaster.name

    @property
    def parameters(self) -> dict[str, float] | None:
        """The forecast model's parameters (rounded for the record) when it is not BG/NBD."""
        return None if self.forecaster is None else _rounded(self.forecaster.params)


def predict(
    ingested: Ingested,
    options: PredictOptions | None = None,
    prepared: Prepared | None = None,
    *,
    free_days: bool = True,
) -> PredictionSummary:
    """Fit the models on everything up to the as-of date and build the ``predictions`` table.

    ``free_days``: drop the purchase-days table as soon as nothing reads it (:func:`prepare`; the run's peak
    memory); a caller that reads them afterwards (the report's tracking plot) passes False.
    """
    options = options or PredictOptions()
    con = ingested.con
    found = forecast(ingested, options, prepared, free_days=free_days)
    summary = found.summary
    _build_table(con, found, ingested)
    if free_days:  # the predictions table holds all of it the caller reads: free its memory too
        con.execute(f"DROP TABLE IF EXISTS {summary.table}")
    repeat = summary.x > 0
    one_time = ~repeat & found.shop_level
    shop_gap = float(found.gap_days[one_time][0]) if one_time.any() else None
    if shop_gap is None or math.isnan(shop_gap):
        shop_gap = None
    return PredictionSummary(
        as_of=ingested.as_of.isoformat(),
        options=options,
        bgnbd=found.bgnbd,
        gamma_gamma=found.gamma_gamma,
        forecast_model=found.model,
        forecast_parameters=found.parameters,
        customers=summary.customers,
        one_time_buyers=int((~repeat).sum()),
        shop_level_winback_days=shop_gap,
        overall=_group_summaries(con, None)[0],
        by_segment=_group_summaries(con, _segment_column(con)),
        definitions=definitions(found.model),
        notes=found.notes,
        backtest=found.backtest.report,
    )


def forecast(
    ingested: Ingested,
    options: PredictOptions,
    prepared: Prepared | None = None,
    *,
    free_days: bool = True,
) -> Forecast:
    """Fit the models on everything up to the as-of date and compute every customer's numbers.

    The per-customer numbers come from the model the backtest chose for forecasts (``forecaster``); BG/NBD is
    always fitted too (its parameters are reported, and it gives the numbers when the forecaster cannot).
    """
    unit = options.time_unit
    scale = DAYS_PER_UNIT[unit]
    prepared = prepared or prepare(ingested, options, free_days=free_days)
    backtest, summary, churn = prepared.backtest, prepared.summary, prepared.churn
    notes: list[str] = list(backtest.report.notes) + list(churn.notes)
    # a huge shop's whole-history fits (BG/NBD, Gamma-Gamma, the forecaster) use the seeded sample fit_sample
    # draws: their parameters are pinned far more tightly than the numbers shown need, in a fraction of the time
    # and memory; every customer is still predicted
    pick = sample_positions(summary.customers)
    if pick is not None and whole_history_note(summary.customers) not in notes:
        notes.append(whole_history_note(summary.customers))
    horizon = options.horizon_days / scale
    # Gamma-Gamma's fit needs nothing BG/NBD gives: it runs on a second core meanwhile, and its notes are added
    # where they always stood (after BG/NBD's, before the winback dates'). The connection is the spend thread's
    # alone (its fallback reads it) until it is done.
    spend_notes: list[str] = []

    def spent() -> tuple[GammaGammaParams | None, NDArray[np.float64]]:
        found = spending.result()
        notes.extend(spend_notes)
        return found

    with ThreadPoolExecutor(max_workers=1) as pool:
        spending = pool.submit(_spend, ingested, summary, options, spend_notes, prepared.mean_value, pick)
        forecaster = _forecaster(backtest, churn, summary, horizon, notes, options.model)
        bgnbd: BgNbdParams | None = None
        # every BG/NBD number depends on (x, t_x, T) alone: fitted and computed once per distinct row, then
        # gathered
        rows, row_of = summary_rows(summary)
        try:
            fit_rows, fit_weights = (
                (rows, summary.rows.weights) if pick is None else _sampled_rows(summary, pick)
            )
            bgnbd = fit_bgnbd(
                fit_rows.x,
                fit_rows.t_x,
                fit_rows.T,
                time_unit=unit,
                weights=fit_weights,
                penalizer_coef=options.penalizer_coef,
            )
            _check_runaway(bgnbd)
        except DataError as exc:
            if forecaster is None:  # BG/NBD was to give the numbers: the caller's stated fallback
                asked = [n for n in notes if n.startswith("per-customer forecasts: ")]
                if asked:  # the model chosen or named failed first: say so too
                    why = (
                        asked[-1]
                        .removeprefix("per-customer forecasts: ")
                        .removesuffix("; BG/NBD gives them instead")
                    )
                    raise DataError(f"{exc}; {why}") from exc
                raise
            # another model gives them: BG/NBD's failure is stated, its parameters never shown
            bgnbd = None
            notes.append(f"{str(exc).removesuffix(': no P(alive), expected orders, CLV or winback dates are given')}"
                         f"; {forecaster.name} gives the per-customer numbers")  # fmt: skip
        if forecaster is None:
            assert bgnbd is not None
            p_rows = np.where(
                rows.x > 0,
                probability_alive(bgnbd, rows.x, rows.t_x, rows.T),
                one_time_buyer_survival(bgnbd, rows.T),
            )
            # the expected orders per distinct row at the horizon and at each CLV period's end: what does not
            # depend on the horizon (the grouping by (x, T), the denominators) is computed once for all of them
            curve = expected_purchases_curve(bgnbd, rows.x, rows.t_x, rows.T)
            # a degenerate fit overflows here; checked next
            with np.errstate(invalid="ignore", over="ignore"):
                expected_rows = curve(horizon)
            _check_finite(bgnbd, p_rows, expected_rows)
            p_alive, expected = p_rows[row_of], expected_rows[row_of]
            # the discounted expected orders per distinct row (as gamma_gamma.customer_lifetime_value, whose
            # grouping the rows already are), then valued per customer
            discounted = discounted_orders(
                curve,
                horizon=horizon,
                period=options.period_days / scale,
                discount_rate=options.discount_rate,
            )
            gamma_gamma, spend = spent()
            gap_days, shop_level = _winback_gaps(
                bgnbd, summary, options.threshold, prepared.history_days, notes, rows, row_of
            )
            clv = options.margin * np.nan_to_num(spend, nan=0.0) * discounted[row_of]
        else:
            gamma_gamma, spend = spent()
            p_alive, expected, clv, gap_days = _forecasts(
                forecaster, summary, spend, options, prepared.history_days, notes
            )
            shop_level = np.zeros(summary.customers, dtype=bool)
    clv = np.where(np.isnan(spend), np.nan, clv)
    return Forecast(
        summary=summary,
        churn=churn,
        backtest=backtest,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        forecaster=forecaster,
        p_alive=p_alive,
        expected=expected,
        spend=spend,
        clv=clv,
        gap_days=gap_days,
        shop_level=shop_level,
        notes=notes,
    )


def _rounded(params: Mapping[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.6g}") for k, v in params.items()}


def definitions(model: str) -> dict[str, str]:
    """The column definitions, for the model that gave the per-customer numbers."""
    if model == "BG/NBD":
        return DEFINITIONS
    return DEFINITIONS | {
        "p_alive": f"{model} probability that the customer has not lapsed for good, chosen by the backtest as "
        "the model whose per-customer forecasts erred least on the shop's own past",
        "expected_orders": f"{model} expected orders (purchase days) in the horizon after the as-of date",
        "clv": DEFINITIONS["clv"] + f"; expected orders from {model}",
        "winback_date": f"the day on which the {model} P(alive) falls to the threshold if the customer orders "
        "nothing more (every customer, one-time buyers too: winback_basis 'customer'). A date before the as-of "
        "date means that point has passed",
    }


def _forecaster(
    backtest: Backtest,
    churn: ChurnNow,
    summary: RfmSummary,
    horizon: float,
    notes: list[str],
    model: str = "backtest",
) -> Fitted | None:
    """The forecasting model (the backtest's, or ``model`` when named) refitted on the whole history, or None
    for BG/NBD (the forecaster, or the stated fallback when the forecaster cannot give the numbers)."""
    named = next((c for c in CANDIDATES if c.name == model), None)
    candidate = backtest.forecaster if named is None else named
    chose = "the backtest chose" if named is None else "you asked for"
    if candidate is None or candidate.name == "BG/NBD":
        return None
    fitted = churn.fitted if churn.fitted is not None and churn.fitted.name == candidate.name else None
    why = None
    if fitted is None:
        fit_on, _ = fit_sample(history_of(summary))  # predict's notes say when it is a sample
        try:
            fitted = candidate.fit(fit_on)
        except DataError as exc:
            why = f"it could not be refitted on the whole history: {exc}"
    if fitted is not None and fitted.runaway:
        why, fitted = fitted.runaway, None
    if fitted is not None:
        rows, _ = summary_rows(summary)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            finite = np.isfinite(fitted.p_active(rows)).all()
            finite = finite and np.isfinite(fitted.expected_orders(horizon, rows)).all()
        if not finite:
            why, fitted = "its predictions are not finite numbers on the whole history", None
    if fitted is None:
        notes.append(
            f"per-customer forecasts: {chose} {candidate.name}, but {why}; BG/NBD gives them instead"
        )
    return fitted


def _sampled_rows(summary: RfmSummary, pick: NDArray[np.intp]) -> tuple[History, NDArray[np.float64]]:
    """The distinct (x, t_x, T) rows of the sampled customers ``pick`` and the customers each stands for."""
    grouped = group_rows([summary.x[pick], summary.t_x[pick], summary.T[pick]], None)
    x, t_x, T = grouped.columns
    return History(x=x, t_x=t_x, T=T, time_unit=summary.time_unit), grouped.weights


def _forecasts(
    fitted: Fitted,
    summary: RfmSummary,
    spend: NDArray[np.float64],
    options: PredictOptions,
    history_days: int,
    notes: list[str],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """P(alive), expected orders, CLV and days from the last order to the winback date (NaN beyond the
    history) from ``fitted``, computed once per distinct (x, t_x, T) row."""
    scale = DAYS_PER_UNIT[summary.time_unit]
    h = history_of(summary)
    rows, row_of = summary_rows(summary)
    horizon, period = options.horizon_days / scale, options.period_days / scale
    curve = fitted.expected_orders_curve(rows)  # the horizon-free work once, for the horizon and every period
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p_alive = fitted.p_active(rows)
        expected = curve(horizon)
    # the lifetimes-style discounted sum over periods, as gamma_gamma.customer_lifetime_value
    total = discounted_orders(
        curve,
        horizon=horizon,
        period=period,
        discount_rate=options.discount_rate,
        quiet=True,
    )
    clv = options.margin * np.nan_to_num(spend, nan=0.0) * total[row_of]
    gap = np.ceil(quiet_gap(fitted, h, options.threshold, history_days / scale) * scale)
    # the search brackets the crossing to within a fraction of a day, so its ceiling may be one day late
    early = np.isfinite(gap) & (gap >= 1)
    if early.any():
        probe = History(x=h.x[early], t_x=h.t_x[early], T=h.t_x[early] + (gap[early] - 1) / scale,
                        time_unit=h.time_unit)  # fmt: skip
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            quiet = fitted.p_active(probe) <= options.threshold
        gap[np.flatnonzero(early)[quiet]] -= 1
    beyond = ~(gap <= history_days)
    if beyond.any():
        notes.append(
            f"{int(beyond.sum()):,} customers get no winback date: {fitted.name} puts it beyond the "
            f"{history_days:,} days of history the data can speak for"
        )
    return p_alive[row_of], expected[row_of], clv, np.where(beyond, np.nan, gap)


def _history_days(ingested: Ingested, summary: RfmSummary) -> int:
    first = first_row(ingested.con.execute(f"SELECT min(first_order_date) FROM {summary.table}"))
    return (ingested.as_of - first[0]).days if first and first[0] else 0


def _check_runaway(params: BgNbdParams) -> None:
    """Raise DataError, in words and with the fallback, when the whole-history BG/NBD fit has run off."""
    values = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
    words = runaway_words("BG/NBD", values, BGNBD_LIMITS)
    if words:
        raise DataError(f"{words}: no P(alive), expected orders, CLV or winback dates are given")


def _winback_gaps(
    bgnbd: BgNbdParams,
    summary: RfmSummary,
    threshold: float,
    history_days: int,
    notes: list[str],
    rows: History,
    row_of: NDArray[np.intp],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Days from the last order to the winback date, NaN beyond the history the data can speak for.

    From BG/NBD, like the p_alive column beside it (one-time buyers: shop level); the backtest reports how
    every model's dates did (BacktestReport.winback). Computed per distinct row of ``rows``, gathered by
    ``row_of``.
    """
    scale = DAYS_PER_UNIT[summary.time_unit]
    timing = winback(bgnbd, rows.x, rows.t_x, rows.T, threshold)
    gap_days = np.ceil(timing.gap * scale)[row_of]
    beyond = ~(gap_days <= history_days)
    if beyond.any():
        notes.append(
            f"{int(beyond.sum()):,} customers get no winback date: the model puts it beyond the "
            f"{history_days:,} days of history the data can speak for"
        )
    return np.where(beyond, np.nan, gap_days), np.asarray(timing.shop_level, dtype=bool)[row_of]


def _check_finite(params: BgNbdParams, *arrays: NDArray[np.float64]) -> None:
    """Raise DataError when a fit that converged still gives non-finite predictions.

    It happens on small data at a degenerate optimum, e.g. a and b both huge (every customer with the same
    drop-out probability), where the hypergeometric terms of E[Y(t)] overflow.
    """
    bad = sum(int((~np.isfinite(a)).sum()) for a in arrays)
    if bad:
        raise DataError(
            f"the BG/NBD fit is degenerate: {_degenerate_words(params)}, and its predictions are not "
            "finite; use a longer order history or a small penalizer_coef such as 0.001"
        )


def _degenerate_words(params: BgNbdParams) -> str:
    """What a runaway fit means, in words: its raw parameters move with the library versions and mean nothing."""
    if min(params.a, params.b) > 1e3:
        return "the customers cannot be told apart in how likely they are to stop buying after an order"
    if params.a < 1e-3 or params.b > 1e3:
        return "the data show no sign that customers stop buying"
    return "the data cannot pin down how customers stop buying"


def _spend(
    ingested: Ingested,
    summary: RfmSummary,
    options: PredictOptions,
    notes: list[str],
    mean_value: float | None = None,
    pick: NDArray[np.intp] | None = None,
) -> tuple[GammaGammaParams | None, NDArray[np.float64]]:
    """Expected spend per order, with the fallback used when the Gamma-Gamma model cannot be fitted: the shop's
    mean purchase value (``mean_value`` when :func:`prepare` read it before freeing the purchase days). ``pick``:
    the customers of a huge shop's seeded sample the fit uses (every customer gets a spend)."""
    if not ingested.monetary:
        notes.append("the export has no order values: expected spend and CLV are not available")
        return None, np.full(summary.customers, np.nan)
    zbar = np.nan_to_num(summary.zbar, nan=0.0)
    try:
        fit_x, fit_zbar = (summary.x, zbar) if pick is None else (summary.x[pick], zbar[pick])
        params = fit_gamma_gamma(fit_x, fit_zbar, penalizer_coef=options.penalizer_coef)
    except DataError as exc:
        fallback = _fallback_value(ingested, summary, mean_value)
        notes.append(
            f"spend: {exc}; every customer gets the shop's mean purchase value {fallback:.2f} instead"
        )
        return None, np.full(summary.customers, fallback)
    spend = conditional_expected_average_spend(params, summary.x, zbar)
    if np.isnan(spend).any():
        fallback = _fallback_value(ingested, summary, mean_value)
        notes.append(
            f"spend: the fitted spend distribution has no finite mean for {int(np.isnan(spend).sum())} "
            f"customers (q = {params.q:.3g} <= 1); they get the shop's mean purchase value {fallback:.2f}"
        )
        spend = np.where(np.isnan(spend), fallback, spend)
    if params.frequency_spend_correlation is not None and abs(params.frequency_spend_correlation) > 0.3:
        notes.append(
            "spend: order value and order count are correlated "
            f"(r = {params.frequency_spend_correlation:.2f}); the Gamma-Gamma model assumes they are not, "
            "so treat expected spend and CLV with care"
        )
    return params, spend


def _fallback_value(ingested: Ingested, summary: RfmSummary, mean_value: float | None) -> float:
    if mean_value is not None:
        return mean_value
    return _mean_purchase_value(ingested.con, summary, ingested.quality.layout == "summary")


def _mean_purchase_value(
    con: duckdb.DuckDBPyConnection, summary: RfmSummary, from_summary: bool = False
) -> float:
    """The shop's mean value of a purchase day: from the purchase days, or from a per-customer summary its
    customers' net total over their purchase days (rows without a customer and days with only returns, which
    the purchase days count, are not in a summary)."""
    if from_summary:
        query = f"SELECT CAST(sum(net_total) / sum(x + 1) AS DOUBLE) FROM {summary.table}"
    else:
        query = f"SELECT avg(value) FROM {purchase_days(con)} WHERE order_date <= $end"
    row = first_row(con.execute(query, {"end": summary.end} if "$end" in query else None))
    return float(row[0]) if row and row[0] is not None else 0.0


def _build_table(con: duckdb.DuckDBPyConnection, found: Forecast, ingested: Ingested) -> None:
    summary = found.summary
    values = {
        "p_no_order": found.churn.p_no_order,
        "band": found.churn.band,
        "row": np.arange(summary.customers, dtype=np.int64),
        "p_alive": found.p_alive,
        "expected_orders": found.expected,
        "spend": found.spend,
        "clv": found.clv,
        "gap_days": found.gap_days,
        "shop_level": found.shop_level,
    }
    con.register("predict_values", values)
    try:
        # in customer-id order (the summary's row order), so that scoring.predicted can join it to the scores
        # side by side
        with workdb.in_order(con):
            con.execute(
                f"""CREATE OR REPLACE TABLE {PREDICTIONS_TABLE} AS
                    WITH v AS (
                        SELECT row, p_alive, expected_orders, shop_level, band,
                               CASE WHEN isnan(p_no_order) THEN NULL ELSE p_no_order END AS p_no_order,
                               CASE WHEN isnan(spend) THEN NULL ELSE spend END AS spend,
                               CASE WHEN isnan(clv) THEN NULL ELSE clv END AS clv,
                               CASE WHEN isnan(gap_days) THEN NULL ELSE CAST(gap_days AS INTEGER) END AS gap_days
                        FROM predict_values),
                    w AS (
                        SELECT s.*, v.*, CAST(s.last_order_date + v.gap_days AS DATE) AS winback_date
                        FROM {summary.table} s JOIN v USING (row))
                    SELECT customer_id, first_order_date, last_order_date, x AS repeat_purchases,
                           round(p_alive, 4) AS p_alive, round(expected_orders, 4) AS expected_orders,
                           round(spend, 2) AS expected_spend_per_order, round(clv, 2) AS clv, winback_date,
                           greatest(0, date_diff('day', $as_of::DATE, winback_date)) AS days_until_winback,
                           CASE WHEN shop_level THEN 'shop level' ELSE 'customer' END AS winback_basis,
                           round(p_no_order, 4) AS p_no_order,
                           CASE band WHEN 0 THEN '{LEVELS[0]}' WHEN 1 THEN '{LEVELS[1]}' WHEN 2 THEN '{LEVELS[2]}'
                           END AS churn_risk
                    FROM w ORDER BY row""",
                {"as_of": ingested.as_of},
            )
    finally:
        con.unregister("predict_values")


def _segment_column(con: duckdb.DuckDBPyConnection) -> str | None:
    """The scorer's segment column, when scoring ran on the same connection."""
    found = first_row(
        con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'scores' AND column_name = 'rfm_segment'"
        )
    )
    return "rfm_segment" if found and found[0] else None


def _group_summaries(con: duckdb.DuckDBPyConnection, segment: str | None) -> list[GroupSummary]:
    group = f"coalesce(sc.{segment}, 'unscored')" if segment else "'all customers'"
    source = (
        f"{PREDICTIONS_TABLE} p LEFT JOIN scores sc USING (customer_id)"
        if segment
        else f"{PREDICTIONS_TABLE} p"
    )
    rows = con.execute(
        f"""SELECT {group} AS grp, count(*), avg(p.p_alive),
                   sum(p.expected_orders), sum(p.clv), avg(p.clv), median(p.days_until_winback),
                   avg(CASE WHEN p.days_until_winback = 0 THEN 1.0 ELSE 0.0 END)
            FROM {source} GROUP BY grp ORDER BY sum(p.clv) DESC NULLS LAST, count(*) DESC, grp"""
    ).fetchall()
    return [
        GroupSummary(
            group=str(r[0]),
            customers=int(r[1]),
            mean_p_alive=round(float(r[2]), 4),
            expected_orders=round(float(r[3]), 2),
            clv_total=None if r[4] is None else round(float(r[4]), 2),
            clv_mean=None if r[5] is None else round(float(r[5]), 2),
            median_days_until_winback=None if r[6] is None else float(r[6]),
            share_winback_passed=round(float(r[7]), 4),
        )
        for r in rows
    ]


def write_predictions(con: duckdb.DuckDBPyConnection, path: str | Path) -> Path:
    """Write the ``predictions`` table (CSV or Parquet by extension) atomically, sorted by customer id.

    In CSV the rounded numbers are written as fixed-point numbers with their decimals (CSV_DECIMALS), as the
    scores file writes the same columns (``0.5000``, money ``12.40``), and cheaper to write than doubles."""
    columns: list[str] = list(PREDICTION_COLUMNS)
    if Path(path).suffix.lower() == ".csv":
        columns = [
            f"CAST({c} AS DECIMAL(18, {CSV_DECIMALS[c]})) AS {c}" if c in CSV_DECIMALS else c for c in columns
        ]
    select = f"SELECT {', '.join(columns)} FROM {PREDICTIONS_TABLE} ORDER BY customer_id"
    return copy_query(con, select, path)
