"""Per-customer (x, t_x, T, zbar, litt) summaries for the models, built in SQL from the ``orders`` table.

Orders on the same day are one purchase (their values summed), as in the CDNOW summaries the published
results use: x counts purchase days after the first, t_x is the time from the first to the last purchase day,
T the time from the first purchase day to the end of the period, zbar the mean value of the repeat purchase
days (the first purchase is left out of zbar, as the Gamma-Gamma model of repeat spend expects), litt the sum
of the logs of the x gaps between consecutive purchase days (0 for x = 0), which the MBG/CNBD-k model of regular
buyers needs (BTYDplus ``elog2cbs``). Times are whole days converted to the requested unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import duckdb
import numpy as np
from numpy.typing import NDArray

from crm_winback import workdb
from crm_winback.errors import DataError
from crm_winback.predict.fitting import DAYS_PER_UNIT, Grouped, TimeUnit, check_time_unit, group_rows
from crm_winback.workdb import first_row, has_table

SUMMARY_TABLE = "predict_summary"
LOG_STEPS = 2.0**48  # the logs of the gaps are summed as whole multiples of 1 / LOG_STEPS (see summarize)
DAYS_TABLE = "predict_purchase_days"
DAY_PART_ROWS = 2_500_000  # rows of orders grouped into purchase days at a time (see purchase_days)


def purchase_days(con: duckdb.DuckDBPyConnection) -> str:
    """Build (once per connection) and name the table of purchase days: one row per customer and order date with
    the day's value, its number of orders and the days since the customer's previous purchase day (NULL for the
    first).

    Every summary, split and holdout count reads it instead of ``orders``: the ``orders`` view over a large file
    is then read once, and the one window over all of it serves every end date (a purchase day's previous day
    does not depend on later orders). Rows without a customer id are kept (customer_id NULL) for the shop-level
    mean purchase value; the per-customer queries leave them out.
    """
    # not CREATE ... IF NOT EXISTS: DuckDB binds its query first, and ``orders`` may be gone by then
    if has_table(con, DAYS_TABLE):
        return DAYS_TABLE
    # A large file is grouped in parts, a set of customers (by a hash of the id) per part: each part's hash table
    # is a fraction of the whole one, and a customer's days are all in one part, so the window sees them all.
    # At 10M lines, four parts took the build's peak from ~1.0 GB above the tables to ~0.5 GB, in the same time.
    parts = _day_parts(con)
    for part in range(parts):
        which = "" if parts == 1 else f"AND hash(customer_id) % {parts} = {part}"
        start = f"CREATE TEMP TABLE {DAYS_TABLE} AS" if part == 0 else f"INSERT INTO {DAYS_TABLE}"
        con.execute(
            f"""{start}
                WITH days AS (  -- summed as decimals: the same bits whatever order the threads add them in
                    SELECT customer_id, order_date, CAST(sum(net) AS DECIMAL(18, 4)) AS value,
                           CAST(count(*) AS INTEGER) AS n_orders
                    FROM orders WHERE order_date IS NOT NULL {which} GROUP BY customer_id, order_date)
                SELECT customer_id, order_date, value, n_orders,
                       CAST(date_diff('day', lag(order_date) OVER (PARTITION BY customer_id ORDER BY order_date),
                                      order_date) AS INTEGER) AS gap_days
                FROM days"""
        )
    return DAYS_TABLE


def _day_parts(con: duckdb.DuckDBPyConnection) -> int:
    """How many parts the purchase days are grouped in: one per DAY_PART_ROWS rows of the table under ``orders``
    (the lines, or the orders table of a file of line items), from the engine's own row count (no scan)."""
    found = first_row(
        con.execute(
            """SELECT max(estimated_size) FROM duckdb_tables()
               WHERE table_name IN ('lines', 'orders') AND NOT temporary"""
        )
    )
    rows = int(found[0]) if found and found[0] is not None else 0
    return max(1, -(-rows // DAY_PART_ROWS))


@dataclass(frozen=True)
class RfmSummary:
    """One row per customer with a purchase on or before ``end``, in the order of the table's ``row`` column.

    ``table`` names the DuckDB table holding the same rows with customer_id, first_order_date and
    last_order_date, for joining results back by ``row``.
    """

    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]
    zbar: NDArray[np.float64]
    end: dt.date
    time_unit: TimeUnit
    table: str
    litt: NDArray[np.float64]
    """Sum over the customer's x inter-purchase gaps of log(gap), gaps in ``time_unit``; 0 when x = 0."""

    @property
    def customers(self) -> int:
        return len(self.x)

    @cached_property
    def rows(self) -> Grouped:
        """The distinct (x, t_x, T) rows, the customers each stands for, and each customer's row (``inverse``).

        Every model's per-customer numbers depend on (x, t_x, T) alone; the backtest, the churn ranking, the fits
        and the forecasts all read this one grouping, made once per summary.
        """
        scale = DAYS_PER_UNIT[self.time_unit]
        days = [self.x.astype(np.int64), np.rint(self.t_x * scale).astype(np.int64)]
        days.append(np.rint(self.T * scale).astype(np.int64))
        units = (1.0, scale, scale)
        if all(
            np.array_equal(d / u, v) for d, u, v in zip(days, units, (self.x, self.t_x, self.T), strict=True)
        ):
            # whole days, as summarize builds them: grouped as integers (a lookup, no sort per column), then
            # given back in the summary's unit
            return group_rows(days, None).in_units(units)
        return group_rows([self.x, self.t_x, self.T], None)


def summarize(
    con: duckdb.DuckDBPyConnection,
    end: dt.date,
    time_unit: TimeUnit,
    table: str = SUMMARY_TABLE,
    customers: str | None = None,
    totals: bool = True,
) -> RfmSummary:
    """Build ``table`` from the orders on or before ``end`` and return its columns as arrays; with
    ``customers``, of the customers whose ids that table holds only (a sample). ``totals``: the table has each
    customer's orders and net total too (the predict command's table and the backtest's stages read them;
    two sums fewer take a fifth off the aggregation's memory at 2.3M customers)."""
    unit = check_time_unit(time_unit)
    days = purchase_days(con)
    among = "" if customers is None else f"AND customer_id IN (SELECT customer_id FROM {customers})"
    # values are summed as decimals and the logs as whole multiples of 2^-48 (LOG_STEPS; each log within
    # 2e-15 of its double), so the engine's threads can add them in any order and give the same bits every run:
    # a sum of doubles depends on that order. Integer sums cost no more than double ones; 128-bit decimals did.
    # rows are numbered in customer-id order by row_number() OVER () over the sorted groups: a parallel sort,
    # then a numbering DuckDB runs in one thread in the order the rows arrive (a streaming window keeps a fixed
    # order); row_number() OVER (ORDER BY customer_id) sorted them in a window, ~0.6 s more on 2.3M customers
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT row_number() OVER () - 1 AS row, * FROM (
            SELECT customer_id,
                   min(order_date) AS first_order_date, max(order_date) AS last_order_date,
                   count(*) - 1 AS x,
                   date_diff('day', min(order_date), max(order_date)) AS t_x_days,
                   date_diff('day', min(order_date), $end::DATE) AS T_days,
                   coalesce(avg(value) FILTER (WHERE gap_days IS NOT NULL), 'NaN'::DOUBLE) AS zbar,
                   coalesce(CAST(sum(CAST(round(ln(gap_days) * {LOG_STEPS}) AS BIGINT))
                                 FILTER (WHERE gap_days IS NOT NULL) AS DOUBLE) / {LOG_STEPS}, 0.0) AS litt_days
                   {", sum(n_orders) AS orders, sum(value) AS net_total" if totals else ""}
            FROM {days} WHERE order_date <= $end AND customer_id IS NOT NULL {among} GROUP BY customer_id
            ORDER BY customer_id)""",
        {"end": end},
    )
    workdb.release_freed_memory()  # the aggregation's memory, before its result is read into arrays
    return summary_of_table(con, table, end, unit)


def summary_of_table(con: duckdb.DuckDBPyConnection, table: str, end: dt.date, unit: TimeUnit) -> RfmSummary:
    """The :class:`RfmSummary` of a summary table (row, customer_id, first/last order date, x, t_x_days, T_days,
    zbar, litt_days, orders, net_total), built by :func:`summarize` or from a summary file."""
    columns = con.execute(
        f"SELECT x, t_x_days, T_days, zbar, litt_days FROM {table} ORDER BY row"
    ).fetchnumpy()
    if len(columns["x"]) == 0:
        raise DataError(f"no customer has an order on or before {end}; pick a later date")
    scale = DAYS_PER_UNIT[unit]
    x = np.asarray(columns["x"], dtype=np.float64)
    return RfmSummary(
        x=x,
        t_x=np.asarray(columns["t_x_days"], dtype=np.float64) / scale,
        T=np.asarray(columns["T_days"], dtype=np.float64) / scale,
        zbar=np.asarray(columns["zbar"], dtype=np.float64),
        end=end,
        time_unit=unit,
        table=table,
        # log(gap_days / scale) summed over the x gaps
        litt=np.asarray(columns["litt_days"], dtype=np.float64) - x * np.log(scale),
    )


def holdout_purchases(
    con: duckdb.DuckDBPyConnection, summary: RfmSummary, holdout_end: dt.date
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Purchase days and their mean value per summary customer after ``summary.end`` up to ``holdout_end``.

    Aligned with the summary's rows; the mean value is NaN for customers with no holdout purchase.
    """
    purchases, mean_value, _ = holdout_outcomes(con, summary, holdout_end)
    return purchases, mean_value


def holdout_outcomes(
    con: duckdb.DuckDBPyConnection, summary: RfmSummary, holdout_end: dt.date
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`holdout_purchases`, and the days from ``summary.end`` to each customer's first purchase in the
    holdout (inf for none), from one pass over the purchase days."""
    days = purchase_days(con)
    columns = con.execute(
        f"""WITH per_customer AS (
                SELECT customer_id, count(*) AS purchases, avg(value) AS mean_value,
                       date_diff('day', $start::DATE, min(order_date)) AS first_back
                FROM {days} WHERE order_date > $start AND order_date <= $end
                    AND customer_id IN (SELECT customer_id FROM {summary.table}) GROUP BY customer_id)
            SELECT coalesce(p.purchases, 0) AS purchases, coalesce(p.mean_value, 'NaN'::DOUBLE) AS mean_value,
                   coalesce(p.first_back, -1) AS first_back
            FROM {summary.table} s LEFT JOIN per_customer p USING (customer_id) ORDER BY s.row""",
        {"start": summary.end, "end": holdout_end},
    ).fetchnumpy()
    first_back = np.asarray(columns["first_back"], dtype=np.float64)
    return (
        np.asarray(columns["purchases"], dtype=np.float64),
        np.asarray(columns["mean_value"], dtype=np.float64),
        np.where(first_back < 0, np.inf, first_back),
    )
