"""Churn risk as the backtest chose it, and the model's outlook per segment, for ``score --predict``.

Before the scores table is built, the backtest (crm_winback.predict.backtest) scores every model against
recency alone on the shop's own past; the scores are then built with the model columns, and churn risk banded
by the winner: the chosen model's P(no order within the holdout length), or days since the last order when no
model beat it. BG/NBD and Gamma-Gamma give the model columns. When the data cannot support a fit (the predict
module raises DataError: too few repeat buyers, too short a history, a runaway fit) the model columns stay
empty and the outlook says why - a stated fallback, not an error; churn risk still follows the backtest, or the
heuristic when there is too little history for one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np
from numpy.typing import NDArray

from .. import workdb
from ..errors import DataError
from ..ingest import Ingested
from ..lifecycle import lifecycle_rules
from ..models.scores import ModelOutlook, SegmentOutlook
from ..workdb import first_row

if TYPE_CHECKING:
    from ..predict.backtest import ChurnNow
    from ..predict.service import Forecast
    from ..predict.summary import RfmSummary

MODEL_COLUMNS = ("p_alive", "expected_orders", "clv", "winback_date", "winback_basis", "p_no_order")


def risk_source(outlook: ModelOutlook, heuristic: str) -> str:
    """The scorecard's one-line statement of how churn risk was decided (``heuristic`` describes the rule)."""
    bt = outlook.backtest
    if outlook.churn_risk_method == "backtest" and bt is not None:
        chosen = bt.check(bt.chosen)
        measured = "; ".join(bt.band_meaning())
        auc = f" (AUC {chosen.auc:.3f} on the backtest)" if chosen and chosen.auc is not None else ""
        return f"ranked by {bt.chosen}{auc}, chosen on the shop's own past: {bt.reason}. {measured}"
    if outlook.churn_risk_method == "heuristic":
        why = [bt.reason] if bt is not None and bt.status != "done" else []
        if outlook.fallback_reason:
            reason = outlook.fallback_reason
            why.append(reason if reason.startswith("BG/NBD") else f"BG/NBD: {reason}")
        return f"{heuristic} - fallback: {'; '.join(why)}"
    bands = lifecycle_rules().churn_risk.p_alive
    return (
        f"BG/NBD P(alive): low >= {bands.low_from:g}, medium >= {bands.medium_from:g}, high below "
        "(knowledge/lifecycle.yaml); one-time buyers use the shop-level P(alive)"
    )


MODEL_TABLE = "model_columns"


@dataclass
class Predictions:
    """What the scorecard says of the models, and each customer's model numbers to put beside the scores.

    Built by :func:`predict_customers` before the scores table; :meth:`build_ranked` sorts the customers into
    the scores' order with the numbers beside them, and the scores query rounds and names them
    (:meth:`columns`); :func:`model_outlook` then summarizes them per segment. It keeps none of the fits'
    other per-customer arrays: their memory is freed before the scores are built.
    """

    fitted: bool
    """The whole-history forecast ran (the model numbers are there); else ``outlook`` has its fallback reason."""
    outlook: dict[str, object]
    """The :class:`ModelOutlook` fields that do not read the scores."""
    values: dict[str, NDArray[np.generic]] | None
    """The numbers in the summary's row (customer-id) order, when its customers are the scores' (aligned): read
    beside the sorted customers. None when they are not: then ``model_columns`` holds them by customer_id."""

    def build_ranked(self, con: duckdb.DuckDBPyConnection, select: str) -> None:
        """Create ``ranked``: the customers' query ``select`` in customer-id order with the model numbers beside
        each customer: read beside the sorted rows straight from the arrays (a positional join: no hash table,
        no copy of them into a table first) when aligned, else joined on customer_id before the sort."""
        if self.values is None:
            con.execute(
                f"""CREATE TABLE ranked AS SELECT r.*, m.* EXCLUDE (customer_id) FROM ({select}) r
                    LEFT JOIN {MODEL_TABLE} m USING (customer_id) ORDER BY r.customer_id"""
            )
            con.execute(f"DROP TABLE {MODEL_TABLE}")
            return
        con.register("model_values", self.values)
        try:
            con.execute(
                f"CREATE TABLE ranked AS SELECT * FROM ({select} ORDER BY customer_id) POSITIONAL JOIN model_values"
            )
        finally:
            con.unregister("model_values")
        self.values = None  # read: free the arrays

    def columns(self, heuristic_risk: str) -> tuple[str, str]:
        """The scores' churn risk (the backtest's band where it banded the customer, else ``heuristic_risk``) and
        model columns (MODEL_COLUMNS) from ranked's numbers, rounded as the predict command's table rounds them
        (predict.service). A customer the model did not see (not aligned) gets empty model columns."""
        from ..predict.backtest import LEVELS

        band = " ".join(f"WHEN {i} THEN '{level}'" for i, level in enumerate(LEVELS[:3]))
        risk = f"coalesce(CASE band {band} END, {heuristic_risk})"
        p_no_order = "round(CASE WHEN isnan(p_no_order) THEN NULL ELSE p_no_order END, 4) AS p_no_order"
        if not self.fitted:
            return risk, (
                ", NULL::DOUBLE AS p_alive, NULL::DOUBLE AS expected_orders, NULL::DOUBLE AS clv, "
                f"NULL::DATE AS winback_date, NULL::VARCHAR AS winback_basis, {p_no_order}"
            )
        return risk, (
            ", round(p_alive, 4) AS p_alive, round(expected_orders, 4) AS expected_orders, "
            "round(CASE WHEN isnan(clv) THEN NULL ELSE clv END, 2) AS clv, "
            "CAST(last_order_date + CASE WHEN isnan(gap_days) THEN NULL ELSE CAST(gap_days AS INTEGER) END AS DATE)"
            " AS winback_date, "
            "CASE WHEN shop_level THEN 'shop level' WHEN NOT shop_level THEN 'customer' END AS winback_basis, "
            f"{p_no_order}"
        )


