"""Seed 001's monthly CRM report, counted from the orders.

tests/data/monthly_orders.csv, hand-counted for June 2024. Fewer than 30 repeat customers, so the repurchase
cycle is the default 90 days: at-risk past 90 days without an order, lapsed past 180, churned past 360.
At 2024-05-31: A churned (2023-01-10, 507 days), C lapsed (346), D at-risk (91), F at-risk (137), B new.
At 2024-06-30: C churned (376 days), F at-risk (167), B new (41), E new, A and D active (ordered in June).
"""

from __future__ import annotations

import datetime as dt

import pytest

from crm_winback.cli import main
from crm_winback.errors import InputError
from crm_winback.ingest import IngestOptions
from crm_winback.monthly import monthly_report, parse_month

from .paths import DATA, TODAY

ORDERS = DATA / "monthly_orders.csv"


@pytest.fixture(scope="module")
def june():  # type: ignore[no-untyped-def]
    return monthly_report(ORDERS, "2024-06", IngestOptions(today=TODAY))


def test_retention_and_churn_are_measured_on_the_base_at_the_start(june) -> None:  # type: ignore[no-untyped-def]
    m = june.this_month
    assert (m.start, m.end, june.partial, june.repurchase_cycle_days) == (
        dt.date(2024, 5, 31), dt.date(2024, 6, 30), False, 90.0,
    )  # fmt: skip
    # base B C D F (A is churned); C churns in June; D ordered; A came back; E is new
    assert (m.live_at_start, m.lost, m.churn_rate, m.retention_rate) == (4, 1, 0.25, 0.75)
    assert (m.base_ordered, m.reactivated, m.new_customers, m.customers_ordering) == (1, 1, 1, 3)
    # June: A 50, D 40 + 40, E 200; to date 640 over A B C D E F (G's July order is after the month)
    assert (m.orders, m.revenue, m.aov, m.avg_spend_to_date) == (4, 330.0, 82.5, 106.67)


def test_the_month_before_is_counted_the_same_way(june) -> None:  # type: ignore[no-untyped-def]
    p = june.previous_month
    # at 2024-04-30: A churned, C lapsed, D new, F at-risk; nobody churns in May; B is new
    assert (p.month, p.live_at_start, p.lost, p.churn_rate, p.new_customers, p.orders, p.revenue) == (
        "2024-05", 3, 0, 0.0, 1, 1, 80.0,
    )  # fmt: skip
    assert p.avg_spend_to_date == 62.0  # 310 over A B C D F
    rows = {r.metric: (r.actual, r.previous, r.delta) for r in june.summary}
    assert rows["Churn rate"] == (0.25, 0.0, 0.25)
    assert rows["Revenue (net)"] == (330.0, 80.0, 250.0)


def test_segment_health_has_the_trend_against_the_start(june) -> None:  # type: ignore[no-untyped-def]
    assert [(s.group, s.customers, s.previous, s.trend) for s in june.stages] == [
        ("churned", 1, 1, "→"), ("lapsed", 0, 1, "↓"), ("at-risk", 1, 2, "↓"), ("new", 2, 1, "↑"),
        ("VIP", 0, 0, "→"), ("active", 2, 0, "↑"),
    ]  # fmt: skip
    assert sum(s.customers for s in june.segments) == 6 and sum(s.previous for s in june.segments) == 5
    d = next(c for c in june.cohorts if c.cohort == "2024-03")  # D: back in June, month 3
    assert (d.m1, d.m2, d.m3, d.m6) == (0.0, 0.0, 1.0, None)


def test_a_month_not_over_is_measured_to_the_data_end_and_said() -> None:
    july = monthly_report(ORDERS, "2024-07", IngestOptions(today=TODAY))
    assert july.partial and july.this_month.end == dt.date(2024, 7, 2)
    assert july.notes == [
        "the data ends on 2024-07-02: 2024-07 is not over, its figures cover 2024-07-01 to 2024-07-02"
    ]
    assert (july.this_month.new_customers, july.this_month.revenue) == (1, 30.0)  # G


@pytest.mark.parametrize(
    ("month", "message"),
    [
        (
            "2023-01",
            "--month 2023-01: the data starts on 2023-01-10; the report needs orders before the month",
        ),
        ("2024-08", "--month 2024-08: the data ends on 2024-07-02; pick 2024-07 or earlier"),
        ("2024-13", "--month 2024-13: write the month as YYYY-MM, e.g. 2011-11"),
        ("June", "--month June: write the month as YYYY-MM"),
    ],
)
def test_a_month_outside_the_data_is_refused_with_the_fix(month: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        monthly_report(ORDERS, month, IngestOptions(today=TODAY))


def test_parse_month_gives_first_and_last_day() -> None:
    assert parse_month("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert parse_month("2023-12") == (dt.date(2023, 12, 1), dt.date(2023, 12, 31))


def test_cli_monthly_markdown_fills_actuals_and_leaves_email_to_the_operator(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["monthly", str(ORDERS), "--month", "2024-06"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## CRM Performance Report: 2024-06\n")
    assert "| Churn rate | (your target) | 25.0% | 0.0% | 25.0% |" in out
    assert "| Revenue (net) | (your target) | 330.00 | 80.00 | 250.00 |" in out
    assert "| Welcome | | | | |" in out and "| Hibernating | 1 | 2 | ↓ |" in out
