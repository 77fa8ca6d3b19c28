"""Acquisition-month cohorts: how many customers each month brought, how many came back, what they spent.

Definitions (over the ``orders`` table the ingest step builds, i.e. purchases on or before the as-of date):

- A customer's **cohort** is the calendar month of their first order, written ``YYYY-MM``.
- The **month offset** of an order is the number of calendar months between the cohort month and the order's
  month: ``(year - cohort_year) * 12 + (month - cohort_month)``. An order placed in the acquisition month has
  offset 0, one in the next calendar month offset 1, and so on. A second order in the acquisition month is not
  a return in month 1.
- **Retention at month k** (``m1``, ``m2``, ``m3``, ``m6``, ``m12``) is the share of the cohort's customers
  with at least one order at offset exactly k (a 0..1 fraction, not a percent, and not cumulative).
- Month k of a cohort is **observed** only when that calendar month has ended on or before the as-of date;
  otherwise its retention is ``None`` ("not known yet"), never 0. A month cut off by the as-of date would
  understate retention, so it is left out too.
- **Revenue** is the cohort's net order value (``orders.net``) over all its orders up to the as-of date;
  ``None`` when the export has no amounts.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from .models.cohorts import CohortRow, CohortTable
from .workdb import first_row

RETENTION_MONTHS = (1, 2, 3, 6, 12)


def _month_end(year: int, month: int) -> dt.date:
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def observed(cohort: str, k: int, as_of: dt.date) -> bool:
    """Whether month offset ``k`` of ``cohort`` (``YYYY-MM``) has ended on or before ``as_of``."""
    year, month = (int(x) for x in cohort.split("-"))
    index = year * 12 + (month - 1) + k
    return _month_end(index // 12, index % 12 + 1) <= as_of


# One row per customer and month offset k since their first order (k = 0: the first order's month, which every
# customer has), with the net value ordered then, for the cohort table (build_cohorts). Counting these rows per
# cohort and offset counts customers, without the per-group hash sets of count(DISTINCT ...) per offset: on the
# 10M-line bench file a heat map counted that way took 27 s and most of 6 GB. retention_by_month counts the
# same rows from the purchase days. Parameters: the as-of date, twice.
_CUSTOMER_MONTHS = """WITH firsts AS (SELECT customer_id, min(order_date) AS first_date FROM orders
                                WHERE order_date <= ? GROUP BY customer_id),
                 o AS (SELECT o.customer_id, o.net, strftime(f.first_date, '%Y-%m') AS cohort,
                              (year(o.order_date) - year(f.first_date)) * 12
                                + month(o.order_date) - month(f.first_date) AS k
                       FROM orders o JOIN firsts f USING (customer_id) WHERE o.order_date <= ?),
                 ck AS (SELECT cohort, k, sum(net) AS net FROM o GROUP BY customer_id, cohort, k)"""


def build_cohorts(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> CohortTable:
    """Cohort table over ``orders`` in ``con``; ``as_of`` defaults to the latest order date."""
    if as_of is None:
        row = first_row(con.execute("SELECT max(order_date) FROM orders"))
        as_of = row[0] if row else None
    if as_of is None:
        return CohortTable(as_of=None, months=list(RETENTION_MONTHS), rows=[])
    counts = ", ".join(f"count(*) FILTER (WHERE k = {k}) AS m{k}" for k in RETENTION_MONTHS)
    rows = con.execute(
        f"""{_CUSTOMER_MONTHS}
            SELECT cohort, count(*) FILTER (WHERE k = 0) AS customers, {counts},
                   CAST(sum(net) AS DOUBLE) AS revenue
            FROM ck GROUP BY cohort ORDER BY cohort""",
        [as_of, as_of],
    ).fetchall()
    result = []
    for cohort, customers, *retained, revenue in rows:
        shares: dict[str, float | None] = {}
        for k, n in zip(RETENTION_MONTHS, retained, strict=True):
            shares[f"m{k}"] = round(n / customers, 4) if observed(cohort, k, as_of) else None
        result.append(
            CohortRow(
                cohort=cohort,
                customers=customers,
                revenue=round(revenue, 2) if revenue is not None else None,
                **shares,
            )
        )
    return CohortTable(as_of=as_of, months=list(RETENTION_MONTHS), rows=result)


def retention_by_month(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, days: str, months: int = 12
) -> list[tuple[str, int, list[float | None]]]:
    """Every month offset 1..``months`` of every cohort: (cohort, customers, shares), by the definitions above.

    The heat map's rows; offsets 1, 2, 3, 6 and 12 equal :func:`build_cohorts`' m1..m12. Read from ``days``,
    the purchase days of the orders (crm_winback.predict.summary.purchase_days: one row per customer and order
    date, ``gap_days`` NULL on the first), which the report keeps instead of the lines: a purchase day falls in
    one month, and a customer's first is marked, so the counts are those of the orders without grouping them
    per customer to find the first order.
    """
    counts = ", ".join(f"count(*) FILTER (WHERE k = {k})" for k in range(1, months + 1))
    rows = con.execute(
        f"""WITH firsts AS (SELECT customer_id, order_date AS first_date FROM {days}
                            WHERE gap_days IS NULL AND customer_id IS NOT NULL AND order_date <= $as_of),
                 ck AS (SELECT strftime(f.first_date, '%Y-%m') AS cohort,
                               (year(d.order_date) - year(f.first_date)) * 12
                                 + month(d.order_date) - month(f.first_date) AS k
                        FROM {days} d JOIN firsts f USING (customer_id) WHERE d.order_date <= $as_of
                        GROUP BY d.customer_id, cohort, k)
            SELECT cohort, count(*) FILTER (WHERE k = 0), {counts} FROM ck GROUP BY cohort ORDER BY cohort""",
        {"as_of": as_of},
    ).fetchall()
    return [
        (
            cohort,
            customers,
            [
                round(n / customers, 4) if observed(cohort, k, as_of) else None
                for k, n in enumerate(retained, start=1)
            ],
        )
        for cohort, customers, *retained in rows
    ]
