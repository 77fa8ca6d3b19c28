"""One real session over stdio: `crm-winback mcp` in a subprocess, as Claude Code and OpenClaw start it."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from .mcp_support import workspace

CLI = "from crm_winback.cli import main; raise SystemExit(main())"


def test_stdio_session_lists_tools_scores_the_example_and_builds_a_brief(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    params = StdioServerParameters(
        command=sys.executable, args=["-c", CLI, "mcp", "--out-dir", "results"], cwd=str(work)
    )

    async def session() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"profile_orders", "score_customers", "build_brief", "check_brief"} <= names
            scored = await client.call_tool("score_customers", {"example": "cdnow"})
            assert not scored.is_error, scored.content
            result = scored.structured_content
            assert result["scoring"]["customers"] == 23570
            assert result["scores_file"] == str(work / "results" / "CDNOW_master-scores.csv")
            brief = await client.call_tool(
                "build_brief", {"context": {"vertical": "music"}, "scores_summary": result["summary_file"]}
            )
            assert not brief.is_error, brief.content
            assert Path(brief.structured_content["file"]).read_text().startswith("<!-- crm-winback:brief -->")
            refused = await client.call_tool("profile_orders", {"file": "/etc/hostname"})
            assert refused.is_error
            assert getattr(refused.content[0], "text", "").startswith(
                "file /etc/hostname: outside the folders"
            )
            nul = await client.call_tool("profile_orders", {"file": "x\x00.csv", "as_of": "soon"})
            assert nul.is_error
            assert getattr(nul.content[0], "text", "").startswith(
                "invalid arguments - as_of: should be a valid date"
            )

    anyio.run(session)
    assert sorted(p.name for p in (work / "results").iterdir()) == [
        "CDNOW_master-scores.csv", "CDNOW_master-scores.json", "brief.md",
    ]  # fmt: skip
