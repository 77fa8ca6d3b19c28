"""Churn risk from BG/NBD P(alive), and the model's outlook per segment, for ``score --predict``.

After the heuristic scoring, BG/NBD and Gamma-Gamma (crm_winback.predict) are fitted on the same connection.
When the fit is adequate, ``scores.churn_risk`` is re-banded from P(alive) (knowledge/lifecycle.yaml
``churn_risk.p_alive``) and the scores gain the model's columns. When the data cannot support a fit (the
predict module raises DataError: too few repeat buyers, too short a history) the heuristic stays, the model
columns stay empty, and the outlook says why - a stated fallback, not an error.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from .. import workdb
from ..errors import DataError
from ..ingest import Ingested
from ..models.scores import ModelOutlook, SegmentOutlook
from .lifecycle import lifecycle_rules, p_alive_risk_sql

MODEL_COLUMNS = ("p_alive", "expected_orders", "clv", "winback_date", "winback_basis")


def risk_source(outlook: ModelOutlook, heuristic: str) -> str:
    """The scorecard's one-line statement of how churn risk was decided (``heuristic`` describes the rule)."""
    if outlook.churn_risk_method == "heuristic":
        return f"{heuristic} - fallback from BG/NBD P(alive): {outlook.fallback_reason}"
    bands = lifecycle_rules().churn_risk.p_alive
    return (
        f"BG/NBD P(alive): low >= {bands.low_from:g}, medium >= {bands.medium_from:g}, high below "
        "(knowledge/lifecycle.yaml); one-time buyers use the shop-level P(alive)"
    )


def apply_predictions(ingested: Ingested, segments: list[str], stages: list[str]) -> ModelOutlook:
    """Fit the models and, when the fit is adequate, replace the heuristic churn risk in ``scores``."""
    # predict.service imports the scorer, so it is imported here and not at module level
    from ..predict.service import PREDICTIONS_TABLE, PredictOptions, predict

    con = ingested.con
    options = PredictOptions()
    try:
        summary = predict(ingested, options)
    except DataError as exc:
        nulls = "NULL::DOUBLE AS p_alive, NULL::DOUBLE AS expected_orders, NULL::DOUBLE AS clv, "
        nulls += "NULL::DATE AS winback_date, NULL::VARCHAR AS winback_basis"
        with workdb.in_order(con):  # the scores stay in customer-id order (see scoring.score)
            con.execute(f"CREATE OR REPLACE TABLE scores AS SELECT *, {nulls} FROM scores")
        return ModelOutlook(
            churn_risk_method="heuristic",
            fallback_reason=str(exc),
            parameters={},
            notes=[],
            overall=None,
            by_segment=[],
            by_lifecycle=[],
            horizon_days=options.horizon_days,
            threshold=options.threshold,
            time_unit=options.time_unit,
        )
    with workdb.in_order(con):  # a join does not keep the order: sort again
        con.execute(
            f"""CREATE OR REPLACE TABLE scores AS
                SELECT s.* REPLACE (coalesce({p_alive_risk_sql("p.p_alive")}, s.churn_risk) AS churn_risk),
                       p.p_alive, p.expected_orders, p.clv, p.winback_date, p.winback_basis
                FROM scores s LEFT JOIN {PREDICTIONS_TABLE} p USING (customer_id)
                ORDER BY s.customer_id"""
        )
    b, g = summary.bgnbd, summary.gamma_gamma
    parameters = {"r": b.r, "alpha": b.alpha, "a": b.a, "b": b.b}
    if g is not None:
        parameters |= {"p": g.p, "q": g.q, "v": g.v}
    return ModelOutlook(
        churn_risk_method="BG/NBD P(alive)",
        fallback_reason=None,
        parameters={k: float(f"{v:.6g}") for k, v in parameters.items()},
        notes=list(summary.notes),
        overall=_outlook(con, ingested.as_of, None, [])[0],
        by_segment=_outlook(con, ingested.as_of, "rfm_segment", segments),
        by_lifecycle=_outlook(con, ingested.as_of, "lifecycle_stage", stages),
        horizon_days=options.horizon_days,
        threshold=options.threshold,
        time_unit=options.time_unit,
    )


def _outlook(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, column: str | None, order: list[str]
) -> list[SegmentOutlook]:
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
