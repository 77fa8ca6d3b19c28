"""What every tool module shares: error mapping, annotations, the input types for an orders export, paths."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from ..errors import CrmError, InputError
from .paths import PathPolicy, escaped, shown

if TYPE_CHECKING:
    from ..ingest import IngestOptions

# Truthful hints. Tools that write files write only their own artefacts into the output folder and give the
# same bytes for the same input, so they are idempotent and not destructive; none reaches the network.
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITES_OUTPUT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
# Document builders never replace a file (it may hold the agent's filled slots): each call adds a new one.
ADDS_OUTPUT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

# Core messages name CLI options; over MCP the same fix is made with a tool argument.
_OPTION_NAMES = {
    "--map": "column_map", "--as-of": "as_of", "--currency": "currency", "--date-format": "date_format",
    "--thresholds": "thresholds_file", "--segment-map": "segment_map_file", "--example": "example",
    "-o": "output_name", "--scores": "scores_summary", "--orders": "file", "--context": "context",
    "--db": "db_path", "--shop": "shop", "--snapshot": "snapshot", "--rules": "rules", "--limit": "limit",
    "--offset": "offset", "--by": "by", "--from": "from_snapshot", "--to": "to_snapshot",
    "--suppress": "suppression_file", "--soft-opt-in": "soft_opt_in", "--default-country": "default_country",
    "--summary": "summary", "--gaps": "gaps",
}  # fmt: skip
# CLI advice with an MCP equivalent.
_ADVICE = (
    (
        "write it with crm-winback score FILE --format json",
        "pass the summary_file that score_customers returned",
    ),
    ("see crm-winback schema context", "see get_context_schema"),
    ("crm-winback snapshot save FILE", "save_snapshot"),
    ("crm-winback segments define NAME --rules FILE", "define_segment"),
    ("run crm-winback profile on the file", "call profile_orders on the file"),
    ("run crm-winback score on an orders export", "call score_customers on an orders export"),
    ("crm-winback score --predict", "score_customers with predict=true"),
)
_OPTION_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in _OPTION_NAMES) + r")(?![\w-])")
_QUOTED = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
# The places where the core quotes a cell or a line of the file: the model gets the fix, not the content.
_CONTENT_ECHOES = (
    (re.compile(rf"cannot read {_QUOTED} as"), "cannot read a value as"),
    (re.compile(rf"cannot read dates like {_QUOTED}"), "cannot read its dates"),
    (re.compile(rf"not a header \({_QUOTED}\)"), "not a header"),
    (re.compile(r"(could not be read as [^;]*?) \(.*\)(; )"), r"\1\2"),
    # a summary file's cell, customer id or reader error (engines/summary_file.py)
    (re.compile(rf"(column \w+: ){_QUOTED}( is not a )"), r"\1a value\2"),
    (re.compile(rf"customer {_QUOTED} appears twice"), "a customer appears twice"),
    (re.compile(r"(: cannot be read) \(.*\)$"), r"\1 as Parquet or CSV"),
)
# Lists of a file's values or headers the core names: a currency column mapped to the wrong column lists its
# addresses; a file without a header line has cells where the header names should be.
_MIXED_CURRENCIES = re.compile(r"(mixes currencies \()([^)]*)(\); rerun with currency )(\S+)")
_MISSING_CURRENCY = re.compile(r"(does not occur; the file has )(.*)$")
_HEADER_LIST = re.compile(r"(no such column; columns are: )(.*)$")
_CURRENCY_LIKE = re.compile(r"[A-Z]{3}|[^\w\s]{1,3}")
_CELL_LIKE = re.compile(r"[^@\s]+@[^@\s]+|[-+$€£(]?\d[\d.,:/ -]*\)?")


MAX_MESSAGE_CHARS = 1_000
_PYDANTIC_SUBJECT = re.compile(
    r"^(?:Input|String|Value|List|Dictionary|Object|Number) (?=should )|^Value error, "
)


def tool_message(exc: CrmError) -> str:
    """The core's message on one line, with CLI option names turned into tool arguments and file content cut."""
    text = tool_text(" ".join(str(exc).split()) or type(exc).__name__)
    for pattern, replacement in _CONTENT_ECHOES:
        text = pattern.sub(replacement, text)
    text = _MIXED_CURRENCIES.sub(_mixed_currencies, text)
    text = _MISSING_CURRENCY.sub(_missing_currency, text)
    text = _HEADER_LIST.sub(_headers, text)
    return one_line(text)


def _currency_list(listed: str) -> tuple[str, str]:
    """The listed currency values with anything that is no currency code or sign counted, not quoted."""
    values = [v.strip() for v in listed.split(",")]
    codes = [v for v in values if _CURRENCY_LIKE.fullmatch(v)]
    others = len(values) - len(codes)
    text = ", ".join(codes[:10]) + (f" and {len(codes) - 10} more" if len(codes) > 10 else "")
    if others:
        text += (", " if text else "") + (
            f"{others:,} values that are no currency code (is the currency column mapped right?)"
        )
    return text, codes[0] if codes else "CODE"


