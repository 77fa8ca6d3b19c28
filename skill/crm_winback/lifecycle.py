"""Lifecycle stages and the heuristic churn risk, both measured against repurchase cycles.

``churn_risk`` is a seam: with ``score --predict`` the ranking that won the backtest replaces the heuristic
column (see scoring/predicted.py and predict/backtest.py).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .knowledge import KnowledgeModel, load_knowledge


class CycleRules(KnowledgeModel):
    min_repeat_customers: int = Field(ge=1)
    default_days: float = Field(gt=0)
    floor_days: float = Field(gt=0)


class StageRule(KnowledgeModel):
    stage: str
    description: str
    min_cycles_since_last_order: float | None = None
    max_orders: int | None = None
    min_orders: int | None = None
    top_spend_share: float | None = Field(default=None, gt=0, lt=1)


class PAliveBands(KnowledgeModel):
    """Churn risk from BG/NBD P(alive): low at or above ``low_from``, medium at or above ``medium_from``."""

    low_from: float = Field(gt=0, lt=1)
    medium_from: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> PAliveBands:
        if self.medium_from >= self.low_from:
            raise ValueError("medium_from must be below low_from")
        return self


class MeasuredBands(KnowledgeModel):
    """Churn-risk bands of the backtest's ranking: where its measured no-order share reaches these levels."""

    medium_from: float = Field(gt=0, lt=1)
    high_from: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> MeasuredBands:
        if self.high_from <= self.medium_from:
            raise ValueError("high_from must be above medium_from")
        return self


class ChurnRiskRules(KnowledgeModel):
    min_purchase_days_for_own_gap: int = Field(ge=2)
    prior_gaps: float = Field(ge=0, description="weight of the shop's cycle, in gaps, in the expected gap")
    medium_above: float = Field(gt=0)
    high_above: float = Field(gt=0)
    p_alive: PAliveBands
    measured_bands: MeasuredBands


class LifecycleRules(KnowledgeModel):
    repurchase_cycle: CycleRules
    stages: list[StageRule] = Field(min_length=1)
    churn_risk: ChurnRiskRules


def lifecycle_rules() -> LifecycleRules:
    return load_knowledge("lifecycle.yaml", LifecycleRules)


def repurchase_cycle(median_gap: float | None, repeat_customers: int) -> tuple[float, str]:
    """The shop's cycle in days and where it came from (measured, or the default when too few repeat)."""
    rules = lifecycle_rules().repurchase_cycle
    if median_gap is None or repeat_customers < rules.min_repeat_customers:
        return rules.default_days, (
            f"default {rules.default_days:g} days: only {repeat_customers} repeat customers "
            f"(need {rules.min_repeat_customers}) to measure it"
        )
    if median_gap < rules.floor_days:
        return rules.floor_days, f"floor of {rules.floor_days:g} days (measured median gap {median_gap:g})"
    return float(
        median_gap
    ), f"measured: median days between purchase days ({repeat_customers:,} repeat customers)"


def stage_sql(cycle: float, vip_cut: str) -> str:
    """SQL CASE giving the stage of a row of ``customers`` (columns recency_days, orders, spend_rank_value)."""
    arms = []
    for rule in lifecycle_rules().stages:
        conds = []
        if rule.min_cycles_since_last_order is not None:
            conds.append(f"recency_days > {rule.min_cycles_since_last_order * cycle!r}")
        if rule.max_orders is not None:
            conds.append(f"orders <= {rule.max_orders}")
        if rule.min_orders is not None:
            conds.append(f"orders >= {rule.min_orders}")
        if rule.top_spend_share is not None:
            conds.append(f"spend_value >= {vip_cut}")
        arms.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN '{rule.stage}'")
    return f"(CASE {' '.join(arms)} ELSE 'active' END)"


def vip_share() -> float:
    for rule in lifecycle_rules().stages:
        if rule.top_spend_share is not None:
            return rule.top_spend_share
    return 0.1


RISK_LEVELS = ("low", "medium", "high")  # every value of churn_risk


def stage_names() -> list[str]:
    return [rule.stage for rule in lifecycle_rules().stages]


def churn_risk_sql(cycle: float) -> str:
    """Heuristic churn risk from how far past their expected next order a customer is."""
    rules = lifecycle_rules().churn_risk
    ratio = f"(recency_days / {expected_gap_sql(cycle)})"
    low, medium, high = RISK_LEVELS
    return (
        f"(CASE WHEN {ratio} > {rules.high_above!r} THEN '{high}' "
        f"WHEN {ratio} > {rules.medium_above!r} THEN '{medium}' ELSE '{low}' END)"
    )


def expected_gap_sql(cycle: float) -> str:
    rules = lifecycle_rules().churn_risk
    own, gaps, prior = "greatest(median_days_between, 1)", "(purchase_days - 1)", rules.prior_gaps
    return (
        f"(CASE WHEN purchase_days >= {rules.min_purchase_days_for_own_gap} "
        f"THEN ({gaps} * {own} + {prior!r} * {cycle!r}) / ({gaps} + {prior!r}) ELSE {cycle!r} END)"
    )


def p_alive_risk_sql(column: str = "p_alive") -> str:
    """Churn risk from P(alive), banded by knowledge/lifecycle.yaml churn_risk.p_alive."""
    bands = lifecycle_rules().churn_risk.p_alive
    low, medium, high = RISK_LEVELS
    return (
        f"(CASE WHEN {column} >= {bands.low_from!r} THEN '{low}' "
        f"WHEN {column} >= {bands.medium_from!r} THEN '{medium}' ELSE '{high}' END)"
    )
