"""The document tools (context schema, brief, LTV plan, check), cohorts and predictions over MCP, and the
agent's workflow scripted end to end: context -> (score) -> brief -> fill every slot -> check passes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcp import Client

from crm_winback.brief.context import context_schema

from .mcp_support import call, error_text, ok, server_in, with_client, workspace

SLOT = re.compile(r"<!-- narrative:([a-z0-9-]+): (.*?) -->")
CONTEXT = {
    "brand_name": "Glow",
    "business_type": "dtc",
    "vertical": "skincare",
    "region": "US",
    "goal": "reactivate_lapsed",
    "channels": [{"channel": "email", "tool": "Klaviyo", "opt_in_rate": 0.6}],
    "max_discount": 0.15,
}


def fill(markdown: str) -> str:
    """What the agent does: replace every narrative comment with plain prose (no promises, no numbers)."""
    return SLOT.sub(lambda m: f"Placeholder prose for the {m.group(1)} slot, written by the agent.", markdown)


def test_get_context_schema_is_the_core_schema(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "get_context_schema"))
    assert result["json_schema"] == context_schema()
    assert "Shares are fractions" in result["note"]


def test_build_brief_names_every_context_field_without_embedding_the_schema(tmp_path: Path) -> None:
    tools = {t.name: t for t in with_client(server_in(tmp_path), lambda c: c.list_tools()).tools}
    context = tools["build_brief"].input_schema["properties"]["context"]
    # every field by name; their types and allowed values are get_context_schema's result, not repeated here
    assert all(name in context["description"] for name in context_schema()["properties"])
    assert "get_context_schema" in context["description"]
    for name in ("build_brief", "plan_ltv", "build_programme"):
        assert "$defs" not in tools[name].input_schema and "$ref" not in str(tools[name].input_schema), name
        assert tools[name].input_schema["properties"]["context"]["type"] == "object"


def test_build_brief_writes_the_skeleton_and_returns_its_slots_not_its_text(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "build_brief", {"context": CONTEXT}))
    path = Path(result["file"])
    markdown = path.read_text()
    assert path == tmp_path / "crm-winback-out" / "brief.md"
    assert result["markdown"] is None and result["characters"] == len(markdown)
    assert result["slots"]
    assert [s["id"] for s in result["slots"]] == [m[0] for m in SLOT.findall(markdown)]
    assert result["certainty"] == "low"  # notes only
    assert len(json.dumps(result)) / 4 < 4000


def test_build_brief_never_replaces_an_earlier_file(tmp_path: Path) -> None:
    server = server_in(tmp_path)
    first = ok(call(server, "build_brief", {}))["file"]
    Path(first).write_text("filled by the agent")
    second = ok(call(server, "build_brief", {"include_markdown": True}))
    assert Path(first).read_text() == "filled by the agent"
    assert second["file"] == str(tmp_path / "crm-winback-out" / "brief-2.md")
    assert second["markdown"] == Path(second["file"]).read_text()


def test_document_tools_refuse_bad_input(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    server = server_in(work)
    assert "context.bogus" in error_text(call(server, "build_brief", {"context": {"bogus": 1}}))
    assert "repeat_rate" in error_text(call(server, "build_brief", {"context": {"repeat_rate": 28}}))
    both = {"scores_summary": "x.json", "file": "orders.csv"}
    assert "not both" in error_text(call(server, "plan_ltv", both))
    not_json = error_text(call(server, "build_brief", {"scores_summary": "orders.csv"}))
    assert "scores_summary" in not_json and "summary_file that score_customers returned" in not_json
    assert "--scores" not in not_json and "ana.lopez" not in not_json
    assert "plain file name" in error_text(call(server, "build_brief", {"output_name": "../b.md"}))
    assert ".md" in error_text(call(server, "build_brief", {"output_name": "b.txt"}))
    assert "either file" in error_text(call(server, "check_brief", {}))
    assert "either file" in error_text(call(server, "check_brief", {"file": "a.md", "text": "b"}))
    assert "no such file" in error_text(call(server, "check_brief", {"file": "a.md"}))
    assert "paths with '..'" in error_text(call(server, "check_brief", {"file": "../a.md"}))


def test_check_brief_reports_an_unfilled_skeleton(tmp_path: Path) -> None:
    server = server_in(tmp_path)
    built = ok(call(server, "build_brief", {"context": CONTEXT}))
    report = ok(call(server, "check_brief", {"file": built["file"]}))
    assert report["kind"] == "brief"
    assert len(report["unfilled_slots"]) == len(built["slots"])


def test_check_brief_flags_a_promised_result(tmp_path: Path) -> None:
    server = server_in(tmp_path)
    built = ok(call(server, "build_brief", {"context": CONTEXT, "include_markdown": True}))
    text = fill(built["markdown"]).replace(
        "Placeholder prose for the summary slot",
        "This flow is guaranteed to win back 40% of lapsed customers",
    )
    report = ok(call(server, "check_brief", {"text": text}))
    assert report["passed"] is False
    assert any(not flag["passed"] and flag["line"] for flag in report["red_flags"])


async def agent_workflow(client: Client, with_data: bool) -> dict[str, Any]:
    """The steps SKILL.md prescribes, as an agent would call them."""
    schema = (await client.call_tool("get_context_schema", {})).structured_content
    assert schema is not None and "vertical" in schema["json_schema"]["properties"]
    args: dict[str, Any] = {"context": CONTEXT}
    if with_data:
        profile = (await client.call_tool("profile_orders", {"file": "orders.csv"})).structured_content
        assert profile is not None and profile["customers"] == 6
        scored = (await client.call_tool("score_customers", {"file": "orders.csv"})).structured_content
        assert scored is not None
        args["scores_summary"] = scored["summary_file"]
    built = await client.call_tool("build_brief", args)
    assert not built.is_error, built.content
    path = Path(built.structured_content["file"])  # type: ignore[index]
    path.write_text(fill(path.read_text()))
    report = await client.call_tool("check_brief", {"file": str(path)})
    assert not report.is_error, report.content
    return {
        "built": built.structured_content,
        "report": report.structured_content,
        "markdown": path.read_text(),
    }


def test_agent_workflow_from_notes_only_passes_the_check(tmp_path: Path) -> None:
    out = with_client(server_in(workspace(tmp_path)), lambda c: agent_workflow(c, with_data=False))
    assert out["report"]["unfilled_slots"] == []
    assert out["report"]["passed"] is True, [c for c in out["report"]["criteria"] if not c["passed"]]
    assert out["built"]["certainty"] == "low"


def test_agent_workflow_with_data_passes_the_check_and_uses_the_measured_numbers(tmp_path: Path) -> None:
    out = with_client(server_in(workspace(tmp_path)), lambda c: agent_workflow(c, with_data=True))
    assert out["report"]["unfilled_slots"] == []
    assert out["report"]["passed"] is True, [c for c in out["report"]["criteria"] if not c["passed"]]
    assert "notes only" not in out["markdown"]
    assert any(a["field"] for a in out["built"]["assumptions"])


def test_plan_ltv_writes_the_plan(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "plan_ltv", {"context": CONTEXT, "file": "orders.csv"}))
    assert result["kind"] == "ltv-plan"
    assert Path(result["file"]) == work / "crm-winback-out" / "ltv-plan.md"
    assert result["slots"]


def test_build_cohorts_on_the_fixture(tmp_path: Path) -> None:
    result = ok(
        call(server_in(workspace(tmp_path)), "build_cohorts", {"file": "orders.csv", "as_of": "2024-06-30"})
    )
    # One customer per first-order month; C003 (2023-07) came back in September (month 2), C005 (2023-12) in
    # June (month 6), C001 (2024-01) in March (month 2). Months not ended by 2024-06-30 are None.
    assert result == {
        "as_of": "2024-06-30",
        "months": [1, 2, 3, 6, 12],
        "rows": [
            {"cohort": "2023-07", "customers": 1, "m1": 0.0, "m2": 1.0, "m3": 0.0, "m6": 0.0, "m12": None, "revenue": 550.0},
            {"cohort": "2023-12", "customers": 1, "m1": 0.0, "m2": 0.0, "m3": 0.0, "m6": 1.0, "m12": None, "revenue": 75.0},
            {"cohort": "2024-01", "customers": 1, "m1": 0.0, "m2": 1.0, "m3": 0.0, "m6": None, "m12": None, "revenue": 300.0},
            {"cohort": "2024-02", "customers": 1, "m1": 0.0, "m2": 0.0, "m3": 0.0, "m6": None, "m12": None, "revenue": 40.0},
            {"cohort": "2024-04", "customers": 1, "m1": 0.0, "m2": 0.0, "m3": None, "m6": None, "m12": None, "revenue": 500.0},
            {"cohort": "2024-06", "customers": 1, "m1": None, "m2": None, "m3": None, "m6": None, "m12": None, "revenue": 60.0},
        ],
    }  # fmt: skip


def test_predict_customers_needs_repeat_buyers(tmp_path: Path) -> None:
    text = error_text(call(server_in(workspace(tmp_path)), "predict_customers", {"file": "orders.csv"}))
    assert "repeat buyers" in text


def test_predict_customers_on_the_bundled_example(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "predict_customers", {"example": "cdnow", "horizon_days": 180}))
    assert result["customers"] == 23570 and result["options"]["horizon_days"] == 180
    assert result["predictions_file"] == str(tmp_path / "crm-winback-out" / "CDNOW_master-predictions.csv")
    assert Path(result["predictions_file"]).stat().st_size > 0
    assert 0 < result["overall"]["mean_p_alive"] < 1
    assert len(json.dumps(result)) / 4 < 4000


def test_build_programme_with_orders_writes_the_programme(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "build_programme", {"context": CONTEXT, "file": "orders.csv"}))
    assert result["kind"] == "programme" and result["slots"]
    assert Path(result["file"]) == work / "crm-winback-out" / "programme.md"


def test_lookup_knowledge_filters_the_trigger_library_by_stage(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "lookup_knowledge", {"topic": "triggers", "segment": "lapsed"}))
    assert result["topic"] == "triggers" and result["file"] == "winback_triggers.yaml"
    assert result["items"] and {item["stage"] for item in result["items"]} == {"lapsed"}


def test_lookup_knowledge_refuses_an_unknown_topic(tmp_path: Path) -> None:
    assert "topic" in error_text(call(server_in(tmp_path), "lookup_knowledge", {"topic": "astrology"}))