def _mixed_currencies(match: re.Match[str]) -> str:
    listed, first = _currency_list(match.group(2))
    return f"{match.group(1)}{listed}{match.group(3)}{first}"


def _missing_currency(match: re.Match[str]) -> str:
    return match.group(1) + _currency_list(match.group(2))[0]


def _headers(match: re.Match[str]) -> str:
    """A file's header names, or none when its first line holds cells (a file without a header line)."""
    if any(_CELL_LIKE.fullmatch(h.strip()) for h in match.group(2).split(", ")):
        return "no such column, and the first line looks like data, not a header; add a header row naming the columns"
    return match.group(0)


def tool_text(text: str) -> str:
    """Core text that names CLI options or commands (messages, notes, reasons) as the tool arguments."""
    for cli, tool in _ADVICE:
        text = text.replace(cli, tool)
    return _OPTION_RE.sub(lambda m: _OPTION_NAMES[m.group(1)], text)


def one_line(text: str) -> str:
    """A message as one short paragraph: whitespace runs (line breaks too) become one space, at most 1,000 chars."""
    text = "".join(escaped(ch) for ch in " ".join(text.split()))
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def arguments_message(exc: ValidationError) -> str:
    """Pydantic's verdict on a tool's arguments as one line: each argument by name, and what it accepts.

    The rejected values are left out: they may be long, and they may be the user's data.
    """
    parts = []
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {_allowed(error)}")
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return one_line("invalid arguments - " + "; ".join(parts))


def _allowed(error: Any) -> str:
    kind, msg = error["type"], str(error["msg"])
    if kind == "missing":
        return "required; give it"
    if kind == "extra_forbidden":
        return "not an argument this accepts; see the tool's input schema"
    # "Input should be ...", "String should have ...", "Value error, ..." -> "should be ...", "should have ..."
    return _PYDANTIC_SUBJECT.sub("", msg, count=1)


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the core's errors into tool errors the model can act on; anything else is a bug and crashes."""
    try:
        yield
    except CrmError as exc:
        raise ToolError(tool_message(exc)) from None
    except MemoryError:
        raise ToolError(
            "out of memory; try a smaller file, or the crm-winback CLI on a larger machine"
        ) from None
    except OSError as exc:
        # The system refused a read or write (permissions, a full disk, a file that vanished mid-run).
        name = shown(Path(exc.filename).name) if isinstance(exc.filename, str) else "a file"
        reason = exc.strerror or type(exc).__name__
        raise ToolError(
            one_line(
                f"{name}: {reason.lower()}; check that the file is readable and the output folder writable"
            )
        ) from None


# Inputs shared by the tools that read an orders export.
FileArg = Annotated[
    str | None,
    Field(description="the orders export (CSV, Parquet, JSON), in the working folder"),
]
ExampleArg = Annotated[
    Literal["cdnow"] | None, Field(description="the bundled example data instead of a file")
]
ColumnMapArg = Annotated[
    dict[str, str] | None,
    Field(description='role -> header, e.g. {"customer": "Email"}; only to fix profile_orders\' mapping'),
]
AsOfArg = Annotated[dt.date | None, Field(description="observation date (default: the latest order date)")]
CurrencyArg = Annotated[str | None, Field(description="only orders in this currency (mixed files)")]
DateFormatArg = Annotated[
    Literal["iso", "ymd_compact", "mdy", "dmy"] | None,
    Field(description="how dates are written, when the file cannot tell (03/04/2024)"),
]
ProfilesArg = Annotated[
    list[str] | None,
    Field(
        description="Klaviyo, Mailchimp or Shopify customer exports: their consent and engagement tiers win"
    ),
]


@dataclass
class ToolEnv:
    """What tools need from the server's configuration: the path policy and input resolution."""

    policy: PathPolicy

    def source(self, file: str | None, example: str | None) -> Path:
        if file and example:
            raise InputError("give either file or example, not both")
        if example:
            from ..api import example_path

            return example_path(example)
        if not file:
            raise InputError(
                "no input: give file (the orders export) or example='cdnow' to try the bundled data"
            )
        return self.policy.input_file(file, "file")

    @staticmethod
    def options(
        column_map: dict[str, str] | None,
        as_of: dt.date | None,
        currency: str | None,
        date_format: str | None,
    ) -> IngestOptions:
        from ..api import ingest_options
        from ..ingest.mapping import ROLES

        for role in column_map or {}:
            if role not in ROLES:
                raise InputError(f"column_map: unknown role {shown(role)!r}; valid roles: {', '.join(ROLES)}")
        return ingest_options(column_map or {}, as_of.isoformat() if as_of else None, currency, date_format)
