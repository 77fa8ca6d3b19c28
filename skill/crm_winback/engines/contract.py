"""The per-customer summary contract (version 1): the one table an engine must produce for scoring.

Everything after it (cut points, segments, lifecycle, scorecard, model fits) runs locally on this table,
which is small: one row per customer with a purchase on or before the as-of date. The contract is plain data
(names, types, meaning) so the Ibis expression, the summary-file reader and the documentation share it.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTRACT_VERSION = 1

# Money is summed as DECIMAL(18, 4): summed as DOUBLE, 17-18 of 2.5M customers land in another M quintile.
MONEY_TYPE = "DECIMAL(18, 4)"


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # the DuckDB type the summary file's column is read as
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "VARCHAR", "the customer key (trimmed; values with an @ lower-cased)"),
    Column("first_order_date", "DATE", "first purchase date (local date in the stated time zone)"),
    Column("last_order_date", "DATE", "last purchase date"),
    Column("orders", "BIGINT", "purchases (orders with a value >= 0 or no value; returns are not orders)"),
    Column("purchase_days", "BIGINT", "distinct purchase dates"),
    Column("gross_total", MONEY_TYPE, "sum of the purchases' values"),
    Column("net_total", MONEY_TYPE, "gross less refunds and returns (negative orders)"),
    Column("median_days_between", "DOUBLE", "exact median of the days between consecutive purchase dates"),
    Column("x", "BIGINT", "repeat purchase days (purchase_days - 1), the models' frequency"),
    Column("t_x", "BIGINT", "days from the first to the last purchase date, the models' recency"),
    Column("T", "BIGINT", "days from the first purchase date to the as-of date, the models' age"),
    Column("repeat_value", MONEY_TYPE, "net value of the repeat purchase days (the first day left out)"),
    Column("litt", "DOUBLE", "sum of the logs of the gaps between purchase days (MBG/CNBD-k)"),
    Column("email", "VARCHAR", "latest non-empty email"),
    Column("phone", "VARCHAR", "latest non-empty phone"),
    Column("first_name", "VARCHAR", "latest non-empty first name"),
    Column("last_name", "VARCHAR", "latest non-empty last name"),
    Column("email_consent", "BOOLEAN", "the latest order's email consent (on a tie, no wins)"),
    Column("sms_consent", "BOOLEAN", "the latest order's SMS consent (on a tie, no wins)"),
)
NAMES = tuple(c.name for c in COLUMNS)
CONTACT_COLUMNS = NAMES[-6:]

# The second part of the contract: the gap histogram over all customers. The shop's repurchase cycle is the median
# of every gap between purchase days pooled over all customers, which per-customer medians cannot rebuild.
GAP_COLUMNS: tuple[Column, ...] = (
    Column("gap_days", "BIGINT", "days between two consecutive purchase days of a customer"),
    Column("n", "BIGINT", "how many such gaps, over all customers, are gap_days long"),
)
GAP_NAMES = tuple(c.name for c in GAP_COLUMNS)

# The third part, for the backtest (score --summary --predict): the summary's columns at a calibration end,
# without contacts, and what each customer did in the holdout after it, up to the as-of date; with the shop's
# repurchase cycle at the calibration end (the median of the gap histogram then), which the lifecycle stages at
# the split read. It holds every input the backtest reads: the models' x, t_x, T, litt and repeat value, the
# lifecycle stage's recency, orders and spend, and the outcome. One row per customer with a purchase on or
# before the calibration end.
BACKTEST_COLUMNS: tuple[Column, ...] = (
    *(c for c in COLUMNS if c.name not in CONTACT_COLUMNS),
    Column(
        "holdout_purchase_days", "BIGINT", "purchase days after the calibration end, up to the as-of date"
    ),
    Column(
        "first_holdout_day", "BIGINT", "days from the calibration end to the first of them; empty if none"
    ),
    Column(
        "cycle_days",
        "DOUBLE",
        "the median of every gap between purchase days up to the calibration end, over all customers (the "
        "same on every row; empty when nobody had bought twice)",
    ),
)
BACKTEST_NAMES = tuple(c.name for c in BACKTEST_COLUMNS)
PARTS = ("summary", "gaps", "backtest")  # crm-winback sql --part

# The roles a source table's columns can be mapped to (``--map role=column``).
REQUIRED_ROLES = ("customer", "date")
ROLES = (
    "customer", "date", "amount", "quantity", "unit_price", "order_id", "refunded_amount",
    "email", "phone", "first_name", "last_name", "email_consent", "sms_consent",
)  # fmt: skip
