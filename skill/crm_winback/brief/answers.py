"""The key questions (knowledge/red_flags.yaml), answered from the orders where the orders can answer them.

Three can be: the value gap between the top and bottom RFM segments (from the value-at-risk ranking's 12-month
revenue), where customers drop out (first to second, second to third order), and how early a customer at risk
can be spotted (the backtest's winback rules on the shop's own past). The others need data an orders export does
not hold (message tests, acquisition cost), so they stay questions for the operator, and say what to bring.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..api import ScoreResult
from ..models.backtest import BacktestReport
from .measures import DropOut, Measures
from .priority import ValueAtRisk


class KeyAnswer(BaseModel):
    question: str
    answer: str | None  # None: the orders cannot answer it; ``ask`` says what the operator should bring
    source: str
    ask: str


# question index in red_flags.yaml key_questions -> what the operator brings when the orders cannot answer
_ASK = [
    "give order data (--orders) to measure it",
    "give order data (--orders) to measure it; the reasons need a survey",
    "the orders cannot tell: run a holdout test per message and compare orders, not opens",
    "give order data (--orders) with a year of history so the backtest can run",
    "the orders cannot tell: bring acquisition spend and retention spend by channel",
]


def key_answers(
    questions: list[str],
    currency: str,
    data: ScoreResult | None,
    measures: Measures | None,
    risk: ValueAtRisk | None,
) -> list[KeyAnswer]:
    """Each key question with its answer from the data (or None) and where it came from."""
    found: list[tuple[str | None, str]] = [
        value_gap(risk, currency),
        dropout(measures.drop_out if measures else None),
        (None, ""),
        early_warning(data),
        (None, ""),
    ]
    out = []
    for i, question in enumerate(questions):
        answer, source = found[i] if i < len(found) else (None, "")
        ask = _ASK[i] if i < len(_ASK) else "the orders cannot tell: ask the team"
        out.append(KeyAnswer(question=question, answer=answer, source=source, ask="" if answer else ask))
    return out


def value_gap(risk: ValueAtRisk | None, currency: str) -> tuple[str | None, str]:
    rows = [row for row in risk.rows if row.customers] if risk is not None else []
    if len(rows) < 2:
        return None, ""
    top = max(rows, key=lambda x: (x.revenue_per_customer, x.segment))
    bottom = min(rows, key=lambda x: (x.revenue_per_customer, x.segment))
    if bottom.revenue_per_customer <= 0:
        times = "the bottom segment brings no revenue"
    else:
        times = f"{top.revenue_per_customer / bottom.revenue_per_customer:,.1f}x"
    return (
        f"{top.segment} {top.revenue_per_customer:,.2f} {currency} a year per customer against "
        f"{bottom.segment} {bottom.revenue_per_customer:,.2f} {currency}: a gap of "
        f"{top.revenue_per_customer - bottom.revenue_per_customer:,.2f} {currency} ({times})",
        f"12-month revenue per customer of the value-at-risk ranking ({risk.revenue_source if risk else ''})",
    )


def dropout(d: DropOut | None) -> tuple[str | None, str]:
    if d is None or not d.customers:
        return None, ""
    first = 1 - d.second / d.customers
    second = 1 - d.third / d.second if d.second else None
    text = (
        f"between the first and second order: {first * 100:.1f}% of customers never ordered again "
        f"({d.customers - d.second:,} of {d.customers:,})"
    )
    if second is not None:
        text += (
            f"; of those with a second order, {second * 100:.1f}% stopped before a third "
            f"({d.second - d.third:,} of {d.second:,})"
        )
        if second < first:
            text += ": the first repeat order loses the larger share, so the welcome and second-order flows come first"
        else:
            text += ": the second repeat order loses as large a share or larger, so the post-purchase flow matters as much"
    text += ". Why they stop is not in the orders: ask it with the re-engagement flow's one-question survey"
    return text, f"customers whose first order is {d.window_days}+ days old (two repurchase cycles)"


def early_warning(data: ScoreResult | None) -> tuple[str | None, str]:
    model = data.scoring.predictions if data is not None else None
    bt: BacktestReport | None = model.backtest if model is not None else None
    if bt is None or bt.status != "done":
        return None, ""
    rules = [w for w in bt.winback if w.group == "all customers" and w.precision is not None]
    # the fixed rules and the forecasting model, whose dates the documents show; the others are in the backtest
    shown = f"{bt.forecaster or 'BG/NBD'}:"
    rules = [
        w
        for w in rules
        if w.median_days_silent_at_flag is not None
        and ("P(active)" not in w.rule or w.rule.startswith(shown))
    ]
    if not rules:
        return None, ""
    rules.sort(key=lambda w: (w.median_days_silent_at_flag or 0, w.rule))
    parts = [
        f"{w.rule}: flagged after {w.median_days_silent_at_flag:,.0f} days without an order, and "
        f"{(w.precision or 0) * 100:.0f}% of those flagged then ordered nothing"
        for w in rules
    ]
    return (
        "on the shop's past - "
        + "; ".join(parts)
        + ". Which intervention worked is not in the orders: read it from each flow's holdout group",
        f"the backtest: orders up to {bt.calibration_end}, checked over the next {bt.holdout_days} days",
    )
