"""The segment rule language: parse and validate a rule tree, then compile it to parameterised DuckDB SQL.

A rule file is ``{"rules": [...], "logic": "AND" | "OR"}``; each entry is a condition
``{"field": ..., "operator": ..., "value": ...}`` or a nested group of the same shape. User values are
always bound as parameters (``?``); only field names from :data:`FIELDS` and fixed operator templates ever
become SQL text.

Values for date fields may be ISO dates or relative to the snapshot's as-of date: ``"90_days_ago"``,
``"6_weeks_ago"``, ``"3_months_ago"``, ``"1_years_ago"``, ``"as_of"``. Values for day-count fields
(``recency_days`` and the like) may be ``"2_cycles"``: that many of the shop's repurchase cycles.

Missing values (an unknown consent, no line items) never match a comparison; ``ne`` and ``not_in`` do match
them ("not known to be X"), and ``exists: false`` selects them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from ..errors import InputError

FieldType = Literal["number", "integer", "date", "text", "bool"]
Operator = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "contains", "exists", "top_percent",
    "bottom_percent",
]  # fmt: skip
OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "between",
    "contains",
    "exists",
    "top_percent",
    "bottom_percent",
)
_ORDERED = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "exists")
# "top 10% spenders": the customers at or above the value of the one ranked ceil(10% x customers), highest first
# (ties at that value included), among the customers of the same snapshot or file that have a value
_PERCENT = ("top_percent", "bottom_percent")
_BY_TYPE: dict[str, tuple[str, ...]] = {
    "number": _ORDERED + _PERCENT,
    "integer": _ORDERED + _PERCENT,
    "date": _ORDERED,
    "text": ("eq", "ne", "in", "not_in", "contains", "exists"),
    "bool": ("eq", "ne", "exists"),
}
MAX_DEPTH = 8


@dataclass(frozen=True)
class FieldSpec:
    name: str
    column: str  # column of the customer table (see store.CUSTOMER_COLUMNS)
    type: FieldType
    description: str
    needs_items: bool = False
    days: bool = False  # a day count: accepts "N_cycles"


_FIELD_LIST = [
    FieldSpec("customer_id", "customer_id", "text", "the customer key"),
    FieldSpec("rfm_segment", "rfm_segment", "text", "RFM segment name, e.g. Champions"),
    FieldSpec("rfm_code", "rfm_code", "text", "R, F and M scores as three digits, e.g. 545"),
    FieldSpec("lifecycle_stage", "lifecycle_stage", "text", "new, active, VIP, at-risk, lapsed or churned"),
    FieldSpec("churn_risk", "churn_risk", "text", "low, medium or high"),
    FieldSpec("r_score", "r_score", "integer", "recency score 1-5"),
    FieldSpec("f_score", "f_score", "integer", "frequency score 1-5"),
    FieldSpec("m_score", "m_score", "integer", "monetary score 1-5 (missing without amounts)"),
    FieldSpec("recency_days", "recency_days", "integer", "days since the last order", days=True),
    FieldSpec("tenure_days", "tenure_days", "integer", "days since the first order", days=True),
    FieldSpec("orders", "orders", "integer", "number of orders"),
    FieldSpec("purchase_days", "purchase_days", "integer", "number of distinct days with an order"),
    FieldSpec("total_spent", "net_total", "number", "net spend (orders minus refunds and returns)"),
    FieldSpec("net_total", "net_total", "number", "same as total_spent"),
    FieldSpec("gross_total", "gross_total", "number", "spend before refunds and returns"),
    FieldSpec("aov", "aov", "number", "average net order value"),
    FieldSpec("orders_per_year", "orders_per_year", "number", "orders per year of tenure (min. one year)"),
    FieldSpec("median_days_between", "median_days_between", "number", "own median gap between purchase days",
              days=True),
    FieldSpec("expected_gap_days", "expected_gap_days", "number", "expected days to the next order", days=True),
    FieldSpec("first_order_date", "first_order_date", "date", "date of the first order"),
    FieldSpec("last_order_date", "last_order_date", "date", "date of the last order"),
    FieldSpec("email_consent", "email_consent", "bool", "email marketing consent (missing when unknown)"),
    FieldSpec("sms_consent", "sms_consent", "bool", "SMS marketing consent (missing when unknown)"),
    FieldSpec("engagement_tier", "engagement_tier", "text", "email engagement from the platform's profiles "
              "(score --profiles): engaged, warm, cold, unengaged or unknown; missing in snapshots saved without"),
    FieldSpec("last_click_date", "last_click_date", "date", "the last email click the platform recorded"),
    FieldSpec("last_open_date", "last_open_date", "date",
              "the last email open (unreliable since Apple Mail Privacy Protection: prefer clicks)"),
    FieldSpec("email", "email", "text", "email address"),
    FieldSpec("phone", "phone", "text", "phone number as exported"),
    FieldSpec("max_product_purchases", "max_product_purchases", "integer",
              "the most orders that contained one same product", needs_items=True),
    FieldSpec("distinct_products", "distinct_products", "integer", "number of different products bought",
              needs_items=True),
    FieldSpec("distinct_categories", "distinct_categories", "integer", "number of different categories bought",
              needs_items=True),
    FieldSpec("max_category_orders", "max_category_orders", "integer",
              "the most orders with a product from one same category", needs_items=True),
    FieldSpec("top_product", "top_product", "text", "the product in the most orders", needs_items=True),
    FieldSpec("top_category", "top_category", "text", "the category in the most orders", needs_items=True),
]  # fmt: skip
FIELDS: dict[str, FieldSpec] = {f.name: f for f in _FIELD_LIST}

_RELATIVE = re.compile(r"^(\d+)_(day|days|week|weeks|month|months|year|years)_ago$")
_CYCLES = re.compile(r"^(\d+(?:\.\d+)?)_cycles?$")


class Condition(BaseModel):
    field: str
    operator: Operator
    value: Any = None


class RuleGroup(BaseModel):
    logic: Literal["AND", "OR"] = "AND"
    rules: list[Condition | RuleGroup]


@dataclass(frozen=True)
class Context:
    """What relative values resolve against, and which fields the data can answer."""

    as_of: dt.date
    repurchase_cycle_days: float | None = None
    has_items: bool = True
    population: str | None = (
        None  # FROM clause of the customers a percentile rule ranks (fixed SQL, no user text)
    )


def _fail(path: str, message: str) -> InputError:
    return InputError(f"{path}: {message}")


def _field_list() -> str:
    return ", ".join(FIELDS)


def parse_rules(data: Any, source: str = "rules") -> RuleGroup:
    """Validate a rule tree (a dict, or a JSON/YAML string); errors name the rule path and the valid choices."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError:
            raise _fail(source, 'not valid JSON or YAML; write {"rules": [...], "logic": "AND"}') from None
        except RecursionError:  # thousands of nested brackets: the parser gives up before our depth check
            raise _fail(source, f"rules nest deeper than {MAX_DEPTH} levels; flatten the rules") from None
    return _parse_group(data, source, 0)


