"""The line that links a brief (or plan) to its visual report."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError


def report_link(report: str | Path, document: str | Path | None = None) -> str:
    """``Visual report: [name](path) ...``, the path relative to the document's folder when both are known."""
    target = Path(report)
    href = str(target)
    if document is not None:
        try:
            href = os.path.relpath(target.resolve(), Path(document).resolve().parent)
        except ValueError:  # another drive (Windows): keep the path as given
            href = str(target)
    href = href.replace(os.sep, "/")
    if any(ch in href for ch in " ()<>"):
        href = f"<{href}>"
    return (
        f"Visual report: [{target.name}]({href}) - the same numbers as charts with their tables "
        "(one HTML file, opens offline)."
    )


def link_report(markdown: str, report: str | Path, document: str | Path | None = None) -> str:
    """``markdown`` with the report's link as a paragraph under its title (the first ``# `` line)."""
    if not Path(report).is_file():
        raise InputError(
            f"--report {report}: no such file; write it first with crm-winback report ORDERS -o {report}"
        )
    lines = markdown.split("\n")
    at = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
    return "\n".join([*lines[: at + 1], "", report_link(report, document), *lines[at + 1 :]])
