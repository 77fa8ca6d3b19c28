"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from ..api import example_path, ingest_options
from ..errors import InputError
from ..files import write_text
from ..ingest import IngestOptions

FORMATS = ("table", "json", "markdown")
LARGE_FILE = 20 * 1024 * 1024


def add_input_options(p: argparse.ArgumentParser, example: bool = True) -> None:
    p.add_argument("file", nargs="?", help="the orders export (CSV, CSV.gz, Parquet, JSON, NDJSON)")
    if example:
        p.add_argument(
            "--example", metavar="NAME", help="use a bundled real example instead of a file (cdnow)"
        )
    p.add_argument(
        "--map",
        dest="column_map",
        metavar="ROLE=COLUMN,...",
        help='name columns yourself, e.g. --map customer=Email,date="Created at",amount=Total',
    )
    p.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="the observation date (default: the latest order date in the file)",
    )
    p.add_argument("--currency", metavar="CODE", help="score only orders in this currency (for mixed files)")
    p.add_argument(
        "--date-format",
        choices=["iso", "ymd_compact", "mdy", "dmy"],
        help="how dates are written, when the file cannot tell (e.g. 03/04/2024)",
    )


def add_profiles_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profiles",
        metavar="FILE",
        action="append",
        help="the email/SMS platform's profile export (Klaviyo profiles, Mailchimp audience: subscribed, "
        "unsubscribed, cleaned; Shopify customers), repeatable: its consent per channel replaces the orders' "
        "flags, and engagement tiers come from its last click/open dates",
    )


def resolve_input(args: argparse.Namespace) -> tuple[Path, IngestOptions]:
    if getattr(args, "example", None):
        if args.file:
            raise InputError("give either a FILE or --example, not both")
        path = example_path(args.example)
    elif args.file:
        path = Path(args.file)
    else:
        raise InputError("no input: give the orders FILE (or --example cdnow to try the bundled data)")
    try:
        if path.stat().st_size > LARGE_FILE:
            progress(f"reading {path} ({path.stat().st_size / 1e6:,.0f} MB)...")
    except OSError:
        pass
    return path, ingest_options(args.column_map, args.as_of, args.currency, args.date_format)


def progress(message: str) -> None:
    print(f"crm-winback: {message}", file=sys.stderr, flush=True)


def emit(text: str, output: str | None = None) -> None:
    """Print to stdout, or write ``output`` atomically (never a half-written file)."""
    if output is None:
        sys.stdout.write(text)
        return
    write_text(output, text)
    progress(f"wrote {output}")


def to_json(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
