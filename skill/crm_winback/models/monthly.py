"""Seed 001's monthly CRM report with its actuals from the orders (built, and defined, in crm_winback.monthly)."""

from __future__ import annotations

import datetime as dt

from . import StrictModel
from .cohorts import CohortRow


class MonthFigures(StrictModel):
    """One month's numbers; rates are 0..1 fractions."""

    month: str  # YYYY-MM
    start: dt.date  # the day before the month
    end: dt.date  # the month's last day, or the data's last day when the month is not over
    live_at_start: int  # customers not churned at the start (the base retention is measured on)
    lost: int  # of them, churned by the end (more than 4 repurchase cycles without an order)
    churn_rate: float | None
    retention_rate: float | None
    base_ordered: int  # of the base, customers who ordered in the month
    reactivated: int  # churned at the start, ordered in the month
    new_customers: int  # first order in the month
    customers_ordering: int
    orders: int
    revenue: float | None  # net
    aov: float | None
    avg_spend_to_date: float | None  # historic LTV: net spend per customer, all orders to the end


class SummaryRow(StrictModel):
    metric: str
    kind: str  # rate (0..1), money or count: how the template writes the numbers
    actual: float | None
    previous: float | None
    delta: float | None  # actual - previous (for a rate, in points of 0..1)


class SegmentTrend(StrictModel):
    group: str
    customers: int
    previous: int
    trend: str  # ↑ ↓ →
    action: str


class MonthlyReport(StrictModel):
    month: str
    partial: bool  # the data ends before the month does
    repurchase_cycle_days: float
    summary: list[SummaryRow]
    this_month: MonthFigures
    previous_month: MonthFigures | None  # None when the data starts too late to measure it
    segments: list[SegmentTrend]
    stages: list[SegmentTrend]
    cohorts: list[CohortRow]
    notes: list[str]
