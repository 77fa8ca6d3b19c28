"""The functions both doors (CLI and MCP server) call. Each takes plain values and returns models."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from . import workdb
from .errors import InputError
from .ingest import IngestOptions, load_orders
from .ingest.mapping import parse_map_option
from .ingest.quality import QualityReport
from .models.store import SavedSnapshot
from .resources import resource_dir
from .scoring import ScoreOptions, ScoreSummary, score, write_scores
from .scoring.score import Scored

if TYPE_CHECKING:
    from .predict.service import PredictionSummary, PredictOptions

EXAMPLES = {"cdnow": "cdnow/CDNOW_master.txt"}
DEFAULT_OUT_DIR = Path("crm-winback-out")


def example_path(name: str) -> Path:
    if name not in EXAMPLES:
        raise InputError(f"--example {name}: unknown example; available: {', '.join(EXAMPLES)}")
    return resource_dir("examples") / EXAMPLES[name]


def parse_date_option(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text}: not a date; write it as YYYY-MM-DD") from None


def ingest_options(
    column_map: str | dict[str, str] | None = None,
    as_of: str | None = None,
    currency: str | None = None,
    date_format: str | None = None,
    today: dt.date | None = None,
) -> IngestOptions:
    mapping = (
        parse_map_option(column_map) if isinstance(column_map, str) or column_map is None else column_map
    )
    return IngestOptions(
        column_map=mapping,
        as_of=parse_date_option(as_of, "--as-of"),
        currency=currency,
        date_format=date_format,
        today=today,
    )


def profile_file(path: str | Path, options: IngestOptions | None = None) -> QualityReport:
    ingested = load_orders(path, options)
    try:
        return ingested.quality
    finally:
        ingested.close()


class StoreOptions(BaseModel):
    """Where the customer store is and whether to save this run into it (``--db``, ``--save``, ``--shop``)."""

    db: str | None = None
    save: bool = False
    shop: str = "default"


class ScoreResult(BaseModel):
    quality: QualityReport
    scoring: ScoreSummary
    scores_file: str | None
    snapshot: SavedSnapshot | None = None


def default_scores_path(source: Path, out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    stem = source.name.split(".")[0] or "orders"
    return out_dir / f"{stem}-scores.csv"


def _warm_up(module: str) -> None:
    """Import ``module`` on a background thread, so its load overlaps the caller's work (DuckDB reading a file
    releases the interpreter lock). A failure is left for the caller's own import to raise, in its own words."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the real import, later on the main thread, reports it
            importlib.import_module(module)

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def score_file(
    path: str | Path,
    options: IngestOptions | None = None,
    score_options: ScoreOptions | None = None,
    output: str | Path | None = None,
    keep: bool = False,
    store: StoreOptions | None = None,
    free_lines: bool | None = None,
) -> tuple[ScoreResult, Scored | None]:
    """Ingest and score ``path``; write per-customer scores to ``output`` when given.

    With ``store``, the scorecard gains the counts of the store's previous snapshot (the trend) and, with
    ``store.save``, this run is saved as a snapshot. With ``keep`` the open :class:`Scored` (and its DuckDB
    tables) is returned for further work; the caller must close it with ``scored.ingested.close()``.
    ``free_lines``: drop the lines and orders before scoring (with predictions, once the purchase days are
    built from them); by default unless ``keep``, for a kept caller that reads the per-customer tables and
    the purchase days only.
    """
    if score_options is not None and score_options.profiles:
        from .ingest.profiles import check_profiles

        check_profiles(list(score_options.profiles))
    if score_options is not None and score_options.predict:
        _warm_up("crm_winback.predict.service")  # SciPy loads while DuckDB reads the file
    ingested = load_orders(path, options)
    try:
        release = not keep if free_lines is None else free_lines
        if release:
            if score_options is not None and score_options.predict:
                # predictions read the purchase days only: build them, then free the lines as without
                from .predict.summary import purchase_days

                purchase_days(ingested.con)
            ingested.release_lines()  # nothing after scoring reads orders: free their memory for it
            workdb.release_freed_memory()
        scored = score(ingested, score_options)
        summary, saved = scored.summary, None
        if store is not None:
            summary = _with_trend(scored, store)
            if store.save:
                from .segments.store import save_snapshot

                info = save_snapshot(scored, store.db, store.shop)
                saved = SavedSnapshot(
                    snapshot_id=info.snapshot_id, as_of=info.as_of, already_saved=info.already_saved
                )
        written = str(write_scores(scored, output)) if output is not None else None
        result = ScoreResult(quality=scored.quality, scoring=summary, scores_file=written, snapshot=saved)
    except BaseException:
        ingested.close()
        raise
    if keep:
        return result, scored
    ingested.close()
    return result, None


