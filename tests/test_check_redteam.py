"""The check reads a document against its own data: a red-team corpus of paragraphs a CRM reviewer would reject.

Each paragraph of tests/data/redteam/bad.yaml is written where the summary slot of the CDNOW golden brief is (as an
agent would fill it) and must fail its red flag on that line, and nothing else; each of good.yaml must pass. Issue
16's paragraph ("will recover 30% ... lift LTV by 25%", 40% off against a 15% maximum, "synced to Klaviyo and the
flow is live", "send the same newsletter to the whole list") passed every check but the SMS opt-out before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crm_winback.brief.api import build_brief, build_ltv_plan_document, build_programme_document
from crm_winback.brief.check import check_text
from crm_winback.brief.check_data import DIGEST_PREFIX, data_digest
from crm_winback.brief.context import Context, parse_context
from crm_winback.brief.library import RedFlags, load_library
from crm_winback.errors import KnowledgeError
from crm_winback.knowledge import knowledge_dir, load_model_file
from crm_winback.models.documents import CheckReport

from .paths import DATA, shared_file

BASE = Path(__file__).resolve().parent / "golden" / "brief_coffee_subscription_cdnow.md"
BAD = yaml.safe_load((DATA / "redteam" / "bad.yaml").read_text(encoding="utf-8"))
GOOD = yaml.safe_load((DATA / "redteam" / "good.yaml").read_text(encoding="utf-8"))


def with_paragraph(paragraph: str, base: Path = BASE) -> tuple[str, int]:
    """``base`` with its summary slot replaced by ``paragraph``, and the paragraph's line number."""
    lines = base.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("<!-- narrative:summary:"))
    lines[line] = paragraph
    return "\n".join(lines) + "\n", line + 1


def failures(report: CheckReport) -> list[tuple[str, int | None]]:
    return [(c.id, c.line) for c in report.criteria + report.red_flags if not c.passed]


def test_the_corpus_is_large_and_varied() -> None:
    assert len(BAD) >= 40 and len(GOOD) >= 20
    assert len({case["text"] for case in BAD}) == len(BAD)
    kinds = {f.id for f in load_library().red_flags.flags} - {"vanity-metrics", "sms-opt-out"}
    assert {case["flag"] for case in BAD} == kinds  # every flag that reads prose has bad paragraphs


def test_the_base_document_passes_with_only_the_narrative_slots_open() -> None:
    text = BASE.read_text(encoding="utf-8")
    report = check_text(text)
    assert failures(report) == []
    assert len(report.unfilled_slots) == text.count("<!-- narrative:") > 1


@pytest.mark.parametrize("case", BAD, ids=[f"{i:02d}-{c['flag']}" for i, c in enumerate(BAD)])
def test_each_bad_paragraph_is_caught_on_its_line(case: dict[str, str]) -> None:
    text, line = with_paragraph(case["text"])
    report = check_text(text)
    found = failures(report)
    assert (case["flag"], line) in found, found
    assert {ln for _, ln in found} == {line}  # nothing else in the brief is flagged
    assert not report.passed


@pytest.mark.parametrize("paragraph", GOOD, ids=[f"{i:02d}" for i in range(len(GOOD))])
def test_no_good_paragraph_is_flagged(paragraph: str) -> None:
    text, _ = with_paragraph(paragraph)
    report = check_text(text)
    assert failures(report) == []
    assert len(report.unfilled_slots) == BASE.read_text(encoding="utf-8").count("<!-- narrative:") - 1


def test_the_issue_paragraph_fails_every_flag_it_breaks_on_its_line() -> None:
    paragraph = (
        "This winback will recover 30% of lapsed buyers and lift LTV by 25%, with a 40% discount for everyone. "
        "The segment is synced to Klaviyo and the flow is live; send the same newsletter to the whole list."
    )
    text, line = with_paragraph(paragraph)
    found = dict(failures(check_text(text)))
    assert {k: v for k, v in found.items() if k != "unsourced-number"} == {
        "guaranteed-results": line,
        "discount-over-limit": line,
        "action-claimed": line,
        "batch-and-blast": line,
    }


