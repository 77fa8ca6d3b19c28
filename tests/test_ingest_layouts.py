"""Export layouts: Shopify, WooCommerce and line items, each worked out by hand in the comments."""

from __future__ import annotations

import csv
from pathlib import Path

from crm_winback.api import profile_file, score_file
from crm_winback.ingest import IngestOptions, load_orders

from .paths import DATA, TODAY


def _scores(path: Path, tmp_path: Path, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    out = tmp_path / "s.csv"
    score_file(path, IngestOptions(today=TODAY), output=out)
    with out.open(newline="") as fh:
        return [tuple(row[c] for c in columns) for row in csv.DictReader(fh)]


def test_shopify_order_fields_on_first_row_refunds_and_statuses(tmp_path: Path) -> None:
    # #1001 ana 113.00 (two lines; Total on the first only); #1002 refunded; #1003 ana 80 - 30 refunded;
    # #1004 voided; #1005 cancelled; #1006 dee pending (kept, flagged). Emails compare case-insensitively.
    path = DATA / "shopify_orders.csv"
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.layout, q.rows_read, q.rows_used, q.customer_ids_found, q.customers, q.orders) == (
        "shopify_orders",
        7,
        4,
        4,
        2,
        3,
    )
    assert (q.gross_revenue, q.refunds, q.net_revenue, q.currency) == (223.0, 30.0, 193.0, "USD")
    assert [(e.reason, e.rows, e.orders) for e in q.exclusions] == [
        ("cancelled", 1, 1),
        ("refunded, voided or failed status", 2, 2),
        ("payment pending or authorised", 1, 1),
    ]
    assert q.consent_columns == {"email_consent": "Accepts Marketing"}
    rows = _scores(
        path, tmp_path, ("customer_id", "orders", "gross_total", "net_total", "phone", "email_consent")
    )
    assert rows == [
        ("ana@example.com", "2", "193.00", "163.00", "+1 415 555 0100", "false"),
        ("dee@example.com", "1", "30.00", "30.00", "+44 7700 900123", "true"),
    ]


def test_woocommerce_decimal_commas_refunds_and_statuses(tmp_path: Path) -> None:
    # 2001 eva 45; 2002 finn 1.250,00; 2003 refunded; 2004 cancelled; 2005 eva 55 - 10; 2006 finn on-hold 12,50.
    path = DATA / "woocommerce_orders.csv"
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.layout, q.customers, q.orders, q.gross_revenue, q.refunds, q.net_revenue, q.currency) == (
        "woocommerce_orders",
        2,
        4,
        1362.5,
        10.0,
        1352.5,
        "EUR",
    )
    assert q.money_format == "decimal comma (1.234,50)"
    rows = _scores(path, tmp_path, ("customer_id", "orders", "net_total", "first_name", "last_name"))
    assert rows == [
        ("eva@example.com", "2", "90.00", "Eva", "Lind"),
        ("finn@example.com", "2", "1262.50", "Finn", "Berg"),
    ]


def test_line_items_group_by_invoice_with_cancellations(tmp_path: Path) -> None:
    # 500001: 2 x 3.50 + 10.00 (its repeated PLATE line is a duplicate) = 17.00; 500006: 3.50 + 0.00.
    # C500003 is a 3.50 return by 101; C500005 is 103's only activity (a return); 500004 has no customer.
    path = DATA / "line_items.csv"
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.layout, q.rows_read, q.customer_ids_found, q.customers, q.orders) == ("line_items", 9, 3, 2, 3)
    assert (q.gross_revenue, q.returns, q.net_revenue) == (34.5, -23.5, 11.0)
    assert [(e.reason, e.action, e.rows, e.orders) for e in q.exclusions] == [
        ("duplicate row", "excluded", 1, None),
        ("no customer id", "excluded", 1, 1),
        ("return or cancellation document", "flagged", 2, 2),
        ("customer with returns only", "excluded", 1, None),
    ]
    rows = _scores(path, tmp_path, ("customer_id", "orders", "gross_total", "net_total", "aov"))
    assert rows == [("101", "2", "20.50", "17.00", "8.50"), ("102", "1", "14.00", "14.00", "14.00")]