def load_rules_file(path: str | Path) -> RuleGroup:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--rules {p}: cannot be read ({exc.strerror}); check the path") from None
    return parse_rules(text, str(p))


def _parse_group(data: Any, path: str, depth: int) -> RuleGroup:
    if depth > MAX_DEPTH:
        raise _fail(path, f"rules nest deeper than {MAX_DEPTH} levels; flatten the rules")
    if not isinstance(data, dict):
        raise _fail(path, 'a rule group must be an object: {"rules": [...], "logic": "AND" or "OR"}')
    unknown = set(data) - {"rules", "logic"}
    if unknown:
        raise _fail(
            path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; a group has rules and logic"
        )
    logic = data.get("logic", "AND")
    if not isinstance(logic, str) or logic.upper() not in ("AND", "OR"):
        raise _fail(f"{path}.logic", f"{logic!r} is not AND or OR")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise _fail(f"{path}.rules", "must be a non-empty list of conditions or groups")
    parsed: list[Condition | RuleGroup] = []
    for i, item in enumerate(rules):
        here = f"{path}.rules[{i}]"
        if isinstance(item, dict) and "rules" in item:
            parsed.append(_parse_group(item, here, depth + 1))
        else:
            parsed.append(_parse_condition(item, here))
    return RuleGroup(logic="AND" if logic.upper() == "AND" else "OR", rules=parsed)