def test_a_discount_is_read_against_the_maximum_the_document_states() -> None:
    # the empty context's brief allows the default 15%: 15% off passes there, 20% does not
    empty = BASE.parent / "brief_empty_context.md"
    at_limit, _ = with_paragraph("The last-chance message may carry 15% off for former repeat buyers.", empty)
    over, line = with_paragraph("The last-chance message may carry 20% off for former repeat buyers.", empty)
    assert check_text(at_limit).passed
    flag = {c.id: c for c in check_text(over).red_flags}["discount-over-limit"]
    assert (flag.passed, flag.line) == (False, line)
    assert flag.detail.startswith("'20% off' is 20% off, above the 15% maximum (line ")


def test_a_changed_rendered_line_is_prose_again() -> None:
    # the product wrote "81% not expected to return"; someone changes it to 90%: no table holds 90
    original = BASE.read_text(encoding="utf-8")
    assert "81% not expected to return" in original
    report = check_text(original.replace("81% not expected to return", "90% not expected to return"))
    flag = {c.id: c for c in report.red_flags}["unsourced-number"]
    assert not flag.passed and "'90%'" in flag.detail


def test_a_number_rounded_from_the_data_is_sourced_and_a_wrong_size_names_the_right_one() -> None:
    rounded, _ = with_paragraph("Hibernating: 80.9% of them, call it 81%, are not expected to return.")
    assert check_text(rounded).passed
    wrong, line = with_paragraph("The 18,925 customers in Lost get one last-chance message.")
    flag = {c.id: c for c in check_text(wrong).red_flags}["segment-sizes"]
    assert (flag.line, flag.detail) == (
        line,
        "'18,925 customers in Lost': the document gives Lost 11,908; quote its size from the table",
    )


def test_without_a_digest_only_the_tables_are_data() -> None:
    text = BASE.read_text(encoding="utf-8")
    bare = "\n".join(line for line in text.splitlines() if not line.startswith(DIGEST_PREFIX)) + "\n"
    flag = {c.id: c for c in check_text(bare).red_flags}["unsourced-number"]
    assert not flag.passed  # e.g. the backtest's AUCs are written only in rendered lines
    assert check_text(bare + "\n" + data_digest(bare) + "\n").passed


def _documents(context: Context, orders: Path | None) -> dict[str, str]:
    return {
        "brief": build_brief(context, orders=orders).markdown,
        "ltv-plan": build_ltv_plan_document(context, orders=orders).markdown,
        "programme": build_programme_document(context, orders=orders).markdown,
    }


@pytest.mark.parametrize("dataset", ["grocery", "none"])
def test_every_rendered_document_passes_the_check(dataset: str) -> None:
    # CDNOW and Online Retail are rendered and checked in tests/test_brief_consistency.py, the goldens in
    # tests/test_brief_golden.py
    if dataset == "grocery":
        orders: Path | None = shared_file("grocery", "groceryElog.csv")
        context = parse_context({"brand_name": "Corner Grocer", "vertical": "grocery", "max_discount": 0.05})
    else:
        orders, context = None, Context()
    for kind, text in _documents(context, orders).items():
        report = check_text(text)
        assert report.kind == kind
        assert failures(report) == [], (kind, failures(report))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("discounts", "offer_patterns", 0),
            r"(\d+)% off",
            r"discounts\.offer_patterns\[0\]: add a \(\?P<pct>\.\.\.\) group",
        ),
        (
            ("segments", "size_patterns", 1),
            "NAME holds",
            r"segments\.size_patterns\[1\]: hold both NAME and N",
        ),
        (("flags", 0, "patterns", 0), "(unclosed", r"flags\[0\]\.patterns\[0\]: missing \)"),
        (("flags", 5, "kind"), "pattern", r"flags: list each check kind once; missing: \['numbers'\]"),
    ],
)
def test_a_broken_red_flags_file_names_the_field(
    tmp_path: Path, path: tuple[str | int, ...], value: str, message: str
) -> None:
    data = yaml.safe_load((knowledge_dir() / "red_flags.yaml").read_text(encoding="utf-8"))
    assert data["flags"][5]["kind"] == "numbers"
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    broken = tmp_path / "red_flags.yaml"
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_model_file(broken, RedFlags)
