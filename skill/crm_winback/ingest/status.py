"""Which order statuses count as purchases (knowledge/order_status.yaml)."""

from __future__ import annotations

from ..knowledge import KnowledgeModel, load_knowledge
from .reader import sql_string


class StatusRules(KnowledgeModel):
    purchase: list[str]
    kept_flagged: list[str]
    excluded: list[str]


def status_class_sql(expr: str) -> str:
    """SQL giving 'purchase', 'kept_flagged', 'excluded' or 'unknown' for a status text (NULL -> NULL)."""
    rules = load_knowledge("order_status.yaml", StatusRules)
    norm = f"regexp_replace(lower(trim({expr})), '^wc-', '')"
    arms = []
    for cls in ("purchase", "kept_flagged", "excluded"):
        values = ", ".join(sql_string(v.lower()) for v in getattr(rules, cls))
        arms.append(f"WHEN {norm} IN ({values}) THEN '{cls}'")
    return f"(CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL {' '.join(arms)} ELSE 'unknown' END)"
