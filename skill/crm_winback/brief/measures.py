"""What the documents need from the scored customers themselves, beyond the scorecard: the operator's own
definitions counted (lapse threshold, their existing segments), stages recounted on their lapse threshold, and
scores that hold more than half the customers.

Runs on the open ``scores`` table of a kept :class:`~crm_winback.scoring.score.Scored`; with only a scores
file (no customers) there is nothing to count and the documents say so.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from ..lifecycle import stage_names
from ..models.scores import ScorecardRow, SegmentOutlook
from ..scoring.predicted import outlook_rows
from ..scoring.score import Scored
from ..scoring.scorecard import build_scorecard
from ..workdb import first_row
from .context import Context

_DAYS = re.compile(r"(\d+)\s*\+?\s*days?", re.IGNORECASE)
_TOP = re.compile(r"top\s+(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
_ORDERS = re.compile(r"(\d+)\s*\+?\s*(?:or more\s+)?orders", re.IGNORECASE)


class OperatorCount(BaseModel):
    """One of the operator's own definitions, counted on the export (or why it could not be)."""

    name: str
    definition: str
    customers: int | None
    revenue_share: float | None
    rule: str  # the rule it was read as: field, operator and value of the rule language (segments define)
    maps_to: str  # our stage or segment of the same name, or "kept as yours"


class DropOut(BaseModel):
    """Where customers stop: of those whose first order is at least ``window_days`` old, how many ordered again."""

    window_days: int  # two repurchase cycles: time enough for a second order
    customers: int  # first order at least window_days before the as-of date
    second: int  # of them, customers with 2+ orders
    third: int  # of them, customers with 3+ orders


class Measures(BaseModel):
    lapse_days: int | None  # the operator's threshold, when given
    lapsed_customers: int | None  # customers with no order for lapse_days or more
    lapsed_revenue_share: float | None
    lapsed_revenue: float | None = None  # their net revenue over the export's history
    drop_out: DropOut | None = None
    stages: list[ScorecardRow] | None  # recounted on the operator's lapse threshold
    stage_outlook: list[SegmentOutlook] | None  # the model's estimates over the recounted stages
    operator: list[OperatorCount]
    crowded_scores: list[str]  # "M 5 holds 58% of customers ..." with what to do
    crosstab: dict[str, dict[str, int]]  # RFM segment -> lifecycle stage -> customers
    product_ideas: list[str] = []  # message ideas naming the shop's products (line-item exports only)


def read_definition(definition: str) -> tuple[str, str] | None:
    """(SQL condition on scores, rule in words) for a plain definition, or None when it cannot be read."""
    if m := _TOP.search(definition):
        share = float(m.group(1)) / 100
        if 0 < share < 1:
            # the spend of the customer at rank ceil(share x customers), highest first; ties at it are included
            cut = (
                "(SELECT min(net_total) FROM (SELECT net_total, row_number() OVER (ORDER BY net_total DESC) AS rn, "
                f"count(*) OVER () AS n FROM scores) WHERE rn <= ceil(n * {share!r}))"
            )
            return f"net_total >= {cut}", f"total_spent top_percent {m.group(1)}"
    if m := _ORDERS.search(definition):
        return f"orders >= {int(m.group(1))}", f"orders gte {int(m.group(1))}"
    if m := _DAYS.search(definition):
        return f"recency_days >= {int(m.group(1))}", f"recency_days gte {int(m.group(1))}"
    return None


def stage_sql(cycle: float, lapse: int) -> str:
    """The lifecycle stage on the operator's lapse threshold: lapsed from it, churned from twice it."""
    return (
        f"CASE WHEN recency_days >= {2 * lapse} THEN 'churned' WHEN recency_days >= {lapse} THEN 'lapsed' "
        f"WHEN recency_days > {cycle!r} THEN 'at-risk' ELSE lifecycle_stage END"
    )


