"""The functions both doors (CLI and MCP server) call. Each takes plain values and returns models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel

from .errors import InputError
from .ingest import IngestOptions, load_orders
from .ingest.mapping import parse_map_option
from .ingest.quality import QualityReport
from .resources import resource_dir
from .scoring import ScoreOptions, ScoreSummary, score, write_scores
from .scoring.score import Scored

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


class ScoreResult(BaseModel):
    quality: QualityReport
    scoring: ScoreSummary
    scores_file: str | None


def default_scores_path(source: Path, out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    stem = source.name.split(".")[0] or "orders"
    return out_dir / f"{stem}-scores.csv"


def score_file(
    path: str | Path,
    options: IngestOptions | None = None,
    score_options: ScoreOptions | None = None,
    output: str | Path | None = None,
    keep: bool = False,
) -> tuple[ScoreResult, Scored | None]:
    """Ingest and score ``path``; write per-customer scores to ``output`` when given.

    With ``keep`` the open :class:`Scored` (and its DuckDB tables) is returned for further work; the caller
    must close it with ``scored.ingested.close()``.
    """
    ingested = load_orders(path, options)
    try:
        scored = score(ingested, score_options)
        written = str(write_scores(scored, output)) if output is not None else None
        result = ScoreResult(quality=scored.quality, scoring=scored.summary, scores_file=written)
    except BaseException:
        ingested.close()
        raise
    if keep:
        return result, scored
    ingested.close()
    return result, None
