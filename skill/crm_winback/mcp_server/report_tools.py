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
            Field(
                description="where the backtest splits the history, YYYY-MM-DD (default: chosen from the data)"
            ),
        ] = None,
        db_path: Annotated[
            str | None,
            Field(
                description="a customer store whose snapshots give the migration and trend charts; default "
                "store.duckdb in the output folder when it exists"
            ),
        ] = None,
        shop: Annotated[
            str, Field(description="which shop's snapshots, when one store holds several")
        ] = "default",
        output_name: Annotated[
            str, Field(description="file name (.html) of the report in the output folder")
        ] = "report.html",
    ) -> ReportResult:
        """Write a visual report (one HTML file, no external resources) and return its path.

        Charts, each with its numbers in a table: data quality at the top, the R x F grid and segment sizes, the
        lifecycle funnel, cohort retention, the backtest's tracking plot, deciles and churn-band calibration,
        winback dates per segment, and with two or more saved snapshots the migration and trend. Link the file
        in the brief; ``skipped`` says which charts were left out and why.
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
