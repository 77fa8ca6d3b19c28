"""The segment health scorecard: one row per segment and per lifecycle stage."""

from __future__ import annotations

from typing import Any

import duckdb

from ..ingest.reader import sql_string
from ..lifecycle import RISK_LEVELS
from ..models.scores import Scorecard, ScorecardRow
from ..workdb import median_of_counts


def _row(
    values: tuple[Any, ...], n_all: int, rev_all: float | None, monetary: bool, tiers: list[str] | None = None
) -> ScorecardRow:
    g, n, rev, orders, med, low, med_risk, high, em, sm = values[:10]
    engagement = dict(zip(tiers, (int(v) for v in values[10:]), strict=True)) if tiers else None
    return ScorecardRow(
        group=str(g),
        customers=n,
        share=round(n / n_all, 4),
        revenue=round(float(rev), 2) if monetary and rev is not None else None,
        revenue_share=round(float(rev) / float(rev_all), 4) if monetary and rev_all else None,
        aov=round(float(rev) / orders, 2) if monetary and orders else None,
        avg_orders=round(orders / n, 2),
        median_days_since_last_order=float(med) if med is not None else None,
        churn_risk_low=low,
        churn_risk_medium=med_risk,
        churn_risk_high=high,
        email_reachable=em,
        sms_reachable=sm,
        engagement=engagement,
        engagement_quality=engagement_quality(engagement) if engagement else None,
    )


def engagement_quality(counts: dict[str, int]) -> float | None:
    """The engaged-or-warm share of the customers whose tier is known (``knowledge/engagement.yaml``)."""
    from ..ingest.profiles import UNKNOWN_TIER, engagement_rules

    known = sum(n for tier, n in counts.items() if tier != UNKNOWN_TIER)
    good = sum(counts.get(tier, 0) for tier in engagement_rules().quality_tiers)
    return round(good / known, 4) if known else None


def build_scorecard(
    con: duckdb.DuckDBPyConnection,
    segments: list[str],
    stages: list[str],
    monetary: bool,
    email: bool,
    sms: bool,
    tiers: list[str] | None = None,
) -> Scorecard:
    """Aggregate the ``scores`` table by segment, by stage and in total.

    One pass over the customers counts them by segment, stage, churn risk, reachability and days since the
    last order; the scorecard's sums and medians come from those counts, thousands of rows rather than
    millions. On 2.3M customers that takes a third of the time of grouping sets with median() over the
    customers themselves.

    Rows follow the segment map's and the lifecycle file's order. Reachable means consent given and, when
    the export has the address column at all, an address present. With ``tiers`` (--profiles) each row
    also counts its customers per engagement tier.
    """
    # without any address in the export, consent alone counts
    email_ok = (
        "email_consent AND (email IS NOT NULL OR NOT (SELECT count(email) > 0 FROM scores))"
        if email
        else "NULL"
    )
    sms_ok = (
        "sms_consent AND (phone IS NOT NULL OR NOT (SELECT count(phone) > 0 FROM scores))" if sms else "NULL"
    )

    def count_of(condition: str) -> str:
        return f"CAST(coalesce(sum(n) FILTER (WHERE {condition}), 0) AS BIGINT)"

    # customers per churn-risk level, lowest first, as columns named by the level
    risk_counts = ", ".join(
        f"{count_of(f'churn_risk = {sql_string(level)}')} AS {level}" for level in RISK_LEVELS
    )
    email_n = count_of("email_ok") if email else "NULL"
    sms_n = count_of("sms_ok") if sms else "NULL"
    tier_col = ", engagement_tier" if tiers else ""
    tier_counts = "".join(
        f", {count_of(f'engagement_tier = {sql_string(t)}')} AS tier_{i}" for i, t in enumerate(tiers or [])
    )
    tier_names = "".join(f", tier_{i}" for i in range(len(tiers or [])))
    group = "GROUPING(rfm_segment, lifecycle_stage) AS level, coalesce(rfm_segment, lifecycle_stage, 'All customers') AS g"
    found = con.execute(
        f"""WITH counts AS MATERIALIZED (
                SELECT rfm_segment, lifecycle_stage, churn_risk, recency_days, {email_ok} AS email_ok,
                       {sms_ok} AS sms_ok{tier_col}, count(*) AS n, sum(net_total) AS net, sum(orders) AS orders
                FROM scores GROUP BY ALL),
            totals AS (
                SELECT {group}, CAST(sum(n) AS BIGINT) AS n, sum(net) AS net, CAST(sum(orders) AS BIGINT) AS orders,
                       {risk_counts}, {email_n} AS email, {sms_n} AS sms{tier_counts}
                FROM counts GROUP BY GROUPING SETS ((rfm_segment), (lifecycle_stage), ())),
            by_day AS (
                SELECT {group}, recency_days, sum(n) AS n
                FROM counts
                GROUP BY GROUPING SETS ((rfm_segment, recency_days), (lifecycle_stage, recency_days), (recency_days))),
            medians AS ({median_of_counts("by_day", "recency_days", "n", by=("level", "g"))})
            SELECT level, g, n, net, orders, median, {", ".join(RISK_LEVELS)}, email, sms{tier_names}
            FROM totals JOIN medians USING (level, g)"""
    ).fetchall()
    by_level: dict[int, list[tuple[Any, ...]]] = {1: [], 2: [], 3: []}
    for level, *values in found:
        by_level[level].append(tuple(values))
    total = by_level[3][0]
    n_all, rev_all = total[1], total[2]

    def rows(level: int, order: list[str]) -> list[ScorecardRow]:
        ranked = sorted(by_level[level], key=lambda r: order.index(r[0]) if r[0] in order else len(order))
        return [_row(r, n_all, rev_all, monetary, tiers) for r in ranked]

    return Scorecard(by_segment=rows(1, segments), by_lifecycle=rows(2, stages), total=rows(3, [])[0])
