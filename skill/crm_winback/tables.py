"""Plain-text and markdown tables for terminal output (layout only; no numbers are computed here)."""

from __future__ import annotations

import re
from collections.abc import Sequence


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _is_number(value: object) -> bool:
    if isinstance(value, str):
        return bool(re.fullmatch(r"-?[\d,.]+%?|-", value))
    return not isinstance(value, bool)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[cell(v) if not isinstance(v, str) else v for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[cell(v) if not isinstance(v, str) else v for v in row] for row in rows]
    out = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|",
    ]
    out.extend("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells)
    return "\n".join(out)