def score_summary_file(
    summary: str | Path,
    gaps: str | Path | None,
    score_options: ScoreOptions | None = None,
    output: str | Path | None = None,
    as_of: dt.date | None = None,
    backtest: str | Path | None = None,
) -> ScoreResult:
    """Score a per-customer summary file and its gap histogram (contract v1, from ``crm-winback sql`` or an
    engine) as :func:`score_file` scores orders; write per-customer scores to ``output`` when given. With
    ``score_options.predict``, the backtest part (``crm-winback sql --part backtest``) is ``backtest``.

    The CLI's ``score --summary`` and the MCP ``score_customers(summary_file=...)`` both call this.
    """
    from .scoring.score import score_summary

    if score_options is not None and score_options.profiles:
        from .ingest.profiles import check_profiles

        check_profiles(list(score_options.profiles))
    scored = score_summary(summary, gaps, score_options, as_of, backtest)
    try:
        written = str(write_scores(scored, output)) if output is not None else None
        return ScoreResult(quality=scored.quality, scoring=scored.summary, scores_file=written)
    finally:
        scored.ingested.close()


def score_on_spark(
    source: str | None,
    column_map: dict[str, str],
    score_options: ScoreOptions | None = None,
    output: str | Path | None = None,
    as_of: dt.date | None = None,
    tz: str = "UTC",
    remote: str | None = None,
    table: str | None = None,
) -> ScoreResult:
    """Score the orders at ``source`` (CSV, Parquet, a folder of Parquet) or the cluster's ``table`` on Spark:
    Spark builds the summary and the gap histogram (with ``score_options.predict``, the backtest part at the
    calibration end they give too), which are scored locally as :func:`score_summary_file` scores them. The
    scores are the local path's (tests/test_engines_spark.py)."""
    from .engines.spark import spark_summary
    from .engines.summary_file import backtest_end

    if score_options is not None and score_options.profiles:
        from .ingest.profiles import check_profiles

        check_profiles(list(score_options.profiles))
    with spark_summary(source, table, column_map, as_of, tz, remote) as built:
        part = None
        if score_options is not None and score_options.predict:
            end = backtest_end(built.summary, built.gaps, built.as_of, score_options.calibration_end)
            if end is not None and built.backtest is not None:
                part = built.backtest(end)  # the purchase days after the split stay in Spark too
        result = score_summary_file(built.summary, built.gaps, score_options, output, built.as_of, part)
    found = "set with --as-of" if built.as_of_given else "the latest order date (set another with --as-of)"
    quality = result.quality.model_copy(
        update={
            "file": built.source,
            "file_format": f"read by {built.where}; summary and gap histogram built there (contract v1)",
            "layout_label": f"per-customer summary built by Spark, dates in time zone {tz}",
            "mapping": built.mapping,
            "as_of_reason": found,
            "notes": [
                f"built on {built.where} with the session time zone pinned to {tz} (--timezone): each order's "
                "timestamp is a date there",
                *built.notes,
                *result.quality.notes,
            ],
        }
    )
    return result.model_copy(update={"quality": quality})


def _with_trend(scored: Scored, store: StoreOptions) -> ScoreSummary:
    from .segments.store import previous_segment_counts

    before = previous_segment_counts(store.db, scored.ingested.as_of, store.shop, by="rfm_segment")
    if before is None:
        return scored.summary
    stages = previous_segment_counts(store.db, scored.ingested.as_of, store.shop, by="lifecycle_stage")
    label = f"snapshot {before.snapshot.snapshot_id} (as of {before.snapshot.as_of})"
    card = scored.summary.scorecard.with_trend(label, before.counts, stages.counts if stages else {})
    return scored.summary.model_copy(update={"scorecard": card})


def predict_file(
    path: str | Path,
    ingest_options: IngestOptions | None = None,
    options: PredictOptions | None = None,
    output: str | Path | None = None,
) -> PredictionSummary:
    """Ingest ``path``, score it (for the segments), predict, and write per-customer rows to ``output``."""
    from .predict.service import predict, write_predictions  # NumPy and SciPy only for the commands that fit
    from .predict.summary import purchase_days

    ingested = load_orders(path, ingest_options)
    try:
        purchase_days(ingested.con)  # all the predictions read; the lines can go
        ingested.release_lines()
        score(ingested)
        summary = predict(ingested, options)
        if output is not None:
            written = write_predictions(ingested.con, output)
            summary = summary.model_copy(update={"predictions_file": str(written)})
        return summary
    finally:
        ingested.close()