def measure(scored: Scored, ctx: Context) -> Measures:
    """Count the operator's definitions; recount the stages when they gave a lapse threshold."""
    con, summary = scored.ingested.con, scored.summary
    names = {s.lower(): s for s in stage_names()} | {
        s.group.lower(): s.group for s in summary.scorecard.by_segment
    }
    total_rev = summary.scorecard.total.revenue

    def count(condition: str) -> tuple[int, float | None]:
        n, share, _revenue = count_value(condition)
        return n, share

    def count_value(condition: str) -> tuple[int, float | None, float | None]:
        row = first_row(con.execute(f"SELECT count(*), sum(net_total) FROM scores WHERE {condition}"))
        assert row is not None
        share = round(float(row[1] or 0) / total_rev, 4) if total_rev else None
        revenue = round(float(row[1]), 2) if row[1] is not None and summary.monetary_available else None
        return int(row[0]), share, revenue

    operator = []
    for seg in ctx.existing_segments or []:
        read = read_definition(seg.definition or "")
        mapped = names.get(seg.name.strip().lower())
        maps_to = f"our {mapped}" if mapped else "kept as yours"
        if read is None:
            operator.append(
                OperatorCount(
                    name=seg.name,
                    definition=seg.definition or "",
                    customers=None,
                    revenue_share=None,
                    rule="not readable: write it as a rule (crm-winback segments define)",
                    maps_to=maps_to,
                )
            )
            continue
        n, share = count(read[0])
        operator.append(
            OperatorCount(
                name=seg.name,
                definition=seg.definition or "",
                customers=n,
                revenue_share=share,
                rule=read[1],
                maps_to=maps_to,
            )
        )
    lapsed_n = lapsed_share = lapsed_revenue = None
    stages = None
    if ctx.lapse_days is not None:
        lapsed_n, lapsed_share, lapsed_revenue = count_value(f"recency_days >= {ctx.lapse_days}")
        con.execute(
            f"UPDATE scores SET lifecycle_stage = {stage_sql(summary.repurchase_cycle_days, ctx.lapse_days)}"
        )
        q = scored.quality
        card = build_scorecard(
            con,
            [s.group for s in summary.scorecard.by_segment],
            stage_names(),
            summary.monetary_available,
            "email_consent" in q.consent_columns,
            "sms_consent" in q.consent_columns,
        )
        stages = card.by_lifecycle
    stage_outlook = None
    columns = {r[0] for r in con.execute("DESCRIBE scores").fetchall()}
    model = summary.predictions
    if stages is not None and "p_alive" in columns and model is not None and model.overall is not None:
        stage_outlook = outlook_by_stage(scored)
    return Measures(
        lapse_days=ctx.lapse_days,
        lapsed_customers=lapsed_n,
        lapsed_revenue_share=lapsed_share,
        lapsed_revenue=lapsed_revenue,
        drop_out=drop_out(scored),
        stages=stages,
        stage_outlook=stage_outlook,
        operator=operator,
        crowded_scores=crowded(scored),
        crosstab=crosstab(scored),
        product_ideas=shop_product_ideas(scored),
    )


def shop_product_ideas(scored: Scored) -> list[str]:
    """Ideas that name the shop's own products, from the export's line items (none without them)."""
    if not scored.ingested.has_items:
        return []
    from ..products import product_ideas, product_insights

    return product_ideas(product_insights(scored.ingested.con, scored.ingested.as_of))


def drop_out(scored: Scored) -> DropOut:
    """First to second and second to third order, among customers who had two repurchase cycles to reorder."""
    window = max(1, round(2 * scored.summary.repurchase_cycle_days))
    row = first_row(
        scored.ingested.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE orders >= 2), count(*) FILTER (WHERE orders >= 3) "
            f"FROM scores WHERE tenure_days >= {window}"
        )
    )
    assert row is not None
    return DropOut(window_days=window, customers=int(row[0]), second=int(row[1]), third=int(row[2]))


def crowded(scored: Scored) -> list[str]:
    """Scores that hold more than half the customers, each with what to do."""
    con, summary = scored.ingested.con, scored.summary
    n = summary.customers
    out = []
    for dim, column in (("R", "r_score"), ("F", "f_score"), ("M", "m_score")):
        row = first_row(
            con.execute(
                f"SELECT {column}, count(*) AS k FROM scores WHERE {column} IS NOT NULL GROUP BY 1 "
                "ORDER BY k DESC, 1 LIMIT 1"
            )
        )
        if row is None or not n or row[1] * 2 <= n:
            continue
        fix = {
            "M": "the spend cut points do not fit this shop's order values; rescore with --method quantile or a "
            "--thresholds file scaled to your order values",
            "F": "most customers order at the same rate; rescore with --method quantile, or read F together "
            "with the lifecycle stage",
            "R": "most customers last ordered in the same band; rescore with --method quantile or set --as-of",
        }[dim]
        out.append(f"{dim} {row[0]} holds {row[1] / n * 100:.0f}% of customers ({row[1]:,} of {n:,}): {fix}")
    return out


def outlook_by_stage(scored: Scored) -> list[SegmentOutlook]:
    """The model's estimates per lifecycle stage, as the scoring computes them, over the stages as they are now."""
    return outlook_rows(scored.ingested.con, scored.summary.as_of, "lifecycle_stage", stage_names())


def crosstab(scored: Scored) -> dict[str, dict[str, int]]:
    """Customers by RFM segment and lifecycle stage (the stages as they are now), every pair that occurs."""
    out: dict[str, dict[str, int]] = {}
    for segment, stage, n in scored.ingested.con.execute(
        "SELECT rfm_segment, lifecycle_stage, count(*) FROM scores GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        out.setdefault(str(segment), {})[str(stage)] = int(n)
    return out
