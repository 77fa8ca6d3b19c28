"""What the agent's context pays for the tools: compact definitions and compact results, and how both are counted.

Tokens are approximated as characters / 4 of compact JSON (no tokenizer is a dependency); the same count is
used by ``bench/bench_mcp.py`` and the budget test. A tool definition is what a host puts in the model's
context: name, description and input schema (the output schema is used by the client to check results). A
result's text is its structured content as compact JSON with null fields left out (the structured content
keeps them); a list that grows with the data is capped by its tool, with the whole in a file it names.
"""

from __future__ import annotations

import json
from typing import Any

# Targets of issue 16: all tool definitions together, and any one result on any data size.
DEFINITIONS_BUDGET = 5_000
RESULT_BUDGET = 2_500


def tokens(text: str) -> int:
    """Approximate tokens of ``text``: characters / 4, rounded up."""
    return -(-len(text) // 4)


def compact_json(value: Any) -> str:
    """JSON without indentation or spaces after separators; non-ASCII kept as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def without_nulls(value: Any) -> Any:
    """``value`` with every null field left out: in a result's text an absent field reads as null."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def result_text(structured: Any) -> str:
    """The text a tool result carries for the model: its structured content as compact JSON without nulls."""
    return compact_json(without_nulls(structured))


def definition(name: str, description: str | None, input_schema: dict[str, Any]) -> dict[str, Any]:
    """A tool definition as the model sees it."""
    return {"name": name, "description": description or "", "input_schema": input_schema}


def compact_description(text: str | None) -> str | None:
    """A docstring as one paragraph (its indentation and line breaks cost tokens and say nothing)."""
    return " ".join(text.split()) if text else text


def compact_schema(schema: Any) -> Any:
    """A pydantic JSON schema without what the model does not need.

    Titles repeat the property names; an optional argument's ``anyOf [X, null]`` and ``default: null`` say
    what leaving it out already says. Validation is pydantic's, against the full model, so null is still
    accepted where it was.
    """
    if isinstance(schema, list):
        return [compact_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact_schema(prop) for name, prop in value.items()}
        else:
            out[key] = compact_schema(value)
    if "default" in out and out["default"] is None:
        del out["default"]
        options = out.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            if len(rest) == 1:
                del out["anyOf"]
                out = {**rest[0], **out}
    return out
