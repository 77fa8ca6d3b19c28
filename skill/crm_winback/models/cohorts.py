"""The acquisition-month cohort table (built, and its columns defined, in crm_winback.cohorts)."""

from __future__ import annotations

import datetime as dt

from . import StrictModel


class CohortRow(StrictModel):
    cohort: str
    customers: int
    m1: float | None
    m2: float | None
    m3: float | None
    m6: float | None
    m12: float | None
    revenue: float | None


class CohortTable(StrictModel):
    as_of: dt.date | None
    months: list[int]
    rows: list[CohortRow]
