"""Products in a line-item export: what sells, what is bought together, how soon a product is bought again.

Definitions (over the ``items`` table the ingest step builds: purchase lines with a product, on or before the
as-of date; refunded, cancelled and returned orders are already left out; lines naming a fee, postage or an
adjustment - ``knowledge/products.yaml`` ``not_products`` - are left out here and counted):

- An order **holds** a product when one of its lines names it (several lines of one product count once).
- **Pairs**: two products held by one same order. ``support`` = orders holding both / orders with a product;
  ``confidence_a_b`` = orders holding both / orders holding a; ``lift`` = support / (share of orders holding a
  x share holding b): above 1, bought together more often than chance. Listed are the pairs in
  ``min_pair_orders``+ orders with a lift above 1, the most orders first: ranked by lift alone, the top of
  Online Retail was rare colour variants of one mug (11 orders, lift 1,205), not what a message should suggest.
- **Reorder interval** of a product: the days between one purchase day of it and the same customer's next
  purchase day of it, pooled over its customers; the median (of an even count, the mean of the middle two).
- **Repeat product customers** (seed 002's subscription candidates): customers with one same product in
  ``repeat_product_orders`` or more orders - the pre-built segment ``subscription-candidates`` counts the same.
- **Category enthusiasts**: customers with ``enthusiast_orders`` or more orders holding a product of one same
  category (the segment ``category-enthusiasts``); needs a category column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from pydantic import Field

from .errors import InputError
from .ingest import IngestOptions, load_orders
from .knowledge import KnowledgeModel, load_knowledge
from .models.products import CategoryRow, ProductInsights, ProductPair, ProductRow, ReorderInterval
from .workdb import first_row

__all__ = ["ProductInsights", "is_product_sql", "product_ideas", "product_insights", "products_of_file"]


class ProductRules(KnowledgeModel):
    min_pair_orders: int = Field(ge=1)
    min_reorder_customers: int = Field(ge=1)
    repeat_product_orders: int = Field(ge=2)
    enthusiast_orders: int = Field(ge=2)
    multi_category: int = Field(ge=2)
    top: int = Field(ge=1)
    not_products: list[str]


def product_rules() -> ProductRules:
    return load_knowledge("products.yaml", ProductRules)


def is_product_sql(column: str = "product") -> str:
    """SQL that is true for a line naming a product a customer chose (not a fee, postage or adjustment)."""
    names = ", ".join("'" + n.strip().lower().replace("'", "''") + "'" for n in product_rules().not_products)
    names = names or "''"
    return f"(trim({column}) <> '' AND lower(trim({column})) NOT IN ({names}))"


def product_insights(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, rules: ProductRules | None = None
) -> ProductInsights:
    """The product tables of the ``items`` in ``con`` (see the module docstring for every definition)."""
    rules = rules or product_rules()
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE product_lines AS
            SELECT customer_id, order_id, order_date, trim(product) AS product,
                   nullif(trim(category), '') AS category
            FROM items WHERE {is_product_sql()}"""
    )
    left_out = _int(con, "SELECT count(*) FROM items") - _int(con, "SELECT count(*) FROM product_lines")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE order_products AS SELECT DISTINCT order_id, customer_id, product "
        "FROM product_lines"
    )
    totals = first_row(
        con.execute(
            "SELECT count(*), count(DISTINCT order_id), count(DISTINCT customer_id), count(DISTINCT product) "
            "FROM product_lines"
        )
    )
    lines, orders, customers, products = (int(x) for x in totals) if totals else (0, 0, 0, 0)
    k = rules.repeat_product_orders
    per_product = """WITH cp AS (SELECT customer_id, product, count(*) AS n FROM order_products GROUP BY ALL)
        SELECT product, sum(n) AS orders, count(*) AS customers, count(*) FILTER (WHERE n >= ?) AS repeaters
        FROM cp GROUP BY product"""
    top_products = [
        ProductRow(product=p, orders=o, customers=c, repeat_customers=r)
        for p, o, c, r in con.execute(
            f"{per_product} ORDER BY orders DESC, customers DESC, product LIMIT ?", [k, rules.top]
        ).fetchall()
    ]
    repeat_products = [
        ProductRow(product=p, orders=o, customers=c, repeat_customers=r)
        for p, o, c, r in con.execute(
            f"SELECT * FROM ({per_product}) WHERE repeaters > 0 "
            "ORDER BY repeaters DESC, orders DESC, product LIMIT ?",
            [k, rules.top],
        ).fetchall()
    ]
    repeat_customers = _int(
        con,
        "SELECT count(DISTINCT customer_id) FROM (SELECT customer_id, product FROM order_products "
        "GROUP BY ALL HAVING count(*) >= ?)",
        [k],
    )
    pairs = _pairs(con, orders, rules)
    reorder = [
        ReorderInterval(product=p, customers=c, intervals=n, median_days=round(float(m), 1))
        for p, c, n, m in con.execute(
            """WITH d AS (SELECT DISTINCT customer_id, product, order_date FROM product_lines),
                    g AS (SELECT customer_id, product, order_date - lag(order_date) OVER
                            (PARTITION BY customer_id, product ORDER BY order_date) AS gap FROM d)
               SELECT product, count(DISTINCT customer_id) AS c, count(*) AS n, median(gap) AS m
               FROM g WHERE gap IS NOT NULL GROUP BY product HAVING count(DISTINCT customer_id) >= ?
               ORDER BY c DESC, n DESC, product LIMIT ?""",
            [rules.min_reorder_customers, rules.top],
        ).fetchall()
    ]
    has_categories = _int(con, "SELECT count(*) FROM product_lines WHERE category IS NOT NULL") > 0
    categories: list[CategoryRow] = []
    enthusiasts = multi = None
    notes = []
    if has_categories:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE customer_categories AS SELECT customer_id, category,
                   count(DISTINCT order_id) AS n FROM product_lines WHERE category IS NOT NULL GROUP BY ALL"""
        )
        e = rules.enthusiast_orders
        categories = [
            CategoryRow(category=c, customers=n, enthusiasts=en)
            for c, n, en in con.execute(
                "SELECT category, count(*), count(*) FILTER (WHERE n >= ?) AS en FROM customer_categories "
                "GROUP BY category ORDER BY en DESC, count(*) DESC, category LIMIT ?",
                [e, rules.top],
            ).fetchall()
        ]
        enthusiasts = _int(
            con, "SELECT count(DISTINCT customer_id) FROM customer_categories WHERE n >= ?", [e]
        )
        multi = _int(
            con,
            "SELECT count(*) FROM (SELECT customer_id FROM customer_categories GROUP BY 1 HAVING count(*) >= ?)",
            [rules.multi_category],
        )
    else:
        notes.append(
            "no category column: category enthusiasts and multi-category buyers need one "
            "(name it with --map category=COLUMN, e.g. a product type)"
        )
    if not pairs and orders:
        notes.append(f"no two products shared {rules.min_pair_orders}+ orders: no pair is listed")
    if left_out:
        notes.append(f"{left_out:,} lines naming a fee, postage or adjustment were left out "
                     "(knowledge/products.yaml not_products)")  # fmt: skip
    return ProductInsights(
        as_of=as_of, lines=lines, orders=orders, customers=customers, products=products, left_out_lines=left_out,
        min_pair_orders=rules.min_pair_orders, repeat_product_orders=k, enthusiast_orders=rules.enthusiast_orders,
        has_categories=has_categories, repeat_product_customers=repeat_customers, category_enthusiasts=enthusiasts,
        multi_category_customers=multi, top_products=top_products, pairs=pairs, reorder=reorder,
        repeat_products=repeat_products, categories=categories, notes=notes,
    )  # fmt: skip


def _pairs(con: duckdb.DuckDBPyConnection, orders: int, rules: ProductRules) -> list[ProductPair]:
    if orders == 0:
        return []
    # a pair in n orders needs each of its products in n orders: prune before the self-join
    rows = con.execute(
        """WITH n AS (SELECT product, count(*) AS n FROM order_products GROUP BY product HAVING count(*) >= ?),
                op AS (SELECT order_id, product FROM order_products SEMI JOIN n USING (product)),
                ab AS (SELECT a.product AS pa, b.product AS pb, count(*) AS nab FROM op a
                       JOIN op b ON a.order_id = b.order_id AND a.product < b.product
                       GROUP BY ALL HAVING count(*) >= ?)
           SELECT pa, pb, nab, na.n, nb.n, nab * ? / (na.n * nb.n) AS lift
           FROM ab JOIN n na ON na.product = pa JOIN n nb ON nb.product = pb
           WHERE nab * ? > na.n * nb.n
           ORDER BY nab DESC, lift DESC, pa, pb LIMIT ?""",
        [rules.min_pair_orders, rules.min_pair_orders, float(orders), orders, rules.top],
    ).fetchall()
    return [
        ProductPair(product_a=a, product_b=b, orders=nab, support=round(nab / orders, 4),
                    confidence_a_b=round(nab / na, 4), lift=round(float(lift), 2))
        for a, b, nab, na, _nb, lift in rows
    ]  # fmt: skip


def _int(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = first_row(con.execute(sql, params or []))
    return int(row[0]) if row and row[0] is not None else 0


def products_of_file(path: str | Path, options: IngestOptions | None = None) -> ProductInsights:
    """Read an orders export and return its product tables; an export without a product column is refused."""
    ingested = load_orders(path, options)
    try:
        if not ingested.has_items:
            raise InputError(
                f"{path}: no product column found; products need a line-item export (Shopify 'Lineitem name', "
                "Online Retail 'Description') or name the column with --map product=COLUMN"
            )
        return product_insights(ingested.con, ingested.as_of)
    finally:
        ingested.close()


def product_ideas(insights: ProductInsights, limit: int = 3) -> list[str]:
    """Message ideas that name the shop's own products, each with the count it rests on."""
    ideas = []
    for pair in insights.pairs[:1]:
        ideas.append(
            f"Bought {pair.product_a}? Suggest {pair.product_b}: {pair.orders:,} orders held both "
            f"(lift {pair.lift:g}, {pair.confidence_a_b:.0%} of {pair.product_a} orders)"
        )
    for r in insights.reorder[:1]:
        ideas.append(
            f"Time to restock {r.product}: its {r.customers:,} repeat buyers bought it again after a median "
            f"{r.median_days:g} days - remind at that point"
        )
    for p in insights.repeat_products[:1]:
        ideas.append(
            f"Subscribe-and-save for {p.product}: {p.repeat_customers:,} "
            f"customer{'s' if p.repeat_customers != 1 else ''} bought it in "
            f"{insights.repeat_product_orders}+ orders"
        )
    return ideas[:limit]
