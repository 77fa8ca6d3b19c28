"""The rule language: exact member lists on a hand-made customer table, validation messages, injection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crm_winback.errors import InputError
from crm_winback.segments.rules import Context, compile_rules, load_rules_file, parse_rules

AS_OF = dt.date(2024, 6, 30)
COLS = (
    "customer_id",
    "rfm_segment",
    "lifecycle_stage",
    "r_score",
    "recency_days",
    "orders",
    "net_total",
    "first_order_date",
    "last_order_date",
    "email_consent",
    "sms_consent",
    "email",
    "max_product_purchases",
)
# Six customers, values chosen by hand; dates agree with recency_days at AS_OF.
ROWS = [
    ("a", "Champions", "active", 5, 10, 12, 900.0, "2023-01-10", "2024-06-20", True, True, "a@x.com", 4),
    ("b", "Loyal Customers", "VIP", 4, 40, 6, 520.0, "2023-06-01", "2024-05-21", False, None, "b@y.org", 3),
    ("c", "At Risk", "at-risk", 2, 120, 4, 300.0, "2023-07-01", "2024-03-02", None, False, None, 1),
    ("d", "Lost", "churned", 1, 400, 1, 30.0, "2023-05-27", "2023-05-27", True, None, "d@x.com", 0),
    ("e", "Hibernating", "lapsed", 1, 200, 2, 60.0, "2023-02-01", "2023-12-13", None, None, "E@X.COM", 0),
    ("f", "Can't Lose Them", "at-risk", 2, 150, 8, 1200.0, "2022-11-01", "2024-02-01", None, True, "f@z.com", 2),
]  # fmt: skip


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(
        """CREATE TABLE customers (customer_id VARCHAR, rfm_segment VARCHAR, lifecycle_stage VARCHAR,
           r_score INTEGER, recency_days BIGINT, orders BIGINT, net_total DOUBLE, first_order_date DATE,
           last_order_date DATE, email_consent BOOLEAN, sms_consent BOOLEAN, email VARCHAR,
           max_product_purchases BIGINT)"""
    )
    c.executemany(f"INSERT INTO customers VALUES ({', '.join('?' for _ in COLS)})", ROWS)
    return c


def members(con: duckdb.DuckDBPyConnection, rules: Any, ctx: Context | None = None) -> list[str]:
    where, params = compile_rules(parse_rules(rules), ctx or Context(as_of=AS_OF, repurchase_cycle_days=100))
    return [
        r[0]
        for r in con.execute(f"SELECT customer_id FROM customers WHERE {where} ORDER BY 1", params).fetchall()
    ]


def one(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    cond: dict[str, Any] = {"field": field, "operator": operator}
    if value is not None:
        cond["value"] = value
    return {"rules": [cond]}


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("rfm_segment", "eq", "Champions", ["a"]),
        ("rfm_segment", "eq", "Can't Lose Them", ["f"]),
        ("email_consent", "eq", True, ["a", "d"]),
        ("email_consent", "ne", True, ["b", "c", "e", "f"]),  # unknown consent is "not known to be true"
        ("total_spent", "gt", 520, ["a", "f"]),
        ("total_spent", "gte", 520, ["a", "b", "f"]),
        ("recency_days", "lt", 40, ["a"]),
        ("recency_days", "lte", 40, ["a", "b"]),
        ("rfm_segment", "in", ["Champions", "Loyal Customers"], ["a", "b"]),
        ("lifecycle_stage", "not_in", ["churned", "lapsed"], ["a", "b", "c", "f"]),
        ("sms_consent", "ne", False, ["a", "b", "d", "e", "f"]),
        ("total_spent", "between", [60, 520], ["b", "c", "e"]),
        ("last_order_date", "between", ["90_days_ago", "as_of"], ["a", "b"]),
        ("last_order_date", "gte", "90_days_ago", ["a", "b"]),
        ("last_order_date", "lt", "6_months_ago", ["d", "e"]),
        ("first_order_date", "between", ["395_days_ago", "335_days_ago"], ["b", "c"]),
        ("first_order_date", "lte", "2023-01-10", ["a", "f"]),
        ("last_order_date", "gt", "1_years_ago", ["a", "b", "c", "e", "f"]),
        ("email", "contains", "@x.", ["a", "d", "e"]),  # case-insensitive
        ("rfm_segment", "contains", "CHAMP", ["a"]),
        ("email", "exists", True, ["a", "b", "d", "e", "f"]),
        ("email", "exists", False, ["c"]),
        ("email_consent", "exists", False, ["c", "e", "f"]),
        ("recency_days", "gte", "2_cycles", ["d", "e"]),  # 2 x a 100-day cycle
        ("max_product_purchases", "gte", 3, ["a", "b"]),
    ],
)
def test_each_operator_selects_exactly_these_customers(
    con: duckdb.DuckDBPyConnection, field: str, operator: str, value: Any, expected: list[str]
) -> None:
    assert members(con, one(field, operator, value)) == expected


def test_exists_without_a_value_means_true(con: duckdb.DuckDBPyConnection) -> None:
    assert members(con, {"rules": [{"field": "email", "operator": "exists"}]}) == ["a", "b", "d", "e", "f"]


def test_nested_or_inside_and(con: duckdb.DuckDBPyConnection) -> None:
    rules = {"logic": "AND", "rules": [
        {"field": "rfm_segment", "operator": "in", "value": ["Champions", "Can't Lose Them"]},
        {"logic": "OR", "rules": [
            {"field": "email_consent", "operator": "eq", "value": True},
            {"field": "total_spent", "operator": "gt", "value": 1000},
        ]},
    ]}  # fmt: skip
    assert members(con, rules) == ["a", "f"]


def test_nested_and_inside_or_two_levels(con: duckdb.DuckDBPyConnection) -> None:
    rules = {"logic": "OR", "rules": [
        {"field": "lifecycle_stage", "operator": "eq", "value": "churned"},
        {"logic": "AND", "rules": [
            {"field": "recency_days", "operator": "gte", "value": 100},
            {"logic": "OR", "rules": [
                {"field": "orders", "operator": "gte", "value": 8},
                {"field": "rfm_segment", "operator": "eq", "value": "At Risk"},
            ]},
        ]},
    ]}  # fmt: skip
    assert members(con, rules) == ["c", "d", "f"]


def test_rules_parse_from_yaml_text(con: duckdb.DuckDBPyConnection) -> None:
    text = "logic: OR\nrules:\n  - {field: r_score, operator: eq, value: 5}\n  - {field: orders, operator: eq, value: 1}\n"
    assert members(con, text) == ["a", "d"]


def test_a_value_that_looks_like_sql_stays_a_value(con: duckdb.DuckDBPyConnection) -> None:
    for attack in ("Champions' OR '1'='1", "x'; DROP TABLE customers; --", 'Champions" OR 1=1 --'):
        assert members(con, one("rfm_segment", "eq", attack)) == []
        assert members(con, one("rfm_segment", "in", [attack, "Lost"])) == ["d"]
        assert members(con, one("email", "contains", attack)) == []
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (6,)


def _error(rules: Any, ctx: Context | None = None) -> str:
    with pytest.raises(InputError) as info:
        compile_rules(parse_rules(rules), ctx or Context(as_of=AS_OF))
    return str(info.value)


def test_a_field_name_cannot_carry_sql() -> None:
    msg = _error(one("rfm_segment = 'x' OR 1=1 --", "eq", "x"))
    assert msg.startswith(
        "rules.rules[0].field: unknown field \"rfm_segment = 'x' OR 1=1 --\"; valid fields: "
    )


def test_unknown_field_lists_the_valid_fields() -> None:
    msg = _error(one("total_spend", "gt", 5))
    assert msg.startswith(
        "rules.rules[0].field: unknown field 'total_spend'; valid fields: customer_id, rfm_segment"
    )
    assert "total_spent" in msg and "max_product_purchases" in msg


def test_messages_name_the_rule_path_and_the_valid_choices() -> None:
    assert _error({"rules": [{"field": "orders", "operator": "gt", "value": 1},
                             {"field": "rfm_segment", "operator": "gt", "value": "x"}]}) == (
        "rules.rules[1].operator: 'gt' does not apply to rfm_segment (text); "
        "valid operators: eq, ne, in, not_in, contains, exists"
    )  # fmt: skip
    assert _error({"rules": [{"field": "orders", "operator": "gt", "value": 1},
                             {"logic": "OR", "rules": [{"field": "total_spent", "operator": "gte", "value": "lots"}]}]}) == (
        "rules.rules[1].rules[0].value: total_spent needs a number, not 'lots'"
    )  # fmt: skip
    assert _error({"rules": [{"field": "orders", "operator": "like", "value": 1}]}) == (
        "rules.rules[0].operator: 'like' does not apply to orders (integer); "
        "valid operators: eq, ne, gt, gte, lt, lte, in, not_in, between, exists, top_percent, bottom_percent"
    )
    assert _error({"logic": "XOR", "rules": [{"field": "orders", "operator": "eq", "value": 1}]}) == (
        "rules.logic: 'XOR' is not AND or OR"
    )
    assert _error({"rules": []}) == "rules.rules: must be a non-empty list of conditions or groups"
    assert _error(one("total_spent", "between", [1])) == (
        "rules.rules[0].value: between needs a list of two values [low, high] (both included)"
    )
    assert _error(one("last_order_date", "gte", "ninety days ago")) == (
        "rules.rules[0].value: last_order_date needs a date (YYYY-MM-DD) or a relative date such as "
        "\"90_days_ago\", not 'ninety days ago'"
    )
    assert (
        _error(one("email_consent", "eq", "yes"))
        == "rules.rules[0].value: email_consent is true or false, not 'yes'"
    )
    assert _error({"rules": [{"field": "orders", "op": "eq", "value": 1}]}) == (
        "rules.rules[0]: unknown key(s) op; a condition has field, operator and value"
    )


def test_product_fields_need_line_items() -> None:
    assert _error(one("max_product_purchases", "gte", 3), Context(as_of=AS_OF, has_items=False)) == (
        "max_product_purchases need line items with a product column; this data has none "
        "(export orders with line items, e.g. Shopify's orders export)"
    )


def test_rules_nested_thousands_deep_are_refused_with_the_depth_limit_in_words(tmp_path: Path) -> None:
    text = '{"field": "orders", "operator": "gt", "value": 1}'
    for _ in range(5000):
        text = '{"rules": [' + text + "]}"
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"deep\.json: rules nest deeper than 8 levels; flatten the rules"):
        load_rules_file(path)
    nested: dict[str, object] = {"rules": [{"field": "orders", "operator": "gt", "value": 1}]}
    for _ in range(5000):
        nested = {"rules": [nested]}
    with pytest.raises(InputError, match="rules nest deeper than 8 levels"):
        parse_rules(nested)
