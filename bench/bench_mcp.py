"""Benchmark the MCP server: start-up, the size of the tool definitions, and the size of every tool's result.

    .venv/bin/python bench/bench_mcp.py                          # start-up and definitions only
    .venv/bin/python bench/bench_mcp.py --example cdnow           # plus every tool's results on the example
    .venv/bin/python bench/bench_mcp.py --example cdnow --file bench/out/orders_200k.csv   # a table per source

Tokens are approximated as characters / 4 of compact JSON (crm_winback.mcp_server.budget; no tokenizer is a
dependency). A definition is what a host puts in the model's context: name, description and input schema. A
result is the tool's text content, which the server fills with the compact JSON of the structured result.
Budgets (issue 16): all definitions together <= 5,000 tokens; any one result <= 2,500 tokens on any data size.
Every tool is called, most of them several ways (see ``session``); the table shows each tool's largest
result. The server runs over stdio in a temporary folder; a file is reached through --allow-dir.
``tests/test_mcp_budget.py`` runs the same session in memory on the real datasets and pins the budgets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from crm_winback.mcp_server.budget import (
    DEFINITIONS_BUDGET,
    RESULT_BUDGET,
    compact_json,
    definition,
    tokens,
)

LAUNCHERS = {
    "crm-winback mcp": ["-c", "from crm_winback.cli import main; raise SystemExit(main())", "mcp"],
    "python -m crm_winback.mcp_server": ["-m", "crm_winback.mcp_server"],
}
# A segment rule every store can answer, and the knowledge topics (each unfiltered: the largest answer).
RULES = {"rules": [{"field": "orders", "operator": "gte", "value": 2}]}
TOPICS = (
    "triggers", "channels", "offers", "messages", "sequences", "kpis", "levers", "programme", "consent",
    "red_flags", "profiles",
)  # fmt: skip
# Written into every slot of a brief to make check_brief report as much as it can: a promise, a discount,
# a claimed sync, an SMS without an opt-out.
BAD_PROSE = (
    "We guarantee this will recover 30% of lapsed customers and lift LTV by 25%. Offer 40% off to everyone. "
    "The segment was synced to Klaviyo and the flow is live. Send an SMS to the whole list tonight."
)


@dataclass
class Measured:
    tool: str
    call: str
    tokens: int
    seconds: float
    error: str | None


def result_tokens(result: Any) -> int:
    return tokens("".join(getattr(block, "text", "") for block in result.content))


def definition_tokens(tools: list[Any]) -> dict[str, int]:
    """Each tool's definition in tokens, as a host lists it to the model."""
    return {t.name: tokens(compact_json(definition(t.name, t.description, t.input_schema))) for t in tools}


async def session(
    client: Client, source: dict[str, str], products: dict[str, str] | None = None
) -> list[Measured]:
    """Call every tool on one orders source the way an agent would, measuring each result.

    ``profile_products`` needs a line-item export: it reads ``products`` when the source has no product column.
    """
    rows: list[Measured] = []

    async def run(tool: str, arguments: dict[str, Any], call: str = "") -> Any:
        start = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        error = " ".join(getattr(b, "text", "") for b in result.content) if result.is_error else None
        rows.append(Measured(tool, call, result_tokens(result), time.perf_counter() - start, error))
        return result.structured_content or {}

    await run("get_context_schema", {})
    profile = await run("profile_orders", source)
    last = dt.date.fromisoformat(profile["last_order_date"])
    scored = await run("score_customers", source)
    await run("score_customers", {**source, "method": "quantile", "output_name": "q-scores.csv"}, "quantile")
    predicted = await run(
        "score_customers", {**source, "predict": True, "output_name": "p-scores.csv"}, "predict"
    )
    await run("preview_customers", {"scores_file": scored["scores_file"], "limit": 20}, "20 rows")
    await run("predict_customers", source)
    await run("build_cohorts", source)
    context = {"business_type": "dtc", "lapse_days": 90, "max_discount": 0.15}
    brief = await run("build_brief", {"context": context, "scores_summary": predicted["summary_file"]})
    await run("plan_ltv", {"context": context, "scores_summary": scored["summary_file"]})
    await run("build_programme", {"context": context, **source})
    await run("check_brief", {"file": brief["file"]}, "unfilled")
    markdown = Path(brief["file"]).read_text(encoding="utf-8")
    bad = "\n".join(
        BAD_PROSE if line.startswith("<!-- narrative:") else line for line in markdown.splitlines()
    )
    await run("check_brief", {"text": bad}, "every slot a red flag")
    for topic in TOPICS:
        await run("lookup_knowledge", {"topic": topic}, topic)
    earlier = (last - dt.timedelta(days=180)).isoformat()
    await run("save_snapshot", {**source, "as_of": earlier}, "180 days earlier")
    await run("save_snapshot", source)
    await run("list_snapshots", {})
    await run("define_segment", {"name": "repeat buyers", "rules": RULES})
    await run("list_segments", {})
    await run("preview_segment_members", {"name": "repeat buyers", "limit": 20}, "20 rows")
    for by in ("rfm_segment", "lifecycle_stage", "churn_risk"):
        await run("get_segment_distribution", {"by": by}, by)
        await run("compare_snapshots", {"from_snapshot": "previous", "by": by}, by)
    await run("export_audience", {"segment": "lapsed", "format": "klaviyo"}, "lapsed")
    await run("build_report", source)
    await run("profile_products", products or source, "line items")
    return rows


