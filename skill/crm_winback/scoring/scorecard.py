"""The segment health scorecard: one row per segment and per lifecycle stage."""

from __future__ import annotations

import duckdb
from pydantic import BaseModel


class ScorecardRow(BaseModel):
    group: str
    customers: int
    share: float
    revenue: float | None
    revenue_share: float | None
    aov: float | None
    avg_orders: float
    median_days_since_last_order: float | None
    churn_risk_low: int
    churn_risk_medium: int
    churn_risk_high: int
    email_reachable: int | None
    sms_reachable: int | None
    previous_customers: int | None = None  # in the previous snapshot, when the store has one


class Scorecard(BaseModel):
    by_segment: list[ScorecardRow]
    by_lifecycle: list[ScorecardRow]
    total: ScorecardRow
    trend_from: str | None = None  # the snapshot the previous counts come from

    def with_trend(self, label: str, segments: dict[str, int], stages: dict[str, int]) -> Scorecard:
        """A copy whose rows carry the customer counts of an earlier snapshot (0 where a group was empty)."""

        def rows(current: list[ScorecardRow], before: dict[str, int]) -> list[ScorecardRow]:
            return [r.model_copy(update={"previous_customers": before.get(r.group, 0)}) for r in current]

        total = self.total.model_copy(update={"previous_customers": sum(segments.values())})
        return self.model_copy(
            update={
                "by_segment": rows(self.by_segment, segments),
                "by_lifecycle": rows(self.by_lifecycle, stages),
                "total": total,
                "trend_from": label,
            }
        )


def _rows(
    con: duckdb.DuckDBPyConnection,
    column: str | None,
    order: list[str],
    monetary: bool,
    email: bool,
    sms: bool,
) -> list[ScorecardRow]:
    group = column or "'All customers'"
    email_sql = "count(*) FILTER (WHERE email_consent AND (email IS NOT NULL OR NOT ?))" if email else "NULL"
    sms_sql = "count(*) FILTER (WHERE sms_consent AND (phone IS NOT NULL OR NOT ?))" if sms else "NULL"
    params: list[object] = []
    if email:
        params.append(con.execute("SELECT count(email) > 0 FROM scores").fetchone()[0])  # type: ignore[index]
    if sms:
        params.append(con.execute("SELECT count(phone) > 0 FROM scores").fetchone()[0])  # type: ignore[index]
    rows = con.execute(
        f"""SELECT {group} AS g, count(*), sum(net_total), sum(orders), median(recency_days),
                   count(*) FILTER (WHERE churn_risk = 'low'), count(*) FILTER (WHERE churn_risk = 'medium'),
                   count(*) FILTER (WHERE churn_risk = 'high'), {email_sql}, {sms_sql}
            FROM scores GROUP BY g""",
        params,
    ).fetchall()
    totals = con.execute("SELECT count(*), sum(net_total) FROM scores").fetchone()
    assert totals is not None
    n_all, rev_all = totals
    result = []
    for g, n, rev, orders, med, low, med_risk, high, em, sm in sorted(
        rows, key=lambda row: order.index(row[0]) if row[0] in order else len(order)
    ):
        revenue = round(float(rev), 2) if monetary and rev is not None else None
        result.append(
            ScorecardRow(
                group=g,
                customers=n,
                share=round(n / n_all, 4),
                revenue=revenue,
                revenue_share=round(float(rev) / float(rev_all), 4) if monetary and rev_all else None,
                aov=round(float(rev) / orders, 2) if monetary and orders else None,
                avg_orders=round(orders / n, 2),
                median_days_since_last_order=float(med) if med is not None else None,
                churn_risk_low=low,
                churn_risk_medium=med_risk,
                churn_risk_high=high,
                email_reachable=em,
                sms_reachable=sm,
            )
        )
    return result


def build_scorecard(
    con: duckdb.DuckDBPyConnection,
    segments: list[str],
    stages: list[str],
    monetary: bool,
    email: bool,
    sms: bool,
) -> Scorecard:
    """Aggregate the ``scores`` table; rows follow the segment map's and the lifecycle file's order."""
    return Scorecard(
        by_segment=_rows(con, "rfm_segment", segments, monetary, email, sms),
        by_lifecycle=_rows(con, "lifecycle_stage", stages, monetary, email, sms),
        total=_rows(con, None, [], monetary, email, sms)[0],
    )