def _parse_condition(data: Any, path: str) -> Condition:
    if not isinstance(data, dict):
        raise _fail(path, 'a condition must be an object: {"field": ..., "operator": ..., "value": ...}')
    unknown = set(data) - {"field", "operator", "value"}
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                          "a condition has field, operator and value")  # fmt: skip
    name = data.get("field")
    if name not in FIELDS:
        raise _fail(f"{path}.field", f"unknown field {name!r}; valid fields: {_field_list()}")
    spec = FIELDS[name]
    op = data.get("operator")
    allowed = _BY_TYPE[spec.type]
    if op not in allowed:
        raise _fail(f"{path}.operator", f"{op!r} does not apply to {name} ({spec.type}); "
                                        f"valid operators: {', '.join(allowed)}")  # fmt: skip
    value = data.get("value")
    if op == "exists":
        if "value" in data and not isinstance(value, bool):
            raise _fail(f"{path}.value", "exists takes true or false (or no value, meaning true)")
        value = True if value is None else value
    elif "value" not in data:
        raise _fail(f"{path}.value", f"missing; {op} needs a value")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _fail(
                f"{path}.value", f'{op} needs a non-empty list, e.g. ["Champions", "Loyal Customers"]'
            )
        for j, v in enumerate(value):
            _check_scalar(spec, v, f"{path}.value[{j}]")
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(f"{path}.value", "between needs a list of two values [low, high] (both included)")
        for j, v in enumerate(value):
            _check_scalar(spec, v, f"{path}.value[{j}]")
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise _fail(f"{path}.value", "contains needs a non-empty text")
    elif op in _PERCENT:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
            raise _fail(f"{path}.value", f"{op} needs a percentage above 0 and below 100, e.g. 10 for the "
                                         f"{op.split('_')[0]} 10%, not {value!r}")  # fmt: skip
    else:
        _check_scalar(spec, value, f"{path}.value")
    return Condition(field=name, operator=op, value=value)


def _check_scalar(spec: FieldSpec, value: Any, path: str) -> None:
    kind = spec.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(path, f"{spec.name} is true or false, not {value!r}")
    elif kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            if spec.days and isinstance(value, str) and _CYCLES.match(value):
                return
            hint = ' or "N_cycles" (repurchase cycles)' if spec.days else ""
            raise _fail(path, f"{spec.name} needs a number{hint}, not {value!r}")
    elif kind == "date":
        if isinstance(value, dt.date):
            return
        if not isinstance(value, str) or not (value == "as_of" or _RELATIVE.match(value) or _iso(value)):
            raise _fail(path, f"{spec.name} needs a date (YYYY-MM-DD) or a relative date such as "
                              f"\"90_days_ago\", not {value!r}")  # fmt: skip
    elif not isinstance(value, str):
        raise _fail(path, f"{spec.name} needs text, not {value!r}")


