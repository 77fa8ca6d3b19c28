"""Tools over the models of repeat buying: per-segment predictions (BG/NBD, Gamma-Gamma) and cohorts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..models.cohorts import CohortRow, CohortTable
from .common import READ_ONLY, WRITES_OUTPUT, AsOfArg, ColumnMapArg, ExampleArg, FileArg, ToolEnv, tool_errors
from .paths import refuse_overwrite
from .results import PredictBacktest, PredictResult

# Monthly cohorts shown one by one; earlier ones are merged into one row (36 rows are ~1,000 tokens).
MAX_COHORT_ROWS = 36


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
        margin: Annotated[float, Field(gt=0, le=1, description="gross margin (1 = revenue)")] = 1.0,
        time_unit: Annotated[Literal["weeks", "days"], Field(description="the fit's time unit")] = "weeks",
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
    ) -> PredictResult:
        """Backtest the models against recency alone; per-segment P(alive), expected orders, CLV, winback timing
        from the best forecaster; churn risk by the winner. Rows to predictions_file, all to summary_file. Show
        backtest.summary_lines before any model number.
        """
        with tool_errors():
            from ..api import predict_file
            from ..predict.service import PredictOptions

            path = env.source(file, example)
            stem = path.name.split(".")[0] or "orders"
            target = env.policy.output_file(
                output_name or f"{stem}-predictions.csv", (".csv", ".parquet"), inputs=[path]
            )
            summary = target.with_suffix(".json")
            refuse_overwrite(summary, [path], "output_name", summary.name)
            options = PredictOptions(horizon_days=horizon_days, threshold=threshold, margin=margin,
                                     time_unit=time_unit, calibration_end=calibration_end)  # fmt: skip
            result = predict_file(path, env.options(column_map, as_of, None, None), options, target)
            from ..files import write_text

            write_text(summary, result.model_dump_json(indent=2) + "\n")
            data = result.model_dump()
            if result.backtest is not None:
                data["backtest"] = PredictBacktest.of(result.backtest, str(summary), "backtest").model_dump()
            return PredictResult.model_validate({**data, "summary_file": str(summary)})

    @server.tool(annotations=READ_ONLY)
    def build_cohorts(
        file: FileArg = None,
        example: ExampleArg = None,
        column_map: ColumnMapArg = None,
        as_of: AsOfArg = None,
    ) -> CohortTable:
        """Acquisition-month cohorts and the share ordering in months 1, 2, 3, 6, 12 (None: not observed yet).

        The latest 36 months one by one, earlier ones merged into one row.
        """
        with tool_errors():
            from ..cohorts import build_cohorts as cohorts
            from ..ingest import load_orders

            ingested = load_orders(env.source(file, example), env.options(column_map, as_of, None, None))
            try:
                return capped(cohorts(ingested.con, ingested.as_of))
            finally:
                ingested.close()


def capped(table: CohortTable, keep: int = MAX_COHORT_ROWS) -> CohortTable:
    """The latest ``keep`` monthly cohorts, and the earlier ones as one row (a result stays under budget).

    The earlier row's retention is the customer-weighted mean of its cohorts' shares, so it is what the
    merged cohort's share is; they are all old enough for every month to be observed.
    """
    if len(table.rows) <= keep + 1:
        return table
    earlier, latest = table.rows[:-keep], table.rows[-keep:]
    customers = sum(r.customers for r in earlier)
    shares: dict[str, float | None] = {}
    for k in table.months:
        values = [(getattr(r, f"m{k}"), r.customers) for r in earlier]
        known = [(v, n) for v, n in values if v is not None]
        total = sum(n for _, n in known)
        shares[f"m{k}"] = round(sum(v * n for v, n in known) / total, 4) if known and total else None
    revenues = [r.revenue for r in earlier]
    merged = CohortRow(
        cohort=f"{earlier[0].cohort}..{earlier[-1].cohort}",
        customers=customers,
        revenue=None if any(v is None for v in revenues) else round(sum(v for v in revenues if v), 2),
        **shares,
    )
    return table.model_copy(update={"rows": [merged, *latest]})
