"""Tools over the models of repeat buying: per-segment predictions (BG/NBD, Gamma-Gamma) and cohorts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..models.cohorts import CohortTable
from ..models.predictions import PredictionSummary
from .common import READ_ONLY, WRITES_OUTPUT, AsOfArg, ColumnMapArg, ExampleArg, FileArg, ToolEnv, tool_errors


def register(server: MCPServer, env: ToolEnv) -> None:
    @server.tool(annotations=WRITES_OUTPUT)
    def predict_customers(
        file: FileArg = None,
        example: ExampleArg = None,
        column_map: ColumnMapArg = None,
        as_of: AsOfArg = None,
        horizon_days: Annotated[
            int, Field(gt=0, le=3650, description="prediction and CLV horizon, days")
        ] = 365,
        threshold: Annotated[
            float, Field(gt=0, lt=1, description="winback date: when P(alive) falls to this")
        ] = 0.5,
        margin: Annotated[
            float, Field(gt=0, le=1, description="gross margin, fraction of order value (1 = revenue)")
        ] = 1.0,
        time_unit: Annotated[
            Literal["weeks", "days"], Field(description="time unit of the model fit")
        ] = "weeks",
        calibration_end: Annotated[
            dt.date | None,
            Field(description="the backtest's split date (default: the last third of the history)"),
        ] = None,
        output_name: Annotated[
            str | None,
            Field(
                description="predictions file name (.csv, .parquet) in the output folder; default "
                "<input>-predictions.csv"
            ),
        ] = None,
    ) -> PredictionSummary:
        """Backtest the models against recency alone, fit BG/NBD and Gamma-Gamma: per-segment P(alive), expected
        orders, CLV, winback timing; churn risk by the backtest's winner. Rows go to predictions_file. Show the
        user backtest.summary_lines before any model number.
        """
        with tool_errors():
            from ..predict.service import PredictOptions, predict_file

            path = env.source(file, example)
            stem = path.name.split(".")[0] or "orders"
            target = env.policy.output_file(
                output_name or f"{stem}-predictions.csv", (".csv", ".parquet"), inputs=[path]
            )
            options = PredictOptions(horizon_days=horizon_days, threshold=threshold, margin=margin,
                                     time_unit=time_unit, calibration_end=calibration_end)  # fmt: skip
            return predict_file(path, env.options(column_map, as_of, None, None), options, target)

    @server.tool(annotations=READ_ONLY)
    def build_cohorts(
        file: FileArg = None,
        example: ExampleArg = None,
        column_map: ColumnMapArg = None,
        as_of: AsOfArg = None,
    ) -> CohortTable:
        """Acquisition-month cohorts and the share ordering in months 1, 2, 3, 6, 12 (None: not observed yet)."""
        with tool_errors():
            from ..cohorts import build_cohorts as cohorts
            from ..ingest import load_orders

            ingested = load_orders(env.source(file, example), env.options(column_map, as_of, None, None))
            try:
                return cohorts(ingested.con, ingested.as_of)
            finally:
                ingested.close()