def _iso(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def resolve_value(spec: FieldSpec, value: Any, ctx: Context) -> Any:
    """Turn a relative date or a cycle count into a concrete value."""
    if spec.type == "date" and isinstance(value, str):
        if value == "as_of":
            return ctx.as_of
        m = _RELATIVE.match(value)
        if m:
            n, unit = int(m.group(1)), m.group(2).rstrip("s")
            if unit == "day":
                return ctx.as_of - dt.timedelta(days=n)
            if unit == "week":
                return ctx.as_of - dt.timedelta(weeks=n)
            return _months_back(ctx.as_of, n * (12 if unit == "year" else 1))
        return dt.date.fromisoformat(value)
    if spec.days and isinstance(value, str):
        m = _CYCLES.match(value)
        if m:
            if ctx.repurchase_cycle_days is None:
                raise InputError(
                    f"{spec.name} {value}: the snapshot has no repurchase cycle; use a day count"
                )
            return round(float(m.group(1)) * ctx.repurchase_cycle_days, 1)
    return value


def fields_used(group: RuleGroup) -> set[str]:
    names: set[str] = set()
    for rule in group.rules:
        names |= fields_used(rule) if isinstance(rule, RuleGroup) else {rule.field}
    return names


def compile_rules(group: RuleGroup, ctx: Context) -> tuple[str, list[Any]]:
    """A WHERE clause over the customer table and its parameters. Raises InputError if data is missing."""
    if not ctx.has_items:
        missing = sorted(n for n in fields_used(group) if FIELDS[n].needs_items)
        if missing:
            raise InputError(
                f"{', '.join(missing)} need line items with a product column; this data has none "
                "(export orders with line items, e.g. Shopify's orders export)"
            )
    params: list[Any] = []
    return _compile_group(group, ctx, params), params


def _compile_group(group: RuleGroup, ctx: Context, params: list[Any]) -> str:
    parts = [
        _compile_group(r, ctx, params) if isinstance(r, RuleGroup) else _compile_condition(r, ctx, params)
        for r in group.rules
    ]
    return "(" + f" {group.logic} ".join(parts) + ")"


_CMP = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compile_condition(cond: Condition, ctx: Context, params: list[Any]) -> str:
    spec = FIELDS[cond.field]
    col = f'"{spec.column}"'  # from the fixed registry, never from user text
    op = cond.operator
    if op == "exists":
        return f"({col} IS {'NOT ' if cond.value else ''}NULL)"
    if op == "contains":
        params.append(cond.value)
        return f"coalesce(contains(lower({col}), lower(?)), FALSE)"
    if op in ("in", "not_in"):
        values = [resolve_value(spec, v, ctx) for v in cond.value]
        params.extend(values)
        marks = ", ".join("?" for _ in values)
        return f"({col} IN ({marks}))" if op == "in" else f"(NOT coalesce({col} IN ({marks}), FALSE))"
    if op in _PERCENT:
        if ctx.population is None:
            raise InputError(f"{cond.field} {op}: a percentile rule needs the scored customers to rank")
        order, pick, cmp = ("DESC", "min", ">=") if op == "top_percent" else ("ASC", "max", "<=")
        params.append(float(cond.value) / 100)
        cut = (
            f"(SELECT {pick}(v) FROM (SELECT {col} AS v, row_number() OVER (ORDER BY {col} {order}) AS rn, "
            f"count(*) OVER () AS n FROM {ctx.population} AND {col} IS NOT NULL) WHERE rn <= ceil(n * ?))"
        )
        return f"({col} {cmp} {cut})"
    if op == "between":
        low, high = (resolve_value(spec, v, ctx) for v in cond.value)
        params.extend([low, high])
        return f"({col} BETWEEN ? AND ?)"
    params.append(resolve_value(spec, cond.value, ctx))
    if op == "ne":
        return f"({col} IS DISTINCT FROM ?)"
    return f"({col} {_CMP[op]} ?)"


def rules_to_json(group: RuleGroup) -> str:
    """Canonical JSON of a rule tree (stored with a segment definition)."""
    return json.dumps(group.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


_WORDS = {"eq": "=", "ne": "is not", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "in": "in", "not_in": "not in",
          "contains": "contains"}  # fmt: skip


def describe_rules(group: RuleGroup) -> str:
    """A rule tree in words, e.g. ``lifecycle_stage = lapsed AND total_spent in the top 10%``."""
    parts = []
    for rule in group.rules:
        if isinstance(rule, RuleGroup):
            parts.append(f"({describe_rules(rule)})")
            continue
        op, value = rule.operator, rule.value
        if op == "exists":
            parts.append(f"{rule.field} {'is known' if value else 'is unknown'}")
        elif op in _PERCENT:
            parts.append(f"{rule.field} in the {op.split('_')[0]} {value:g}% of the snapshot's customers")
        elif op == "between":
            parts.append(f"{rule.field} between {value[0]} and {value[1]}")
        elif isinstance(value, list):
            parts.append(f"{rule.field} {_WORDS[op]} {', '.join(map(str, value))}")
        else:
            parts.append(f"{rule.field} {_WORDS[op]} {value}")
    return f" {group.logic} ".join(parts)