def largest(rows: list[Measured]) -> dict[str, Measured]:
    """Each tool's largest result."""
    out: dict[str, Measured] = {}
    for row in rows:
        if row.tool not in out or row.tokens > out[row.tool].tokens:
            out[row.tool] = row
    return out


async def startup(args: list[str], cwd: str) -> tuple[float, list[Any]]:
    params = StdioServerParameters(command=sys.executable, args=args, cwd=cwd)
    start = time.perf_counter()
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        elapsed = time.perf_counter() - start
    return elapsed, tools


async def measure(
    source: dict[str, str], cwd: str, allow: list[str], products: dict[str, str] | None
) -> list[Measured]:
    args = [
        *LAUNCHERS["crm-winback mcp"],
        "--out-dir",
        "out",
        *[a for d in allow for a in ("--allow-dir", d)],
    ]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=cwd)
    async with Client(params, read_timeout_seconds=3600) as client:
        return await session(client, source, products)


def run_sync(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return anyio.run(fn, *args)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--file", action="append", default=[], help="an orders export to measure (repeatable)"
    )
    parser.add_argument("--example", choices=["cdnow"], help="measure on the bundled example")
    parser.add_argument(
        "--products",
        help="a line-item export for profile_products when a measured file has no product column "
        "(e.g. ../shared/data/online_retail/online_retail.csv.gz)",
    )
    parser.add_argument("--runs", type=int, default=5, help="start-up runs per launcher (median reported)")
    args = parser.parse_args()
    over = 0
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as cwd:
        print("start-up: spawn -> initialize -> tools/list (seconds)")
        tools: list[Any] = []
        for label, launcher in LAUNCHERS.items():
            times = []
            for _ in range(args.runs):
                elapsed, tools = run_sync(startup, launcher, cwd)
                times.append(elapsed)
            print(
                f"  {label:<36} median {statistics.median(times):.3f}  min {min(times):.3f}  ({len(tools)} tools)"
            )
        defs = definition_tokens(tools)
        total = sum(defs.values())
        over += total > DEFINITIONS_BUDGET
        print(f"\ntool definitions: {total:,} tokens for {len(defs)} tools (budget {DEFINITIONS_BUDGET:,})")
        sources: list[tuple[str, dict[str, str], list[str]]] = []
        if args.example:
            sources.append((args.example, {"example": args.example}, []))
        for file in args.file:
            path = Path(file).resolve()
            sources.append((path.name, {"file": str(path)}, [str(path.parent)]))
        products = None
        if args.products:
            products = {"file": str(Path(args.products).resolve())}
        measured: list[tuple[str, dict[str, Measured]]] = []
        for name, source, allow in sources:
            with tempfile.TemporaryDirectory(prefix="bench-mcp-") as work:
                extra = [str(Path(products["file"]).parent)] if products else []
                rows = run_sync(measure, source, work, allow + extra, products)
            for row in rows:
                if row.error:
                    print(f"  {name}: {row.tool} {row.call}: tool error: {row.error}")
            measured.append((name, largest(rows)))
        heads = [f"largest result, {name}" for name, _ in measured]
        print(f"\n| tool | definition | {' | '.join(heads)} |")
        print("|---|---:|" + "---:|" * len(measured))
        for tool, size in defs.items():
            cells = []
            for _, biggest in measured:
                row = biggest.get(tool)
                if row is None:
                    cells.append("-")
                    continue
                over += row.tokens > RESULT_BUDGET
                flag = " OVER" if row.tokens > RESULT_BUDGET else (" error" if row.error else "")
                cells.append(f"{row.tokens:,}{f' ({row.call})' if row.call else ''}{flag}")
            print(f"| `{tool}` | {size:,} | {' | '.join(cells)} |")
        print(f"| all {len(defs)} | {total:,} |" + " |" * len(measured))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
