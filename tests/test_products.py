"""Products of a line-item export: pairs, reorder intervals, repeat-product buyers, category enthusiasts.

tests/data/products.csv is hand-counted: 9 orders of 5 customers, 17 lines of which one is postage (left out)
and O8 holds Serum on two lines (one order). Every expected number below is counted from that file.
"""

from __future__ import annotations

import json

import pytest

from crm_winback.api import ingest_options
from crm_winback.cli import main
from crm_winback.ingest import IngestOptions, load_orders
from crm_winback.products import (
    ProductRules,
    product_ideas,
    product_insights,
    product_rules,
    products_of_file,
)
from crm_winback.segments import api as segments_api

from .paths import DATA, TODAY, shared_file

FIXTURE = DATA / "products.csv"


def _rules(**changes: object) -> ProductRules:
    base = dict(min_pair_orders=2, min_reorder_customers=1, repeat_product_orders=3, enthusiast_orders=3,
                multi_category=2, top=10, not_products=list(product_rules().not_products))  # fmt: skip
    return ProductRules.model_validate(base | changes)


@pytest.fixture(scope="module")
def insights():  # type: ignore[no-untyped-def]
    ingested = load_orders(FIXTURE, IngestOptions(today=TODAY))
    try:
        return product_insights(ingested.con, ingested.as_of, _rules())
    finally:
        ingested.close()


def test_counts_leave_out_postage_and_count_an_order_once(insights) -> None:  # type: ignore[no-untyped-def]
    r = insights
    assert (r.lines, r.orders, r.customers, r.products, r.left_out_lines) == (16, 9, 5, 4, 1)
    assert [(p.product, p.orders, p.customers, p.repeat_customers) for p in r.top_products] == [
        ("Serum", 6, 3, 1),  # O1 O2 O3 O4 O5 O8; C1 in 3 orders
        ("Shampoo", 4, 3, 0),
        ("Cleanser", 3, 3, 0),
        ("Conditioner", 2, 2, 0),
    ]


def test_pairs_have_support_confidence_and_lift(insights) -> None:  # type: ignore[no-untyped-def]
    # Cleanser+Serum in O1 O4 O8: support 3/9, lift 3*9/(3*6) = 1.5; Conditioner+Shampoo in O6 O9:
    # lift 2*9/(2*4) = 2.25. Serum+Shampoo and Cleanser+Shampoo share only O8 (below 2 orders).
    assert [
        (p.product_a, p.product_b, p.orders, p.support, p.confidence_a_b, p.lift) for p in insights.pairs
    ] == [
        ("Cleanser", "Serum", 3, 0.3333, 1.0, 1.5),
        ("Conditioner", "Shampoo", 2, 0.2222, 1.0, 2.25),
    ]


def test_reorder_interval_is_the_median_gap_of_one_customer_and_product(insights) -> None:  # type: ignore[no-untyped-def]
    # Serum: C1 Jan 1 -> Jan 31 -> Mar 11 (30, 40 days), C2 Jan 10 -> Feb 9 (30): median 30 of 3 intervals
    # Shampoo: C3 Jan 15 -> Feb 15 (31)
    assert [(x.product, x.customers, x.intervals, x.median_days) for x in insights.reorder] == [
        ("Serum", 2, 3, 30.0),
        ("Shampoo", 1, 1, 31.0),
    ]


def test_repeat_buyers_and_category_enthusiasts(insights) -> None:  # type: ignore[no-untyped-def]
    r = insights
    assert r.repeat_product_customers == 1  # C1: Serum in O1, O2, O3
    assert [(p.product, p.repeat_customers) for p in r.repeat_products] == [("Serum", 1)]
    # Skin: C1 (3 orders), C2 (2), C4 (1); Hair: C3 (2), C4 (1), C5 (1); the Fee category is postage only
    assert [(c.category, c.customers, c.enthusiasts) for c in r.categories] == [
        ("Skin", 3, 1),
        ("Hair", 3, 0),
    ]
    assert (r.category_enthusiasts, r.multi_category_customers) == (1, 1)  # C1; C4 bought Skin and Hair


