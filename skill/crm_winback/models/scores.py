"""What scoring decided: cut points, the segment health scorecard and the model outlook (crm_winback.scoring)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from . import StrictModel
from .backtest import BacktestReport
from .predictions import GroupEstimates
from .profiles import ProfileReport

Method = Literal["fixed", "quantile"]
ChurnRiskMethod = Literal["BG/NBD P(alive)", "heuristic", "backtest"]


class BinReport(StrictModel):
    dimension: str
    basis: str
    bins_filled: int
    cut_points: list[float] | None
    note: str


class ScorecardRow(StrictModel):
    group: str
    customers: int
    share: float
    revenue: float | None
    revenue_share: float | None
    aov: float | None
    avg_orders: float
    median_days_since_last_order: float | None
    churn_risk_low: int
    churn_risk_medium: int
    churn_risk_high: int
    email_reachable: int | None
    sms_reachable: int | None
    previous_customers: int | None = None  # in the previous snapshot, when the store has one
    # with --profiles: customers per engagement tier, and the engaged-or-warm share of those with a known tier
    engagement: dict[str, int] | None = None
    engagement_quality: float | None = None


class Scorecard(StrictModel):
    """The segment health scorecard: one row per segment and per lifecycle stage."""

    by_segment: list[ScorecardRow]
    by_lifecycle: list[ScorecardRow]
    total: ScorecardRow
    trend_from: str | None = None  # the snapshot the previous counts come from

    def with_trend(self, label: str, segments: dict[str, int], stages: dict[str, int]) -> Scorecard:
        """A copy whose rows carry the customer counts of an earlier snapshot (0 where a group was empty)."""

        def rows(current: list[ScorecardRow], before: dict[str, int]) -> list[ScorecardRow]:
            return [r.model_copy(update={"previous_customers": before.get(r.group, 0)}) for r in current]

        total = self.total.model_copy(update={"previous_customers": sum(segments.values())})
        return self.model_copy(
            update={
                "by_segment": rows(self.by_segment, segments),
                "by_lifecycle": rows(self.by_lifecycle, stages),
                "total": total,
                "trend_from": label,
            }
        )


class SegmentOutlook(GroupEstimates):
    """Model estimates over one group of customers (an RFM segment, a lifecycle stage, or all).

    ``winback_days_*`` are quartiles of the days from the last order to the winback date (the day P(alive)
    falls to the threshold without a new order), over the customers that have a date; one-time buyers all
    share the shop-level date (``shop_level_share``).
    """

    winback_days_p25: float | None
    winback_days_median: float | None
    winback_days_p75: float | None
    shop_level_share: float
    winback_passed_share: float


class ModelOutlook(StrictModel):
    """Scoring with predict: which churn-risk method was used, and the model's per-group estimates."""

    churn_risk_method: ChurnRiskMethod
    fallback_reason: str | None
    forecast_model: str = "BG/NBD"  # the model that gave the per-customer numbers (the backtest's forecaster)
    horizon_days: int
    threshold: float
    time_unit: str
    parameters: dict[str, float]
    notes: list[str]
    overall: SegmentOutlook | None
    by_segment: list[SegmentOutlook]
    by_lifecycle: list[SegmentOutlook]
    backtest: BacktestReport | None = None  # how churn risk was chosen, on the shop's own past


class ScoreSummary(StrictModel):
    """What scoring decided, for the report: method, cut points, cycle, and the scorecard."""

    method: Method
    as_of: dt.date
    customers: int
    repurchase_cycle_days: float
    repurchase_cycle_source: str
    churn_risk_source: str
    monetary_available: bool
    bins: list[BinReport]
    notes: list[str]
    scorecard: Scorecard
    predictions: ModelOutlook | None = None  # when scoring was asked to predict
    profiles: ProfileReport | None = None  # with --profiles: the platform's consent and engagement joined
