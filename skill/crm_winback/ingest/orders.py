"""From ``lines`` to orders, customers, contact details and purchase items (tables in the ingest connection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb

from ..errors import InputError
from .lines import line_col

# Which rows of the ``classified`` view are purchases (the ``orders``) and which are returns (``returns``);
# the quality report counts the purchases with the same condition.
PURCHASE_ROW = "exclusion IS NULL AND (gross IS NULL OR gross >= 0)"
RETURN_ROW = "exclusion IS NULL AND gross < 0"

CONTACT_TYPES = {
    "email": "VARCHAR", "phone": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
    "email_consent": "BOOLEAN", "sms_consent": "BOOLEAN",
}  # fmt: skip
CONTACT_ROLES = tuple(CONTACT_TYPES)


def has_contacts(m: Mapping[str, str]) -> bool:
    return any(role in m for role in CONTACT_ROLES)


def with_contacts(m: Mapping[str, str]) -> tuple[str, str]:
    """The FROM clause giving each row of ``customers c`` its contact columns, and their SELECT list.

    Without contact columns in the export the columns are typed NULLs, and there is nothing to join.
    """
    if not has_contacts(m):
        return "customers c", ", ".join(f"NULL::{typ} AS {name}" for name, typ in CONTACT_TYPES.items())
    contacts = ", ".join(f"i.{name}" for name in CONTACT_ROLES)
    return "customers c LEFT JOIN customer_info i USING (customer_id)", contacts


def build_customer_info(con: duckdb.DuckDBPyConnection, m: Mapping[str, str], as_of: dt.date) -> None:
    """Per customer, the contact details and consent of their latest order (ties: consent false wins)."""
    if not has_contacts(m):
        columns = ", ".join(f"{name} {typ}" for name, typ in CONTACT_TYPES.items())
        con.execute(f"CREATE TABLE customer_info (customer_id VARCHAR, {columns})")
        return
    c = {name: line_col(con, name) for name in CONTACT_ROLES}
    latest = {
        name: f"arg_max({c[name]}, order_date) FILTER (WHERE {c[name]} IS NOT NULL)"
        for name in CONTACT_ROLES[:4]
    }
    # consent: the latest order's answer; on a tie, "no" wins
    for name in ("email_consent", "sms_consent"):
        latest[name] = f"arg_max({c[name]}, (order_date, NOT {c[name]})) FILTER (WHERE {c[name]} IS NOT NULL)"
    select = ", ".join(f"{expr} AS {name}" for name, expr in latest.items())
    con.execute(
        f"""CREATE TABLE customer_info AS SELECT customer_id, {select}
           FROM lines WHERE customer_id IS NOT NULL AND order_date <= ?
           GROUP BY customer_id""",
        [as_of],
    )


def build_customers(con: duckdb.DuckDBPyConnection, has_returns: bool) -> None:
    """The per-customer summary: dates, orders, purchase days and the gaps between them, gross and net.

    ``gaps`` are the days between consecutive distinct purchase days (the quality report pools them, then the
    column is dropped: :func:`drop_gaps`), ``median_days_between`` their median (the scores' column). Each
    customer's dates are collected and sorted once; first and last date and the order count are read off that
    list rather than kept as three more aggregates (~0.3 s less on 10M orders). Without refunds net is gross,
    and one sum serves both (a second sum costs ~10% on 10M orders); without returns there is nothing to join
    (~0.2 s).
    """
    net = "sum(net)" if line_col(con, "refunded") == "refunded" else "sum(gross)"
    returned, ret = "0", ""
    if has_returns:
        returned = "coalesce(returned, 0)"
        ret = "LEFT JOIN (SELECT customer_id, sum(value) AS returned FROM returns GROUP BY customer_id) USING (customer_id)"
    con.execute(
        f"""CREATE TABLE customers AS
           WITH agg AS (
               SELECT customer_id, list_sort(list(order_date)) AS days,
                      sum(gross) AS gross_total, {net} AS net_orders
               FROM orders GROUP BY customer_id),
           spaced AS (
               SELECT customer_id, days[1] AS first_order_date, days[-1] AS last_order_date, len(days) AS orders,
                      list_filter(list_transform(days[2:], lambda day, i: day - days[i]), lambda gap: gap > 0) AS gaps,
                      gross_total, net_orders
               FROM agg)
           SELECT customer_id, first_order_date, last_order_date, orders, len(gaps) + 1 AS purchase_days, gaps,
                  CASE WHEN len(gaps) > 1 THEN list_median(gaps) ELSE gaps[1] END AS median_days_between,
                  CAST(gross_total AS DOUBLE) AS gross_total, CAST(net_orders + {returned} AS DOUBLE) AS net_total
           FROM spaced {ret}"""
    )


def drop_gaps(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the customers' lists of gaps once the quality report has pooled them: each customer's median is
    kept, and the lists were a third of the table (~70 MB at 10M lines) through the rest of the run."""
    con.execute("ALTER TABLE customers DROP COLUMN gaps")


def build_items(con: duckdb.DuckDBPyConnection, has_order_id: bool, grouped: bool) -> None:
    """Purchase lines with a product, for product and category rules."""
    if grouped:
        key = "l.order_id" if has_order_id else "l.customer_id || '|' || CAST(l.order_date AS VARCHAR)"
        source = f"lines l JOIN orders o ON o.customer_id = l.customer_id AND o.order_id = {key}"
        select = "l.customer_id, o.order_id, o.order_date"
    else:
        source = "lines l JOIN orders o ON o.order_id = " + (
            "CAST(l.order_id AS VARCHAR)" if has_order_id else "'row ' || CAST(l.rowid AS VARCHAR)"
        )
        select = "l.customer_id, o.order_id, o.order_date"
    product, category, quantity, value = (
        line_col(con, c, "l.") for c in ("product", "category", "quantity", "value")
    )
    con.execute(
        f"""CREATE TABLE items AS SELECT {select}, {product} AS product, {category} AS category,
                   {quantity} AS quantity, {value} AS value
            FROM {source} WHERE {product} IS NOT NULL AND ({value} IS NULL OR {value} > 0)"""
    )


def build_orders(
    con: duckdb.DuckDBPyConnection, has_order_id: bool, grouped: bool, first_row_totals: bool
) -> None:
    """Roll lines up to orders; when each row is an order, a view over the lines is enough.

    Without an order id a row is an order; for line items the order is the customer's day.
    """
    value, refunded, status, cancelled, currency = (
        line_col(con, c) for c in ("value", "refunded", "status_class", "cancelled", "currency")
    )
    if not grouped:
        # (the typed read keeps integer order ids as BIGINT: text from here on)
        order_id = "CAST(order_id AS VARCHAR)" if has_order_id else "'row ' || CAST(rowid AS VARCHAR)"
        con.execute(
            f"""CREATE VIEW all_orders AS SELECT customer_id, {order_id} AS order_id, order_date,
                   {value} AS gross, {refunded} AS refunded, {status} AS status_class, {cancelled} AS cancelled,
                   {currency} AS currency, 1 AS n_lines
               FROM lines"""
        )
        return
    key = "order_id" if has_order_id else "customer_id || '|' || CAST(order_date AS VARCHAR)"
    gross = f"max({value})" if first_row_totals else f"sum({value})"  # Shopify: the total is on the first row
    con.execute(
        f"""CREATE TABLE all_orders AS SELECT
               max(customer_id) AS customer_id, {key} AS order_id,
               min(order_date) AS order_date, {gross} AS gross, max({refunded}) AS refunded,
               CASE WHEN bool_or({status} = 'excluded') THEN 'excluded' ELSE max({status}) END AS status_class,
               bool_or({cancelled}) AS cancelled, max({currency}) AS currency, count(*) AS n_lines
            FROM lines GROUP BY {key}"""
    )


def pick_currency(con: duckdb.DuckDBPyConnection, name: str, chosen: str | None) -> str | None:
    """The one currency of the file, or the one the user chose when it mixes several."""
    currency = line_col(con, "currency")
    found = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT {currency} FROM lines WHERE {currency} IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    if chosen:
        chosen = chosen.upper()
        if found and chosen not in found:
            raise InputError(f"{name}: --currency {chosen} does not occur; the file has {', '.join(found)}")
        return chosen
    if len(found) > 1:
        raise InputError(
            f"{name}: the file mixes currencies ({', '.join(found)}); rerun with --currency "
            f"{found[0]} (or another) to score one of them"
        )
    return found[0] if found else None
