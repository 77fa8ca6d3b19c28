"""The server's result models mirror the core's field for field (they exist to keep DuckDB out of start-up)."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest
from pydantic import BaseModel

from crm_winback.api import ScoreResult
from crm_winback.brief.api import BuiltDocument, KnowledgeAnswer
from crm_winback.brief.assumptions import Assumption
from crm_winback.brief.check import CheckReport, Criterion
from crm_winback.brief.plan import Slot
from crm_winback.cohorts import CohortRow, CohortTable
from crm_winback.ingest.quality import Exclusion, QualityReport
from crm_winback.mcp_server import results
from crm_winback.predict.bgnbd import BgNbdParams
from crm_winback.predict.gamma_gamma import GammaGammaParams
from crm_winback.predict.service import GroupSummary, PredictionSummary, PredictOptions
from crm_winback.scoring.predicted import ModelOutlook, SegmentOutlook
from crm_winback.scoring.score import BinReport, ScoreSummary
from crm_winback.scoring.scorecard import Scorecard, ScorecardRow

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (QualityReport, results.QualityReport), (Exclusion, results.Exclusion), (ScoreSummary, results.ScoreSummary),
    (BinReport, results.BinReport), (Scorecard, results.Scorecard), (ScorecardRow, results.ScorecardRow),
    (Slot, results.Slot), (Assumption, results.Assumption), (CheckReport, results.CheckReport),
    (Criterion, results.Criterion), (PredictionSummary, results.PredictionSummary),
    (PredictOptions, results.PredictOptions), (BgNbdParams, results.BgNbdParams),
    (GammaGammaParams, results.GammaGammaParams), (GroupSummary, results.GroupSummary),
    (CohortTable, results.CohortTable), (CohortRow, results.CohortRow), (KnowledgeAnswer, results.KnowledgeAnswer),
    (ModelOutlook, results.ModelOutlook), (SegmentOutlook, results.SegmentOutlook),
]  # fmt: skip
MIRRORS = {core: mirror for core, mirror in PAIRS}


def _shape(annotation: object) -> object:
    """An annotation with every core model replaced by its mirror and Literal values made comparable."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return MIRRORS.get(annotation, annotation)
    args = typing.get_args(annotation)
    if not args:
        return annotation
    if typing.get_origin(annotation) is typing.Literal:
        return ("Literal", frozenset(args))
    return (typing.get_origin(annotation), frozenset(_shape(a) for a in args))


@pytest.mark.parametrize(("core", "mirror"), PAIRS, ids=[c.__name__ for c, _ in PAIRS])
def test_mirror_has_the_core_fields_with_the_same_types(
    core: type[BaseModel], mirror: type[BaseModel]
) -> None:
    core_fields = {n: _shape(f.annotation) for n, f in core.model_fields.items()}
    mirror_fields = {n: _shape(f.annotation) for n, f in mirror.model_fields.items()}
    assert mirror_fields == core_fields


def test_score_and_document_results_add_only_their_own_fields() -> None:
    assert set(results.ScoreCustomersResult.model_fields) == set(ScoreResult.model_fields) | {"summary_file"}
    own = {"file", "characters", "next_step"}
    assert set(results.DocumentResult.model_fields) == set(BuiltDocument.model_fields) | own


def test_building_the_server_imports_no_heavy_module() -> None:
    code = (
        "import sys; from crm_winback.mcp_server.server import build_server; build_server(); "
        "print(sorted(m for m in ('duckdb', 'numpy', 'scipy', 'jinja2', 'crm_winback.api') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
