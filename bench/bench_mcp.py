"""Benchmark the MCP server: start-up (spawn -> initialize -> tools/list) and the size of every tool's result.

    .venv/bin/python bench/bench_mcp.py                      # start-up only, 5 runs of each launcher
    .venv/bin/python bench/bench_mcp.py --file orders.csv    # plus result sizes on that file
    .venv/bin/python bench/bench_mcp.py --example cdnow      # result sizes on the bundled example

Sizes are in approximate tokens (characters / 4) of what the model reads: the tool's text content, which the
SDK fills with the JSON of the structured result. The goal is every result under 4,000 tokens whatever the
file's size. The server runs in a temporary folder; the file is reached through --allow-dir.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

LAUNCHERS = {
    "crm-winback mcp": ["-c", "from crm_winback.cli import main; raise SystemExit(main())", "mcp"],
    "python -m crm_winback.mcp_server": ["-m", "crm_winback.mcp_server"],
}
BUDGET_TOKENS = 4000


async def startup(args: list[str], cwd: str) -> tuple[float, int]:
    params = StdioServerParameters(command=sys.executable, args=args, cwd=cwd)
    start = time.perf_counter()
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        elapsed = time.perf_counter() - start
    return elapsed, len(tools)


def tokens(result: Any) -> int:
    text = "".join(getattr(block, "text", "") for block in result.content)
    return len(text) // 4


async def sizes(source: dict[str, str], cwd: str, allow: list[str]) -> list[tuple[str, float, int, bool]]:
    args = [
        *LAUNCHERS["crm-winback mcp"],
        "--out-dir",
        "out",
        *[a for d in allow for a in ("--allow-dir", d)],
    ]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=cwd)
    rows: list[tuple[str, float, int, bool]] = []
    async with Client(params, read_timeout_seconds=3600) as client:

        async def run(label: str, name: str, arguments: dict[str, Any]) -> Any:
            start = time.perf_counter()
            result = await client.call_tool(name, arguments)
            rows.append((label, time.perf_counter() - start, tokens(result), result.is_error))
            return result

        await run("get_context_schema", "get_context_schema", {})
        await run("profile_orders", "profile_orders", source)
        scored = await run("score_customers", "score_customers", source)
        summary = scored.structured_content["summary_file"] if not scored.is_error else None
        if not scored.is_error:
            preview = {"scores_file": scored.structured_content["scores_file"], "limit": 20}
            await run("preview_customers (20 rows)", "preview_customers", preview)
        await run("predict_customers", "predict_customers", source)
        await run("build_cohorts", "build_cohorts", source)
        data = {"scores_summary": summary} if summary else {}
        brief = await run("build_brief", "build_brief", data)
        await run("plan_ltv", "plan_ltv", data)
        await run("build_programme", "build_programme", source)
        if not brief.is_error:
            await run("check_brief", "check_brief", {"file": brief.structured_content["file"]})
        for topic in ("triggers", "channels", "sequences", "messages", "levers"):
            await run(f"lookup_knowledge {topic}", "lookup_knowledge", {"topic": topic})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", help="an orders export to measure result sizes on")
    parser.add_argument("--example", choices=["cdnow"], help="measure result sizes on the bundled example")
    parser.add_argument("--runs", type=int, default=5, help="start-up runs per launcher (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as cwd:
        print("start-up: spawn -> initialize -> tools/list (seconds)")
        for label, launcher in LAUNCHERS.items():
            times = []
            for _ in range(args.runs):
                elapsed, n = anyio.run(startup, launcher, cwd)
                times.append(elapsed)
            print(f"  {label:<36} median {statistics.median(times):.3f}  min {min(times):.3f}  ({n} tools)")
        if not (args.file or args.example):
            return 0
        if args.file:
            path = Path(args.file).resolve()
            source, allow = {"file": str(path)}, [str(path.parent)]
        else:
            source, allow = {"example": args.example}, []
        print(
            f"\nresult sizes on {args.file or args.example} (tokens = characters / 4; budget {BUDGET_TOKENS:,})"
        )
        over = 0
        for label, seconds, size, error in anyio.run(sizes, source, cwd, allow):
            flag = "tool error" if error else ("OVER BUDGET" if size > BUDGET_TOKENS else "")
            over += size > BUDGET_TOKENS
            print(f"  {label:<30} {size:>6,} tokens  {seconds:>7.2f} s  {flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