def predict_customers(
    ingested: Ingested, calibration_end: dt.date | None = None, keep: dict[str, object] | None = None
) -> Predictions:
    """Backtest, fit the models and keep each customer's model numbers and backtest churn band, before the
    scores are built: the purchase days and the model summary are freed before the scores table exists, and
    the scores are written once, with the model columns (no second copy of their 26 columns to add six).

    With ``keep``, the backtest is kept there (``keep["backtest"]``, with its fits and its calibration
    summary) and the purchase days stay in the connection, for a caller that draws them (the report).
    """
    # imported here, not at module level: the models load SciPy, which a plain ``score`` never needs
    from ..predict.service import PredictOptions, forecast, prepare

    con = ingested.con
    options = PredictOptions(calibration_end=calibration_end)
    prepared = prepare(ingested, options, free_days=keep is None, totals=False)
    if keep is not None:
        keep["backtest"] = prepared.backtest
    aligned = _aligned(con, prepared.summary.table)
    if aligned:  # nothing reads the model summary any more: free its memory before the fits
        con.execute(f"DROP TABLE IF EXISTS {prepared.summary.table}")
    workdb.release_freed_memory()
    report = prepared.backtest.report  # the forecast's too: it builds on this backtest
    done = report.status == "done"
    common: dict[str, object] = {
        "churn_risk_method": "backtest" if done else "heuristic",
        "backtest": report,
        "horizon_days": options.horizon_days,
        "threshold": options.threshold,
        "time_unit": options.time_unit,
    }
    try:
        found = forecast(ingested, options, prepared, free_days=keep is None)
    except DataError as exc:
        # the backtest and the churn ranking do not depend on the whole-history fit that failed: reuse them
        values = _model_values(con, prepared.summary, prepared.churn, None, aligned)
        workdb.release_freed_memory()
        notes = list(prepared.churn.notes) if done else []
        return Predictions(
            False, common | {"fallback_reason": str(exc), "parameters": {}, "notes": notes}, values
        )
    values = _model_values(con, found.summary, found.churn, found, aligned)
    b, g = found.bgnbd, found.gamma_gamma
    parameters = found.parameters or (
        {"r": b.r, "alpha": b.alpha, "a": b.a, "b": b.b} if b is not None else {}
    )
    if g is not None:
        parameters |= {"p": g.p, "q": g.q, "v": g.v}
    fitted = {
        "fallback_reason": None,
        "forecast_model": found.model,
        "parameters": {k: float(f"{v:.6g}") for k, v in parameters.items()},
        "notes": list(found.notes),
    }
    del found, prepared  # the fits' other per-customer arrays: free them before the scores
    workdb.release_freed_memory()
    return Predictions(True, common | fitted, values)


