"""Structured results of the tools that do not return a core model as it is.

Tools that do declare the shared model from crm_winback.models, which imports only pydantic, so registering
the tools at start-up imports no DuckDB. What is here wraps those models with what only the server adds (a
summary file, the written document, the store file, masked contacts).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..models import StrictModel
from ..models.backtest import RECENCY, BacktestReport, ModelCheck
from ..models.documents import Assumption, Slot
from ..models.predictions import PredictionSummary
from ..models.quality import QualityReport
from ..models.scores import ModelOutlook, ScoreSummary, SegmentOutlook
from ..models.store import (
    MemberRow,
    SavedSnapshot,
    SegmentKind,
    SnapshotInfo,
)

# -- digests: where a core result is too large for the model's context (budget.RESULT_BUDGET), the tool
# returns the part the agent reads and writes the whole to a file it names.


class BacktestDigest(StrictModel):
    """The backtest as the user reads it; every model's bands and the winback rules stay in ``detail``."""

    status: str
    rule: str = Field(description="how the calibration end was chosen")
    calibration_end: str | None
    holdout_days: int | None
    customers: int = Field(description="customers first seen on or before the calibration end")
    chosen: str = Field(description="the ranking churn risk uses: a model, or 'recency alone'")
    summary_lines: list[str] = Field(description="show these to the user before any model number")
    detail: str = Field(description="the file and key holding the full backtest")

    @classmethod
    def of(cls, report: BacktestReport, file: str, key: str) -> BacktestDigest:
        return cls(
            status=report.status, rule=report.rule, calibration_end=report.calibration_end,
            holdout_days=report.holdout_days, customers=report.customers,
            chosen=report.chosen, summary_lines=report.summary_lines(), detail=f"{file}: {key}",
        )  # fmt: skip


class PredictBacktest(BacktestDigest):
    """predict_customers' backtest: the digest with the checks of recency alone and the chosen ranking."""

    checks: list[ModelCheck] = Field(
        description="recency alone and the chosen ranking, with their bands; every model's check is in detail"
    )

    @classmethod
    def of(cls, report: BacktestReport, file: str, key: str) -> PredictBacktest:
        digest = BacktestDigest.of(report, file, key)
        shown = [c for c in report.checks if c.name in (RECENCY, report.chosen)]
        return cls(**digest.model_dump(), checks=shown)


class PredictionsDigest(StrictModel):
    """score_customers with predict: how churn risk was ranked; the per-group estimates stay in ``detail``."""

    churn_risk_method: str
    fallback_reason: str | None
    horizon_days: int
    threshold: float
    notes: list[str]
    overall: SegmentOutlook | None
    backtest: BacktestDigest | None
    detail: str = Field(description="where the per-segment and per-stage estimates are")

    @classmethod
    def of(cls, outlook: ModelOutlook, file: str) -> PredictionsDigest:
        key = "scoring.predictions"
        return cls(
            churn_risk_method=outlook.churn_risk_method, fallback_reason=outlook.fallback_reason,
            horizon_days=outlook.horizon_days, threshold=outlook.threshold, notes=outlook.notes,
            overall=outlook.overall,
            backtest=BacktestDigest.of(outlook.backtest, file, f"{key}.backtest") if outlook.backtest else None,
            detail=f"{file}: {key}.by_segment and .by_lifecycle (per segment: predict_customers)",
        )  # fmt: skip


class ScoringResult(ScoreSummary):
    predictions: PredictionsDigest | None = None  # type: ignore[assignment]


class PredictResult(PredictionSummary):
    backtest: PredictBacktest | None = None  # type: ignore[assignment]
    summary_file: str = Field(description="the whole result as JSON, the full backtest included")


class ScoreCustomersResult(StrictModel):
    quality: QualityReport
    scoring: ScoringResult
    snapshot: SavedSnapshot | None = Field(default=None, description="the store snapshot, when one was saved")
    scores_file: str = Field(description="per-customer scores (with contact columns) in the output folder")
    summary_file: str = Field(description="this result as JSON, for build_brief's scores_summary")


class PreviewRow(StrictModel):
    customer: str = Field(description="the customer id; emails and phone numbers masked")
    rfm_segment: str
    lifecycle_stage: str
    churn_risk: str
    recency_days: int
    orders: int
    net_total: float | None
    email: str | None
    phone: str | None
    name: str | None
    email_consent: bool | None
    sms_consent: bool | None


class PreviewResult(StrictModel):
    scores_file: str
    matching_customers: int
    rows: list[PreviewRow]
    note: str


class DocumentResult(StrictModel):
    """A built brief or plan: written to a file, with the slots to fill; the markdown itself on request."""

    kind: str
    file: str = Field(
        description="the markdown skeleton in the output folder; fill its narrative slots there"
    )
    characters: int
    slots: list[Slot] = Field(
        description="each <!-- narrative:ID: instruction --> comment to replace with prose"
    )
    assumptions: list[Assumption]
    certainty: str
    markdown: str | None = Field(description="the skeleton itself, only when include_markdown was asked")
    next_step: str


class ContextSchemaResult(StrictModel):
    json_schema: dict[str, Any] = Field(description="the JSON schema of build_brief's context argument")
    note: str


# -- the customer store: crm_winback.models.store, with the store file and a note


class SaveSnapshotResult(StrictModel):
    store: str = Field(description="the customer store file the snapshot is in")
    snapshot: SnapshotInfo


class SnapshotList(StrictModel):
    store: str = Field(description="the customer store file")
    snapshots: list[SnapshotInfo] = Field(description="oldest as-of date first")


class MemberPage(StrictModel):
    segment: str
    kind: SegmentKind
    snapshot: SnapshotInfo
    total: int = Field(description="customers in the segment")
    limit: int
    offset: int
    contact_masked: bool
    members: list[MemberRow] = Field(description="highest net spend first, then customer id")
    note: str
