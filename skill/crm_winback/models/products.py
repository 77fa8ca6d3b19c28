"""What a line-item export says about products (built, and its numbers defined, in crm_winback.products)."""

from __future__ import annotations

import datetime as dt

from . import StrictModel


class ProductRow(StrictModel):
    product: str
    orders: int  # orders holding the product
    customers: int  # customers who bought it
    repeat_customers: int  # customers who bought it in `repeat_product_orders`+ orders


class ProductPair(StrictModel):
    product_a: str
    product_b: str
    orders: int  # orders holding both
    support: float  # orders holding both / orders with a product
    confidence_a_b: float  # orders holding both / orders holding product_a
    lift: float  # support / (share with a x share with b)


class ReorderInterval(StrictModel):
    product: str
    customers: int  # customers who bought it on two or more days
    intervals: int  # days between one purchase of it and the same customer's next one
    median_days: float


class CategoryRow(StrictModel):
    category: str
    customers: int  # customers who bought from it
    enthusiasts: int  # customers with `enthusiast_orders`+ orders holding a product of it


class ProductInsights(StrictModel):
    as_of: dt.date
    lines: int  # purchase lines with a product (fees and postage left out)
    orders: int  # orders with a product
    customers: int
    products: int
    left_out_lines: int  # lines naming a fee, postage or adjustment (knowledge/products.yaml not_products)
    min_pair_orders: int
    repeat_product_orders: int
    enthusiast_orders: int
    has_categories: bool
    repeat_product_customers: int  # seed 002's subscription candidates: one product in 3+ orders
    category_enthusiasts: int | None  # None without a category column
    multi_category_customers: int | None
    top_products: list[ProductRow]
    pairs: list[ProductPair]
    reorder: list[ReorderInterval]
    repeat_products: list[ProductRow]  # products ranked by their repeat customers
    categories: list[CategoryRow]
    notes: list[str]
