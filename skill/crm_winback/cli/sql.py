"""``crm-winback sql``: the per-customer summary as SQL to run in a warehouse."""

from __future__ import annotations

import argparse
from typing import Any

from ..api import parse_date_option
from ..engines.contract import PARTS
from ..engines.dialects import DIALECTS, summary_sql
from ..errors import InputError
from ..ingest.mapping import parse_map_option
from .common import emit


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sql",
        help="the per-customer summary as SQL for BigQuery, Snowflake, Trino, Postgres or Spark",
        description="Print the per-customer summary (contract v1) as SQL for a warehouse's orders table. Run it "
        "there, export the result (one row per customer) and score that file with crm-winback score --summary.",
        epilog="Example: crm-winback sql --dialect bigquery --table shop.orders \\\n"
        "    --map customer=customer_id,date=created_at,amount=total --as-of 2025-06-30 > crm_summary.sql\n"
        "         crm-winback sql --dialect bigquery --table shop.orders --map ... --as-of 2025-06-30 \\\n"
        "    --part backtest --calibration-end 2025-01-01 > crm_backtest.sql",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dialect", required=True, choices=list(DIALECTS), help="the warehouse's SQL dialect")
    p.add_argument(
        "--table", required=True, help="the orders table: name, database.name or catalog.database.name"
    )
    p.add_argument(
        "--map",
        dest="column_map",
        required=True,
        metavar="ROLE=COLUMN,...",
        help="the table's columns by role: customer and date, then amount (or quantity and unit_price), "
        "order_id, refunded_amount, email, phone, first_name, last_name, email_consent, sms_consent",
    )
    p.add_argument("--as-of", required=True, metavar="YYYY-MM-DD", help="the observation date")
    p.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="the time zone an order's timestamp becomes a date in (default UTC; the SQL pins the session to it)",
    )
    p.add_argument(
        "--columns",
        metavar="COL,...",
        help="every column of the table: with an order id, rows identical in all of them are dropped as duplicates",
    )
    p.add_argument(
        "--part",
        choices=list(PARTS),
        default="summary",
        help="summary: one row per customer (default); gaps: the gap histogram (gap_days, n) that scoring "
        "needs for the shop's repurchase cycle. Export both and score them with --summary and --gaps; "
        "backtest (with --calibration-end): the summary at the calibration end and each customer's holdout "
        "after it, for score --summary --gaps --backtest --predict",
    )
    p.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="with --part backtest: where the backtest splits the history (crm-winback score --summary ... "
        "--predict names the date it chooses)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the SQL to FILE instead of stdout")
    p.set_defaults(handler=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    as_of = parse_date_option(args.as_of, "--as-of")
    assert as_of is not None  # required by the parser
    mapping = parse_map_option(args.column_map)
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if columns is not None and not all(columns):
        raise InputError(
            "--columns: an empty column name; write e.g. --columns id,customer_id,created_at,total"
        )
    end = parse_date_option(args.calibration_end, "--calibration-end")
    sql = summary_sql(args.dialect, args.table, mapping, as_of, args.timezone, columns, args.part, end)
    emit(sql, args.output)
    return 0
