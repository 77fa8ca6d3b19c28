"""The visual report: one self-contained HTML page of charts, written to the output folder."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..models.report import ReportResult
from .common import WRITES_OUTPUT, AsOfArg, ColumnMapArg, ExampleArg, FileArg, ToolEnv, tool_errors
from .paths import DEFAULT_STORE


def register(server: MCPServer, env: ToolEnv) -> None:
    @server.tool(annotations=WRITES_OUTPUT)
    def build_report(
        file: FileArg = None,
        example: ExampleArg = None,
        column_map: ColumnMapArg = None,
        as_of: AsOfArg = None,
        calibration_end: Annotated[
            dt.date | None,
            Field(description="the backtest's split date (default: the last third of the history)"),
        ] = None,
        db_path: Annotated[
            str | None,
            Field(
                description="a customer store for migration and trend (default: store.duckdb when it exists)"
            ),
        ] = None,
        shop: Annotated[str, Field(description="which shop, when one store holds several")] = "default",
        output_name: Annotated[
            str, Field(description="file name (.html) in the output folder")
        ] = "report.html",
    ) -> ReportResult:
        """Write the visual report (one offline HTML file of charts with their numbers); return its path.

        Put brief_link under the brief's title; ``skipped`` names charts left out and why.
        """
        with tool_errors():
            from ..api import StoreOptions
            from ..visual import build_report as build

            path = env.source(file, example)
            target = env.policy.output_file(output_name, (".html", ".htm"), inputs=[path])
            store = None
            if db_path is not None:
                store = StoreOptions(db=str(env.policy.store_file(db_path, write=False)), shop=shop)
            elif (env.policy.out_dir / DEFAULT_STORE).is_file():
                store = StoreOptions(db=str(env.policy.out_dir / DEFAULT_STORE), shop=shop)
            return build(path, target, env.options(column_map, as_of, None, None), calibration_end, store)
