"""The few numbers the report draws that the scorecard does not already hold, read from the scores table.

Each function is one aggregate query over ``scores`` (built by crm_winback.scoring): a few dozen rows however
many customers the shop has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from ..lifecycle import stage_names


@dataclass(frozen=True)
class RfCell:
    r: int
    f: int
    customers: int
    revenue: float | None
    segment: str  # the segment most of the cell's customers are in (M splits some cells)
    segment_share: float  # that segment's share of the cell


def rf_grid(con: duckdb.DuckDBPyConnection, monetary: bool) -> list[RfCell]:
    """Customers and net revenue per R x F score, with each cell's main segment (ties: the first by name)."""
    rows = con.execute(
        """WITH c AS (SELECT r_score, f_score, rfm_segment, count(*) AS n, sum(net_total) AS rev
                      FROM scores GROUP BY ALL)
           SELECT r_score, f_score, CAST(sum(n) AS BIGINT), sum(rev),
                  first(rfm_segment ORDER BY n DESC, rfm_segment), max(n)
           FROM c GROUP BY r_score, f_score ORDER BY r_score, f_score"""
    ).fetchall()
    return [
        RfCell(
            r=int(r),
            f=int(f),
            customers=int(n),
            revenue=round(float(rev), 2) if monetary and rev is not None else None,
            segment=str(seg),
            segment_share=round(int(top) / int(n), 4),
        )
        for r, f, n, rev, seg, top in rows
    ]


@dataclass(frozen=True)
class FunnelStep:
    orders: int  # customers reaching this many orders (the last step: this many or more)
    reached: int
    stopped: int  # customers whose order count is exactly this (the last step: all of them)
    stopped_lapsed: int  # of those, lapsed or churned today


LAPSED_STAGES = ("lapsed", "churned")


def order_funnel(con: duckdb.DuckDBPyConnection, steps: int = 4) -> list[FunnelStep]:
    """First order -> second -> ... -> ``steps`` or more, and how many stopped at each step and lapsed."""
    lapsed = ", ".join(f"'{s}'" for s in LAPSED_STAGES if s in stage_names())
    rows = dict(
        (int(k), (int(n), int(gone)))
        for k, n, gone in con.execute(
            f"""SELECT least(orders, {steps}) AS k, count(*),
                       count(*) FILTER (WHERE lifecycle_stage IN ({lapsed}))
                FROM scores GROUP BY k"""
        ).fetchall()
    )
    out = []
    for k in range(1, steps + 1):
        reached = sum(n for j, (n, _) in rows.items() if j >= k)
        stopped, gone = rows.get(k, (0, 0))
        out.append(FunnelStep(orders=k, reached=reached, stopped=stopped, stopped_lapsed=gone))
    return out


def winback_quantiles(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, order: list[str]
) -> list[tuple[str, int, tuple[float, float, float, float, float] | None]]:
    """Days from the as-of date to each customer's winback date (negative: already passed), per segment:
    (segment, customers with a date, p10/p25/median/p75/p90)."""
    rows = con.execute(
        """SELECT rfm_segment, count(winback_date),
                  quantile_cont(date_diff('day', $as_of::DATE, winback_date), [0.1, 0.25, 0.5, 0.75, 0.9])
           FROM scores GROUP BY rfm_segment""",
        {"as_of": as_of},
    ).fetchall()
    rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))
    out: list[tuple[str, int, tuple[float, float, float, float, float] | None]] = []
    for segment, n, q in rows:
        quantiles = None if not n or q is None else tuple(round(float(v), 1) for v in q)
        out.append((str(segment), int(n), quantiles))  # type: ignore[arg-type]
    return out