def test_a_value_in_the_other_decimal_convention_is_an_error_not_a_guess(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        'customer,date,amount\nA,2024-01-01,"$45.00"\nB,2024-01-02,"1.250,00"\nC,2024-01-03,$9.99\n'
    )
    from crm_winback.errors import InputError

    try:
        profile_file(path, IngestOptions(today=TODAY))
    except InputError as exc:
        assert "row 2: cannot read '1.250,00' as an amount" in str(exc)
    else:
        raise AssertionError("1.250,00 in a decimal-point column must not be read")


def test_future_dates_and_as_of(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("customer,date,amount\nA,2024-01-01,10\nA,2024-06-01,20\nB,2099-01-01,5\n")
    q = profile_file(path, IngestOptions(today=TODAY))
    assert [(e.reason, e.rows) for e in q.exclusions] == [("date in the future", 1)]
    assert (str(q.as_of), q.customers) == ("2024-06-01", 1)
    q = profile_file(path, IngestOptions(today=TODAY, as_of=__import__("datetime").date(2024, 3, 1)))
    assert [(e.reason, e.rows) for e in q.exclusions] == [
        ("after the as-of date", 1),
        ("date in the future", 1),
    ]
    assert (q.orders, q.as_of_reason) == (1, "set with --as-of")


def test_repeated_order_ids_group_rows_into_one_order_whatever_their_form(tmp_path: Path) -> None:
    # Integer ids in a small range (a bitmap decides), in a huge range and as text (hashes decide): in each
    # file the id on rows 1 and 2 repeats, so those rows are one order of 10 + 20 = 30.
    for ids in (("7", "7", "8"), ("7", "7", "900000000000"), ("#7", "#7", "#8")):
        path = tmp_path / "o.csv"
        path.write_text(
            f"order_id,customer,date,amount\n{ids[0]},A,2024-01-01,10\n{ids[1]},A,2024-01-01,20\n"
            f"{ids[2]},B,2024-02-01,5\n"
        )
        q = profile_file(path, IngestOptions(today=TODAY))
        assert (q.orders, q.gross_revenue) == (2, 35.0), ids


def test_ids_equal_only_as_numbers_are_different_orders(tmp_path: Path) -> None:
    # "5" and "05" are the same number but different order ids: each row stays an order.
    path = tmp_path / "o.csv"
    path.write_text(
        "order_id,customer,date,amount\n5,A,2024-01-01,10\n05,A,2024-01-02,20\n6,B,2024-02-01,5\n"
    )
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.orders, q.customers, q.gross_revenue) == (3, 2, 35.0)


def test_integer_order_ids_past_the_sample_that_are_not_plain_numbers(tmp_path: Path) -> None:
    # The first 2,000 rows (the sample) have plain integer ids, so the fast read takes them as numbers.
    # "#2501" cannot be one, and "0005" equals 5 only as a number: both files still give 2,501 orders,
    # each row its own order, and order ids stay text.
    rows = "".join(f"{i},C{i % 50},2024-01-{1 + i % 28:02d},10\n" for i in range(1, 2501))
    for last_id in ("#2501", "0005"):
        path = tmp_path / "o.csv"
        path.write_text(f"order_id,customer,date,amount\n{rows}{last_id},C1,2024-02-01,10\n")
        ingested = load_orders(path, IngestOptions(today=TODAY))
        try:
            assert (ingested.quality.orders, ingested.quality.gross_revenue) == (2501, 25010.0), last_id
            ids = ingested.con.execute(
                "SELECT typeof(order_id), count(DISTINCT order_id) FROM orders GROUP BY 1"
            ).fetchall()
            assert ids == [("VARCHAR", 2501)], last_id
        finally:
            ingested.close()


def test_release_lines_leaves_only_the_per_customer_tables(tmp_path: Path) -> None:
    # line items are grouped into an orders table; one row per order keeps orders as views over the lines
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,order_date,amount\n1,a,2024-01-05,10.00\n2,b,2024-02-01,20.00\n")
    for path, grouped in ((DATA / "line_items.csv", True), (orders, False)):
        ingested = load_orders(path, IngestOptions(today=TODAY))
        try:
            assert ingested.grouped is grouped
            ingested.release_lines()
            ingested.release_lines()  # a second call finds nothing left to drop
            left = ingested.con.execute(
                "SELECT table_name FROM duckdb_tables() UNION ALL "
                "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
            ).fetchall()
            assert [row[0] for row in left] == ["customer_info", "customers"] + (["items"] if grouped else [])
        finally:
            ingested.close()
