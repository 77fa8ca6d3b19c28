"""Golden briefs and LTV plans for three contexts plus the empty one.

Regenerate after an intended change, then review the diff and run the tests again:
    CRM_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_brief_golden.py
Regen mode writes every golden and then fails, so it can never pass by comparing a file with itself. The goldens
hold no number that moves with a library version: a degenerate fit is described in words, never by its
parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_winback.brief.api import (
    BuiltDocument,
    build_brief,
    build_ltv_plan_document,
    build_programme_document,
    check_document,
)
from crm_winback.brief.context import Context, load_context

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "brief"
GOLDEN = HERE / "golden"
CDNOW = HERE.parent / "examples" / "cdnow" / "CDNOW_master.txt"

CASES = {
    "skincare_notes": (DATA / "skincare_notes.yaml", None),
    "coffee_subscription_cdnow": (DATA / "coffee_subscription.yaml", CDNOW),
    "marketplace_partial": (DATA / "marketplace_partial.yaml", DATA / "marketplace_orders.csv"),
    "empty_context": (None, None),
}
BUILDERS = {
    "brief": build_brief,
    "ltv_plan": build_ltv_plan_document,
    "programme": build_programme_document,
}


def _build(case: str, kind: str) -> BuiltDocument:
    context_file, orders = CASES[case]
    context = load_context(context_file) if context_file else Context()
    return BUILDERS[kind](context, orders=orders)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_document_matches_golden_and_passes_check(case: str, kind: str) -> None:
    doc = _build(case, kind)
    golden = GOLDEN / f"{kind}_{case}.md"
    if os.environ.get("CRM_REGEN_GOLDEN"):
        golden.write_text(doc.markdown, encoding="utf-8", newline="\n")
        pytest.fail(f"{golden.name} written; review the diff, then run the tests without CRM_REGEN_GOLDEN")
    assert doc.markdown == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; see the module docstring"
    )
    report = check_document(doc.markdown)
    failed = [c for c in report.criteria + report.red_flags if not c.passed]
    assert report.passed, failed
    assert report.kind == kind.replace("_", "-")
    assert len(report.unfilled_slots) == len(doc.slots)
