"""What the tools cost the agent's context (issue 16): all definitions <= 5,000 tokens, any result <= 2,500.

Tokens are characters / 4 of compact JSON (crm_winback.mcp_server.budget), as bench/bench_mcp.py counts them;
the session that calls every tool is the bench's own, run here in memory on the real datasets.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import pytest
from bench.bench_mcp import Measured, definition_tokens, session
from mcp import Client

from crm_winback.mcp_server.budget import DEFINITIONS_BUDGET, RESULT_BUDGET
from crm_winback.mcp_server.predict_tools import capped
from crm_winback.mcp_server.segment_tools import folded
from crm_winback.mcp_server.server import ServerConfig, build_server
from crm_winback.models.cohorts import CohortRow, CohortTable
from crm_winback.models.store import MigrationCell, MigrationMatrix, SnapshotInfo

from .mcp_support import server_in, with_client
from .paths import shared_file


def _tools(tmp_path: Path) -> list:  # type: ignore[type-arg]
    return with_client(server_in(tmp_path), lambda c: c.list_tools()).tools


def test_all_tool_definitions_together_fit_the_budget(tmp_path: Path) -> None:
    sizes = definition_tokens(_tools(tmp_path))
    # 4,563 tokens for the 19 tools on 2026-11-30 (bench/bench_mcp.py), from ~11,100 before
    assert sum(sizes.values()) <= DEFINITIONS_BUDGET, sorted(sizes.items(), key=lambda kv: -kv[1])


def test_definitions_carry_no_titles_nested_schemas_or_indented_docstrings(tmp_path: Path) -> None:
    for tool in _tools(tmp_path):
        text = str(tool.input_schema)
        assert "$defs" not in text and "'title'" not in text and "{'type': 'null'}" not in text, tool.name
        assert tool.description and "\n" not in tool.description and "  " not in tool.description, tool.name


# profile_products needs line items; CDNOW and grocery have none, so it reads this small Shopify-like file
LINE_ITEMS = Path(__file__).parent / "data" / "products.csv"


def _session(work: Path, source: dict[str, str], allow: list[Path], items: bool = True) -> list[Measured]:
    allow = [*allow, LINE_ITEMS.parent] if items else allow
    server = build_server(ServerConfig(base_dir=work, allow_dirs=allow))
    products = {"file": str(LINE_ITEMS)} if items else None

    async def main() -> list[Measured]:
        async with Client(server) as client:
            return await session(client, source, products)

    return anyio.run(main)


def _assert_within_budget(rows: list[Measured], tools: set[str]) -> None:
    assert {r.tool for r in rows} == tools, "every tool is measured: add a new tool to bench_mcp.session"
    assert [(r.tool, r.call, r.error) for r in rows if r.error] == []
    over = [(r.tool, r.call, r.tokens) for r in rows if r.tokens > RESULT_BUDGET]
    assert over == [], f"results over {RESULT_BUDGET:,} tokens"


def test_every_result_fits_the_budget_on_cdnow(tmp_path: Path) -> None:
    rows = _session(tmp_path, {"example": "cdnow"}, [])
    _assert_within_budget(rows, {t.name for t in _tools(tmp_path / "list")})
    # the backtest reaches the model as its summary lines; the whole of it stays in the summary file
    predicted = next(r for r in rows if (r.tool, r.call) == ("score_customers", "predict"))
    assert 1_000 < predicted.tokens <= RESULT_BUDGET


def test_every_result_fits_the_budget_on_the_grocery_event_log(tmp_path: Path) -> None:
    path = shared_file("grocery", "groceryElog.csv")
    rows = _session(tmp_path, {"file": str(path)}, [path.parent])
    _assert_within_budget(rows, {t.name for t in _tools(tmp_path / "list")})


@pytest.mark.slow
def test_every_result_fits_the_budget_on_online_retail(tmp_path: Path) -> None:
    path = shared_file("online_retail", "online_retail.csv.gz")
    rows = _session(tmp_path, {"file": str(path)}, [path.parent], items=False)
    _assert_within_budget(rows, {t.name for t in _tools(tmp_path / "list")})


def test_cohorts_beyond_the_cap_merge_into_one_row_weighted_by_customers() -> None:
    def row(cohort: str, customers: int, m1: float | None, revenue: float | None) -> CohortRow:
        return CohortRow(cohort=cohort, customers=customers, m1=m1, m2=None, m3=None, m6=None, m12=None,
                         revenue=revenue)  # fmt: skip

    table = CohortTable(
        as_of=dt.date(2024, 6, 30),
        months=[1, 2, 3, 6, 12],
        rows=[row("2024-01", 10, 0.5, 100.0), row("2024-02", 30, 0.1, 50.5), row("2024-03", 5, None, 7.0)],
    )
    assert capped(table, keep=2) == table  # one row left out is shown as it is
    merged, latest = capped(table, keep=1).rows
    # (0.5 x 10 + 0.1 x 30) / 40 customers = 0.2; months never observed stay None
    assert merged == row("2024-01..2024-02", 40, 0.2, 150.5)
    assert latest == table.rows[-1]


def test_migration_cells_beyond_the_cap_fold_into_one_other_cell_per_row() -> None:
    snap = SnapshotInfo(
        snapshot_id=1, shop="default", source_name="o.csv", source_sha256="0", as_of=dt.date(2024, 6, 30),
        method="fixed", customers=9, has_items=False, repurchase_cycle_days=None,
        created_at=dt.datetime(2024, 7, 1),
    )  # fmt: skip
    cells = [("A", "A", 5), ("A", "B", 1), ("A", "C", 2), ("B", "B", 1), ("(new)", "A", 1)]
    matrix = MigrationMatrix(
        by="rfm_segment", from_snapshot=snap, to_snapshot=snap, groups=["A", "B", "C"],
        cells=[MigrationCell(from_group=f, to_group=t, customers=n) for f, t, n in cells],
        stayed=6, moved=2, new=1, gone=0,
    )  # fmt: skip
    assert folded(matrix, keep=5) == matrix
    # the 3 largest (5, 2, then the first of the 1s) in their order; the rest summed per row
    assert [(c.from_group, c.to_group, c.customers) for c in folded(matrix, keep=3).cells] == [
        ("A", "A", 5), ("A", "B", 1), ("A", "C", 2), ("B", "(other)", 1), ("(new)", "(other)", 1),
    ]  # fmt: skip