def test_thresholds_come_from_the_knowledge_file() -> None:
    r = products_of_file(FIXTURE, IngestOptions(today=TODAY))
    assert (r.min_pair_orders, r.repeat_product_orders, r.enthusiast_orders) == (10, 3, 5)
    assert r.pairs == [] and "no two products shared 10+ orders" in " ".join(r.notes)
    assert r.reorder == []  # no product was bought again by 5 customers


def test_ideas_name_the_shops_products(insights) -> None:  # type: ignore[no-untyped-def]
    assert product_ideas(insights) == [
        "Bought Cleanser? Suggest Serum: 3 orders held both (lift 1.5, 100% of Cleanser orders)",
        "Time to restock Serum: its 2 repeat buyers bought it again after a median 30 days - remind at that point",
        "Subscribe-and-save for Serum: 1 customer bought it in 3+ orders",
    ]


def test_subscription_candidates_segment_counts_the_same_customers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "store.duckdb")
    segments_api.save_snapshot_file(str(FIXTURE), db_path=db)
    listed = {s.name: s.members for s in segments_api.list_segments(db).segments}
    r = products_of_file(FIXTURE, IngestOptions(today=TODAY))
    assert listed["subscription-candidates"] == r.repeat_product_customers == 1
    assert listed["category-enthusiasts"] == 0  # nobody has 5 orders in one category


def test_cli_products_json_and_refusal_without_products(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["products", str(FIXTURE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["orders"], data["repeat_product_customers"], data["left_out_lines"]) == (9, 1, 1)
    assert main(["products", str(DATA / "small_orders.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no product column found" in err and "--map product=COLUMN" in err


def test_online_retail_products() -> None:
    """Online Retail (UCI, shared/data), by `crm-winback products online_retail.csv.gz`. A plain csv-module
    count of the file (exact duplicate rows dropped, C-invoices and lines without a customer or with
    quantity x price <= 0 left out) gives the same 392,692 purchase lines, of which 1,618 name postage or a
    fee (POSTAGE, DOTCOM POSTAGE, Manual, CARRIAGE ...), and the same 1,495 customers with one description in
    3+ invoices."""
    path = shared_file("online_retail", "online_retail.csv.gz")
    r = products_of_file(path, ingest_options(None, None))
    assert (r.products, r.orders, r.customers, r.lines, r.left_out_lines) == (3860, 18402, 4334, 391074, 1618)
    assert r.repeat_product_customers == 1495
    top = r.pairs[0]
    assert (top.product_a, top.product_b, top.orders, top.lift) == (
        "JUMBO BAG PINK POLKADOT", "JUMBO BAG RED RETROSPOT", 546, 7.21,
    )  # fmt: skip
    assert (r.reorder[0].product, r.reorder[0].customers, r.reorder[0].median_days) == (
        "WHITE HANGING HEART T-LIGHT HOLDER", 403, 48.0,
    )  # fmt: skip


def test_the_brief_names_the_shops_products_only_with_line_items() -> None:
    from crm_winback.brief.api import Context, build_brief

    with_items = build_brief(Context(), orders=FIXTURE).markdown
    section = with_items.split("### From the shop's own products\n\n", 1)[1].split("\n\n", 1)[0]
    assert section == "- Subscribe-and-save for Serum: 1 customer bought it in 3+ orders"
    without = build_brief(Context(), orders=DATA / "small_orders.csv").markdown
    assert "From the shop's own products" not in without


def test_mcp_profile_products_returns_the_same_counts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .mcp_support import call, ok, server_in, workspace

    work = workspace(tmp_path)
    (work / "items.csv").write_bytes(FIXTURE.read_bytes())
    result = ok(call(server_in(work), "profile_products", {"file": "items.csv"}))
    assert (result["orders"], result["products"], result["repeat_product_customers"]) == (9, 4, 1)
    assert result["top_products"][0] == {
        "product": "Serum",
        "orders": 6,
        "customers": 3,
        "repeat_customers": 1,
    }
