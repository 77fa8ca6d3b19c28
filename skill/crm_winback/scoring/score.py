"""Score every customer: the per-customer summary, R/F/M scores, segment, lifecycle stage and churn risk.

Builds the ``scores`` table in the ingest connection and the scorecard. The table is stored in customer-id
order, and output files are written in that order, so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .. import workdb
from ..errors import InputError
from ..files import copy_query, reading
from ..ingest import Ingested
from ..ingest.orders import with_contacts
from ..ingest.quality import QualityReport
from ..ingest.reader import sql_string
from ..lifecycle import (
    RISK_LEVELS,
    churn_risk_sql,
    expected_gap_sql,
    repurchase_cycle,
    stage_names,
    stage_sql,
    vip_share,
)
from ..models.scores import BinReport, Method, ScoreSummary
from ..workdb import first_row
from .predicted import MODEL_COLUMNS, model_outlook, predict_customers, risk_source
from .rfm import (
    fitted_spend_bins,
    fixed_score_sql,
    frequency_score_sql,
    load_thresholds,
    quantile_score_sql,
)
from .scorecard import build_scorecard
from .segment_map import load_segment_map

SCORE_COLUMNS = (
    "customer_id", "first_order_date", "last_order_date", "orders", "purchase_days", "gross_total", "net_total",
    "aov", "recency_days", "tenure_days", "orders_per_year", "median_days_between", "expected_gap_days",
    "r_score", "f_score", "m_score", "rfm_code", "rfm_segment", "lifecycle_stage", "churn_risk",
    "email", "phone", "first_name", "last_name", "email_consent", "sms_consent",
)  # fmt: skip

# decimal places of the rounded columns, written as fixed-point numbers in CSV (the model columns as the
# predict command writes them: predict.service.CSV_DECIMALS)
CSV_DECIMALS = {
    "gross_total": 2, "net_total": 2, "aov": 2, "orders_per_year": 3, "median_days_between": 1,
    "expected_gap_days": 1, "p_alive": 4, "expected_orders": 4, "clv": 2, "p_no_order": 4,
}  # fmt: skip

HEURISTIC_SOURCE = (
    "heuristic: days since last order / expected gap (own median gap with 3+ purchase days, shrunk towards the "
    "shop cycle, else the shop cycle); medium above 2x, high above 4x"
)


@dataclass
class ScoreOptions:
    method: Method = "fixed"
    thresholds_file: str | None = None
    segment_map_file: str | None = None
    predict: bool = False  # backtest, fit the models; churn risk ranked by what won the backtest
    calibration_end: dt.date | None = None  # where the backtest splits (default: chosen from the data)
    profiles: tuple[str, ...] = ()  # email/SMS platform exports: consent and engagement (ingest.profiles)
    # with predict: keep the backtest (Scored.extra['backtest']) and the purchase days for a caller that
    # draws them (the report), instead of fitting and reading them again
    keep_model: bool = False


@dataclass
class Scored:
    ingested: Ingested
    summary: ScoreSummary
    quality: QualityReport
    # every value the coded text columns of the scores table can hold
    text_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)


def score(ingested: Ingested, options: ScoreOptions | None = None) -> Scored:
    options = options or ScoreOptions()
    con, quality = ingested.con, ingested.quality
    thresholds = load_thresholds(options.thresholds_file) if options.method == "fixed" else None
    segment_map = load_segment_map(options.segment_map_file)
    as_of = ingested.as_of
    if quality.customers == 0:
        reasons = ", ".join(f"{e.reason}: {e.rows:,} rows" for e in quality.exclusions) or "no purchases"
        raise InputError(
            f"{quality.file}: no customer has a purchase to score on or before {as_of} ({reasons}); "
            "check --as-of, or run crm-winback profile on the file to see what was excluded"
        )
    cycle, cycle_source = repurchase_cycle(quality.median_days_between_orders, quality.repeat_customers)
    monetary = ingested.monetary
    recency = f"date_diff('day', last_order_date, DATE '{as_of.isoformat()}')"
    spend = "net_total" if monetary else "CAST(orders AS DOUBLE)"
    metrics = {"R": recency, "F": "orders", "M": "net_total"}
    if not monetary:
        del metrics["M"]
    # The cut points are constants of the scores query: one pass over the customers computes them all.
    wanted = {"vip": f"quantile_disc({spend}, {1 - vip_share()!r})", "aov": "sum(net_total) / sum(orders)"}
    if thresholds is None:
        wanted |= {dim: f"quantile_disc({expr}, [0.2, 0.4, 0.6, 0.8])" for dim, expr in metrics.items()}
    found = first_row(con.execute(f"SELECT {', '.join(wanted.values())} FROM customers"))
    cuts = dict(zip(wanted, found or [None] * len(wanted), strict=True))
    opy = "orders * 365.0 / greatest(tenure_days, 365)"
    spend_note = ""
    if thresholds is not None:
        r_sql = fixed_score_sql("recency_days", thresholds.recency_days)
        f_sql = frequency_score_sql(fixed_score_sql(f"({opy})", thresholds.orders_per_year))
        spend_bins, spend_note = fitted_spend_bins(thresholds, cuts["aov"] if monetary else None)
        m_sql = fixed_score_sql("net_total", spend_bins) if monetary else "NULL"
        basis = {"R": "days since last order", "F": "orders per year", "M": "net spend"}
    else:
        r_sql = quantile_score_sql("recency_days", cuts["R"], lower_is_better=True)
        f_sql = frequency_score_sql(quantile_score_sql("orders", cuts["F"]))
        m_sql = quantile_score_sql("net_total", cuts["M"]) if monetary else "NULL"
        basis = {
            "R": "days since last order (quintiles)",
            "F": "number of orders (quintiles)",
            "M": "net spend (quintiles)",
        }
    vip_cut = "NULL" if cuts["vip"] is None else repr(cuts["vip"])
    # the 125 segment names in code order 111, 112, ..., 555: a list lookup instead of a join
    code_to_segment = segment_map.code_to_segment()
    names = "[" + ", ".join(sql_string(name) for name in code_to_segment.values()) + "]"
    m_or_f = "coalesce(m_score, f_score)"
    source, contacts = with_contacts(ingested.mapping)
    extra: dict[str, object] = {}
    # the models first: the purchase days and the model summary are freed before the scores exist, and the
    # scores are built once, with the model columns
    predictions = (
        predict_customers(ingested, options.calibration_end, keep=extra if options.keep_model else None)
        if options.predict
        else None
    )
    risk, model = churn_risk_sql(cycle), ""
    if predictions is not None:  # the model numbers ride along in ranked (Predictions.build_ranked)
        risk, model = predictions.columns(risk)
    with workdb.in_order(con):
        # Sorted by customer id while the rows are still narrow. The scores keep that order (a projection of
        # one table), so the scores file is written without sorting its 26 columns: ~0.5 s less on 2.3M
        # customers.
        customers = f"""SELECT c.customer_id, first_order_date, last_order_date, orders, purchase_days, gross_total,
                       net_total,
                       median_days_between,
                       {contacts}
                FROM {source}"""
        if predictions is None:
            con.execute(f"CREATE TABLE ranked AS {customers} ORDER BY customer_id")
        else:
            predictions.build_ranked(con, customers)
        con.execute("DROP TABLE customers")  # ranked, then scores, hold all of it now: free the memory
        con.execute("DROP TABLE customer_info")
        workdb.release_freed_memory()  # the sort's and the customers' memory, before the scores are built
        scores_query = f"""WITH base AS (
                    SELECT *, {recency} AS recency_days,
                           date_diff('day', first_order_date, DATE '{as_of.isoformat()}') AS tenure_days
                    FROM ranked),
                s AS (SELECT *, {r_sql} AS r_score, {f_sql} AS f_score, {m_sql} AS m_score,
                             {opy} AS orders_per_year, {spend} AS spend_value
                      FROM base)
                SELECT customer_id, first_order_date, last_order_date, orders, purchase_days,
                       {_round("gross_total", 2)} AS gross_total, {_round("net_total", 2)} AS net_total,
                       {_round("net_total / orders", 2)} AS aov, recency_days, tenure_days,
                       {_round("orders_per_year", 3)} AS orders_per_year, median_days_between,
                       {_round(expected_gap_sql(cycle), 1)} AS expected_gap_days,
                       r_score, f_score, m_score,
                       CAST(r_score * 100 + f_score * 10 + {m_or_f} AS VARCHAR) AS rfm_code,
                       {names}[(r_score - 1) * 25 + (f_score - 1) * 5 + {m_or_f}] AS rfm_segment,
                       {stage_sql(cycle, vip_cut)} AS lifecycle_stage,
                       {risk} AS churn_risk,
                       email, phone, first_name, last_name, email_consent, sms_consent{model}
                FROM s"""
        con.execute(f"CREATE OR REPLACE TABLE scores AS {scores_query}")
        con.execute("DROP TABLE ranked")
    workdb.release_freed_memory()
    filled = first_row(
        con.execute(
            "SELECT count(*), count(DISTINCT r_score), count(DISTINCT f_score), count(DISTINCT m_score) FROM scores"
        )
    )
    assert filled is not None
    n = int(filled[0])
    bins: list[BinReport] = []
    for dim, count in zip(("R", "F", "M"), filled[1:], strict=True):
        if dim not in metrics:
            bins.append(
                BinReport(
                    dimension="M",
                    basis="unavailable",
                    bins_filled=0,
                    cut_points=None,
                    note="no amounts in the file: M is not scored; segments use F in its place",
                )
            )
            continue
        cut = cuts.get(dim)
        note = (
            ""
            if count == 5
            else (
                f"only {count} of 5 scores occur: many customers share the same value, and equal values "
                "always get equal scores"
            )
        )
        bins.append(
            BinReport(
                dimension=dim,
                basis=basis[dim],
                bins_filled=count,
                cut_points=None if cut is None else [float(v) for v in cut],
                note=note,
            )
        )
    outlook = (
        model_outlook(con, predictions, as_of, segment_map.names(), stage_names())
        if predictions is not None
        else None
    )
    profiles = None
    if options.profiles:
        from ..ingest.profiles import apply_profiles

        order_consent = {ch: f"{ch}_consent" in quality.consent_columns for ch in ("email", "sms")}
        profiles = apply_profiles(con, list(options.profiles), quality.file, as_of, order_consent)
        platform = {
            f"{ch}_consent": "the platform's profiles (--profiles)" for ch in profiles.consent_channels
        }
        quality = quality.model_copy(update={"consent_columns": {**quality.consent_columns, **platform}})
    email = "email_consent" in quality.consent_columns
    sms = "sms_consent" in quality.consent_columns
    tiers = _tier_names() if profiles is not None else None
    scorecard = build_scorecard(con, segment_map.names(), stage_names(), monetary, email, sms, tiers)
    notes = [spend_note] if spend_note else []
    if not monetary:
        notes.append("monetary value unavailable: segments use R and F (M taken equal to F)")
    if outlook is not None and outlook.fallback_reason is not None:
        notes.append(
            "BG/NBD model not fitted (see churn risk): the model columns of the scores file are empty, and "
            + (
                "churn risk follows the backtest"
                if outlook.churn_risk_method == "backtest"
                else "churn risk uses the heuristic"
            )
        )
    summary = ScoreSummary(
        method=options.method,
        as_of=as_of,
        customers=n,
        repurchase_cycle_days=cycle,
        repurchase_cycle_source=cycle_source,
        churn_risk_source=HEURISTIC_SOURCE if outlook is None else risk_source(outlook, HEURISTIC_SOURCE),
        monetary_available=monetary,
        bins=bins,
        notes=notes,
        scorecard=scorecard,
        predictions=outlook,
        profiles=profiles,
    )
    text_values = {
        "rfm_code": tuple(code_to_segment),
        "rfm_segment": tuple(segment_map.names()),
        "lifecycle_stage": tuple(stage_names()),
        "churn_risk": RISK_LEVELS,
    }
    if tiers is not None:
        text_values["engagement_tier"] = tuple(tiers)
    return Scored(ingested, summary, quality, text_values, extra)


def score_summary(
    summary: str | Path,
    gaps: str | Path | None,
    options: ScoreOptions | None = None,
    as_of: dt.date | None = None,
    backtest: str | Path | None = None,
) -> Scored:
    """Score a per-customer summary file and its gap histogram (contract v1) instead of the orders.

    The scores are the orders' scores (tests/test_score_summary.py). Predictions need the backtest part too
    (``backtest``), in place of the purchase days the backtest replays (tests/test_summary_predict.py). The
    caller closes ``scored.ingested``.
    """
    options = options or ScoreOptions()
    from ..engines.summary_file import load_summary

    ingested = load_summary(
        summary, gaps, as_of, backtest, predict=options.predict, calibration_end=options.calibration_end
    )
    try:
        return score(ingested, options)
    except BaseException:
        ingested.close()
        raise


def _tier_names() -> list[str]:
    from ..ingest.profiles import UNKNOWN_TIER, engagement_rules

    return [*engagement_rules().names(), UNKNOWN_TIER]


def _round(expr: str, digits: int) -> str:
    """``round(expr, digits)`` for a DOUBLE, as DuckDB computes it (round(x * 10^d) / 10^d) but with the power
    of ten as a constant: DuckDB's round() calls pow() on every row (~0.1 s of CPU on 2.3M customers)."""
    scale = f"{10**digits}.0"
    return f"(round(({expr}) * {scale}) / {scale})"


def write_scores(scored: Scored, path: str | Path) -> Path:
    """Write per-customer scores (CSV or Parquet by extension) atomically, in the table's customer-id order.

    Never over the orders file it was scored from. CSV text cells are neutralised (formula cells).

    With predictions the model columns follow (empty when the fit fell back), so the file's shape depends
    only on the option, not on the data.
    """
    columns = SCORE_COLUMNS + (MODEL_COLUMNS if scored.summary.predictions is not None else ())
    if scored.summary.profiles is not None:
        from ..ingest.profiles import PROFILE_COLUMNS

        columns += PROFILE_COLUMNS
    if Path(path).suffix.lower() == ".csv":
        # the same digits as the rounded doubles; fixed-point text is much cheaper to write for 2M+ rows
        select = [
            f"CAST({c} AS DECIMAL(18, {CSV_DECIMALS[c]})) AS {c}" if c in CSV_DECIMALS else c for c in columns
        ]
    else:
        select = list(columns)
    # the orders file is an input whichever door called: never written over (MCP outputs may sit beside it)
    with reading(scored.ingested.source.path), workdb.in_order(scored.ingested.con) as con:
        return copy_query(
            con, f"SELECT {', '.join(select)} FROM scores", path, text_values=scored.text_values
        )
