"""The tools declare the core's own result models, so what the core returns and what the schema says are one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from crm_winback.api import ScoreResult
from crm_winback.brief.api import BuiltDocument, KnowledgeAnswer
from crm_winback.brief.assumptions import Assumption
from crm_winback.brief.check import CheckReport
from crm_winback.brief.plan import Slot
from crm_winback.cohorts import CohortTable
from crm_winback.ingest.quality import QualityReport
from crm_winback.mcp_server import results
from crm_winback.predict.service import PredictionSummary
from crm_winback.scoring.score import ScoreSummary

from .mcp_support import server_in, with_client

# tool -> the core model it returns as it is (predict_customers returns a digest of its backtest: see below)
CORE_OUTPUTS: dict[str, type[BaseModel]] = {
    "profile_orders": QualityReport, "check_brief": CheckReport, "lookup_knowledge": KnowledgeAnswer,
    "build_cohorts": CohortTable,
}  # fmt: skip


@pytest.mark.parametrize(("tool", "core"), CORE_OUTPUTS.items())
def test_tool_output_schema_is_the_core_model_schema(
    tmp_path: Path, tool: str, core: type[BaseModel]
) -> None:
    tools = {t.name: t for t in with_client(server_in(tmp_path), lambda c: c.list_tools()).tools}
    assert tools[tool].output_schema == core.model_json_schema()


def test_server_results_wrap_the_core_models_themselves() -> None:
    assert results.ScoreCustomersResult.model_fields["quality"].annotation is QualityReport
    # the core's scoring and prediction models, with only the backtest digested (the whole is in summary_file)
    scoring = results.ScoreCustomersResult.model_fields["scoring"].annotation
    assert scoring is results.ScoringResult and issubclass(scoring, ScoreSummary)
    assert set(scoring.model_fields) == set(ScoreSummary.model_fields)
    assert scoring.model_fields["predictions"].annotation == results.PredictionsDigest | None
    assert issubclass(results.PredictResult, PredictionSummary)
    assert set(results.PredictResult.model_fields) == set(PredictionSummary.model_fields) | {"summary_file"}
    assert results.PredictResult.model_fields["backtest"].annotation == results.PredictBacktest | None
    assert results.DocumentResult.model_fields["slots"].annotation == list[Slot]
    assert results.DocumentResult.model_fields["assumptions"].annotation == list[Assumption]


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
