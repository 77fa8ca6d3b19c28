"""From an export file to a clean ``orders`` table in DuckDB, with the quality report.

Tables left in the connection for the scorer and later features:
- ``orders``: one row per purchase (customer_id, order_id, order_date, gross, refunded, net, items);
- ``returns``: one row per return document (negative invoice) per customer, with its (negative) value;
- ``customer_info``: per customer, the latest email, phone, names and consent flags found;
- ``items``: per purchase line with a product (customer_id, order_id, order_date, product, category,
  quantity, value) when the export has a product column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .. import workdb
from ..errors import InputError
from ..workdb import first_row
from .lines import fast_plan, read_text, read_typed, scalar
from .mapping import LayoutSignature, detect_layout, map_columns
from .orders import (
    PURCHASE_ROW,
    RETURN_ROW,
    build_customer_info,
    build_customers,
    build_items,
    build_orders,
    drop_gaps,
    pick_currency,
)
from .parse import PLACEHOLDER_DATE
from .quality import QualityReport, build_quality_report
from .reader import ReadAgain, Source, open_source, reopen_robust, sql_string


@dataclass
class IngestOptions:
    column_map: Mapping[str, str] = field(default_factory=dict)
    as_of: dt.date | None = None
    currency: str | None = None
    date_format: str | None = None
    today: dt.date | None = None  # what "the future" means; tests pin it


@dataclass
class Ingested:
    con: duckdb.DuckDBPyConnection
    source: Source
    quality: QualityReport
    as_of: dt.date
    monetary: bool
    has_items: bool
    mapping: dict[str, str]
    grouped: bool  # lines were grouped into orders (line items, Shopify, repeated order ids)

    def close(self) -> None:
        self.con.close()
        self.source.close()

    def release_lines(self) -> None:
        """Drop the line- and order-level tables (most of the memory of a large file).

        For a caller that needs only the per-customer tables (customers, customer_info, items): scoring
        without predictions. Predictions, cohorts and validation read ``orders`` and must not call this.
        Grouped files already lost their line tables in ``_build``; there ``orders`` is a table, otherwise a
        view over the lines.
        """
        if self.grouped:
            drops = [("TABLE", "orders"), ("TABLE", "returns")]
        else:  # dependants first
            drops = [("VIEW", "orders"), ("VIEW", "classified"), ("VIEW", "all_orders")]
            drops += [("TABLE", "returns"), ("TABLE", "lines")]
        for kind, name in drops:
            self.con.execute(f"DROP {kind} IF EXISTS {name}")


# A cell, not a column name: an address, a number, a date or a time.
_VALUE_LIKE = re.compile(r"[^@\s]+@[^@\s]+|[-+$€£(]?\d[\d.,:/ -]*\)?")


def load_orders(path: str | Path, options: IngestOptions | None = None) -> Ingested:
    """Read ``path`` and build the ``orders`` table. Raises :class:`InputError` for unusable input."""
    options = options or IngestOptions()
    source = open_source(path)
    try:
        return _load(source, options)
    except ReadAgain:
        # DuckDB failed past the sniffed head (a byte that is not UTF-8, a change of line endings, a line
        # break inside quotes): normalise the file and read it once more
        source = reopen_robust(source)
        try:
            return _load(source, options)
        except BaseException:
            source.close()
            raise
    except BaseException:
        source.close()
        raise


def _load(source: Source, options: IngestOptions) -> Ingested:
    name = str(source.path)
    layout = detect_layout(source.headers)
    mapping = map_columns(source.headers, options.column_map, layout, name)
    for role in ("customer", "date"):
        if role not in mapping and any(_VALUE_LIKE.fullmatch(h.strip()) for h in source.headers):
            # a headerless file: its "headers" are the first customer's cells, so name none of them here
            raise InputError(
                f"{name}: no {role} column found, and the first line looks like data, not a header "
                f"({','.join(source.headers)[:60]!r}); add a header row naming the columns (e.g. "
                "customer_id,date,amount)"
            )
        if role not in mapping:
            raise InputError(
                f"{name}: no {'customer' if role == 'customer' else 'order date'} column found among "
                f"{', '.join(repr(h) for h in source.headers)}; name it with --map {role}=COLUMN "
                f'(e.g. --map customer=Email,date="Created at",amount=Total)'
            )
    con = workdb.connect()
    try:
        return _build(con, source, options, layout, mapping)
    except BaseException:
        con.close()
        raise


def _build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    options: IngestOptions,
    layout: LayoutSignature | None,
    mapping: dict[str, str],
) -> Ingested:
    name = str(source.path)
    shopify = layout is not None and layout.name == "shopify_orders"
    line_mode = "quantity" in mapping and "unit_price" in mapping and not shopify
    today = options.today or dt.date.today()
    plan = fast_plan(source, mapping) if not (shopify or line_mode) else None
    read = read_typed(con, source, mapping, plan) if plan is not None else None
    if read is None:
        read = read_text(con, source, mapping, options.date_format, today, shopify, line_mode)
    currency = pick_currency(con, name, options.currency)
    has_order_id, grouped = "order_id" in mapping, read.grouped
    build_orders(con, has_order_id, grouped, first_row_totals=shopify)

    latest = first_row(
        con.execute(
            "SELECT max(order_date) FROM all_orders WHERE customer_id IS NOT NULL AND order_date <= ? "
            "AND order_date > ?",
            [today, PLACEHOLDER_DATE],
        )
    )
    if latest is None or latest[0] is None:
        raise InputError(
            f"{name}: no order has both a customer and a date on or before {today}; "
            "check the --map of customer and date"
        )
    if options.as_of is not None:
        as_of, as_of_reason = options.as_of, "set with --as-of"
    else:
        as_of, as_of_reason = latest[0], "the latest order date in the file (set another with --as-of)"

    con.execute(
        f"""CREATE VIEW classified AS SELECT *,
              CASE
                WHEN customer_id IS NULL THEN 'no customer id'
                WHEN order_date IS NULL THEN 'no order date'
                WHEN order_date <= DATE '{PLACEHOLDER_DATE.isoformat()}' THEN 'placeholder date (Excel or database zero date)'
                WHEN {"FALSE" if currency is None else f"coalesce(currency, {sql_string(currency)}) <> {sql_string(currency)}"}
                    THEN 'other currency'
                WHEN order_date > DATE '{today.isoformat()}' THEN 'date in the future'
                WHEN order_date > DATE '{as_of.isoformat()}' THEN 'after the as-of date'
                WHEN cancelled THEN 'cancelled'
                WHEN status_class = 'excluded' THEN 'refunded, voided or failed status'
                WHEN gross > 0 AND refunded >= gross THEN 'refunded in full'
                ELSE NULL END AS exclusion
            FROM all_orders"""
    )
    con.execute(
        f"""CREATE {"TABLE" if grouped else "VIEW"} orders AS SELECT customer_id, order_id, order_date, gross,
                  coalesce(refunded, 0) AS refunded, gross - coalesce(refunded, 0) AS net, n_lines
           FROM classified WHERE {PURCHASE_ROW}"""
    )
    con.execute(
        f"""CREATE TABLE returns AS SELECT customer_id, order_id, order_date, gross AS value, n_lines
           FROM classified WHERE {RETURN_ROW}"""
    )
    has_returns = scalar(con, "SELECT count(*) FROM returns") > 0
    build_customers(con, has_returns)
    # Customers with only returns in the window have no purchase to score.
    returns_only = (0, 0)
    if has_returns:
        only = first_row(
            con.execute(
                "SELECT count(DISTINCT customer_id), coalesce(sum(n_lines), 0) FROM returns "
                "WHERE customer_id NOT IN (SELECT customer_id FROM customers)"
            )
        )
        returns_only = (int(only[0]), int(only[1])) if only else (0, 0)
    build_customer_info(con, mapping, as_of)
    has_items = "product" in mapping
    if has_items:
        build_items(con, has_order_id, grouped)
    quality = build_quality_report(
        con,
        source,
        layout,
        mapping,
        read,
        currency,
        returns_only,
        as_of,
        as_of_reason,
    )
    drop_gaps(con)
    if grouped:  # otherwise orders is a view over the lines, which must stay
        con.execute("DROP VIEW classified")
        con.execute("DROP TABLE all_orders")
        con.execute("DROP TABLE lines")
    # the per-customer aggregation's hash tables are freed but still held by DuckDB's allocator (~0.24 GB at
    # 10M lines), under whatever is built next from the lines (the purchase days): hand them back
    workdb.release_freed_memory()
    return Ingested(con, source, quality, as_of, read.monetary, has_items, mapping, grouped)