def model_outlook(
    con: duckdb.DuckDBPyConnection,
    predictions: Predictions,
    as_of: dt.date,
    segments: list[str],
    stages: list[str],
) -> ModelOutlook:
    """The scorecard's account of the models, once the scores hold the model columns."""
    if not predictions.fitted:
        return ModelOutlook.model_validate(
            predictions.outlook | {"overall": None, "by_segment": [], "by_lifecycle": []}
        )
    return ModelOutlook.model_validate(
        predictions.outlook
        | {
            "overall": outlook_rows(con, as_of, None, [])[0],
            "by_segment": outlook_rows(con, as_of, "rfm_segment", segments),
            "by_lifecycle": outlook_rows(con, as_of, "lifecycle_stage", stages),
        }
    )


def _aligned(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the customers and the model summary ``table`` hold the same customers: both are then read in
    customer-id order (the scores' order and the summary's ``row``), row i beside row i."""
    counts = first_row(
        con.execute(
            f"""SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM {table}),
                       (SELECT count(*) FROM customers c JOIN {table} t USING (customer_id))"""
        )
    )
    return counts is not None and counts[0] == counts[1] == counts[2]


def _model_values(
    con: duckdb.DuckDBPyConnection,
    summary: RfmSummary,
    churn: ChurnNow,
    found: Forecast | None,
    aligned: bool,
) -> dict[str, NDArray[np.generic]] | None:
    """The model numbers of ``found`` and the backtest's churn band (``churn``) per customer of the model
    summary, in its row order; without ``found`` (the whole-history fit failed) the band only, and churn risk
    still follows the backtest.

    ``aligned`` (the summary's customers are the scores'): the arrays, to be read beside the sorted customers,
    and the summary table was freed before the fits. Otherwise ``model_columns`` holds them with each row's
    customer_id, for a join (returns None), and the summary is freed here.
    """
    values: dict[str, NDArray[np.generic]] = {"p_no_order": churn.p_no_order, "band": churn.band}
    if found is not None:
        values |= {
            "p_alive": found.p_alive,
            "expected_orders": found.expected,
            "clv": found.clv,
            "gap_days": found.gap_days,
            "shop_level": found.shop_level,
        }
    if aligned:
        return values
    con.register("model_values", {"row": np.arange(summary.customers, dtype=np.int64), **values})
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {MODEL_TABLE} AS SELECT t.customer_id, v.* EXCLUDE (row)
                FROM {summary.table} t JOIN model_values v USING (row)"""
        )
    finally:
        con.unregister("model_values")
    con.execute(f"DROP TABLE IF EXISTS {summary.table}")
    return None


def outlook_rows(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, column: str | None, order: list[str]
) -> list[SegmentOutlook]:
    """The model's estimates per group of ``column`` of the scores table (all customers when None), ordered by
    ``order`` (groups not in it last, by name)."""
    group = column or "'All customers'"
    rows = con.execute(
        f"""WITH s AS (SELECT {group} AS g, *, date_diff('day', last_order_date, winback_date) AS gap
                       FROM scores)
            SELECT g, count(*), avg(p_alive), sum(expected_orders), sum(clv), avg(clv),
                   quantile_disc(gap, 0.25), quantile_disc(gap, 0.5), quantile_disc(gap, 0.75),
                   avg(CASE WHEN winback_basis = 'shop level' THEN 1.0 ELSE 0.0 END),
                   avg(CASE WHEN winback_date <= $as_of THEN 1.0 ELSE 0.0 END)
            FROM s GROUP BY g""",
        {"as_of": as_of},
    ).fetchall()
    rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))

    def days(value: object) -> float | None:
        return None if value is None else float(value)  # type: ignore[arg-type]

    return [
        SegmentOutlook(
            group=str(r[0]),
            customers=int(r[1]),
            mean_p_alive=round(float(r[2]), 4),
            expected_orders=round(float(r[3]), 2),
            clv_total=None if r[4] is None else round(float(r[4]), 2),
            clv_mean=None if r[5] is None else round(float(r[5]), 2),
            winback_days_p25=days(r[6]),
            winback_days_median=days(r[7]),
            winback_days_p75=days(r[8]),
            shop_level_share=round(float(r[9]), 4),
            winback_passed_share=round(float(r[10]), 4),
        )
        for r in rows
    ]
