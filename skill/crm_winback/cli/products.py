"""``crm-winback products``: what a line-item export says about products (crm_winback.products)."""

from __future__ import annotations

import argparse
from typing import Any

from ..products import ProductInsights, products_of_file
from ..tables import markdown_table, pct, text_table
from .common import FORMATS, add_input_options, emit, resolve_input, to_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "products",
        help="products bought together, reorder intervals, repeat-product buyers, category enthusiasts",
        description="From a line-item export (Shopify orders, Online Retail, any file with a product column): "
        "the top products, pairs bought in one order (support, confidence, lift), the median days before a "
        "customer buys the same product again, customers who bought one product in 3+ orders (subscription "
        "candidates) and category enthusiasts. Fees and postage are left out (knowledge/products.yaml).",
        epilog="Example: crm-winback products orders.csv --format markdown",
    )
    add_input_options(p, example=False)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=run_products)


def run_products(args: argparse.Namespace) -> int:
    path, options = resolve_input(args)
    insights = products_of_file(path, options)
    emit(to_json(insights) if args.format == "json" else render(insights, args.format), args.output)
    return 0


def render(r: ProductInsights, fmt: str) -> str:
    def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
        body = (markdown_table if fmt == "markdown" else text_table)(headers, rows) if rows else "(none)"
        return f"\n{'### ' if fmt == 'markdown' else ''}{title}\n{body}\n"

    head = (
        f"products as of {r.as_of}: {r.products:,} products in {r.orders:,} orders of {r.customers:,} customers "
        f"({r.lines:,} lines)\n"
        f"bought one product in {r.repeat_product_orders}+ orders (subscription candidates): "
        f"{r.repeat_product_customers:,} customers\n"
    )
    if r.category_enthusiasts is not None:
        head += f"category enthusiasts ({r.enthusiast_orders}+ orders in one category): {r.category_enthusiasts:,}; "
        head += f"multi-category buyers: {r.multi_category_customers:,}\n"
    out = head
    out += table("top products", ["product", "orders", "customers", f"{r.repeat_product_orders}+ orders"],
                 [[p.product, p.orders, p.customers, p.repeat_customers] for p in r.top_products])  # fmt: skip
    out += table(f"bought together (pairs in {r.min_pair_orders}+ orders)",
                 ["product a", "product b", "orders", "support", "a -> b", "lift"],
                 [[p.product_a, p.product_b, p.orders, pct(p.support), pct(p.confidence_a_b), f"{p.lift:.2f}"]
                  for p in r.pairs])  # fmt: skip
    out += table("reorder interval (same customer, same product)", ["product", "customers", "intervals", "median days"],
                 [[x.product, x.customers, x.intervals, x.median_days] for x in r.reorder])  # fmt: skip
    out += table(f"bought in {r.repeat_product_orders}+ orders by one customer", ["product", "customers"],
                 [[p.product, p.repeat_customers] for p in r.repeat_products])  # fmt: skip
    if r.has_categories:
        out += table("categories", ["category", "customers", f"{r.enthusiast_orders}+ orders"],
                     [[c.category, c.customers, c.enthusiasts] for c in r.categories])  # fmt: skip
    return out + "".join(f"note: {n}\n" for n in r.notes)
