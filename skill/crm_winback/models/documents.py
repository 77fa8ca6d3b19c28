"""What the brief builder returns besides the markdown: slots, assumptions, checks, knowledge (crm_winback.brief)."""

from __future__ import annotations

from typing import Any, Literal

from . import StrictModel

Kind = Literal["brief", "ltv-plan", "programme", "unknown"]


class Slot(StrictModel):
    id: str
    section: str
    instruction: str


class Assumption(StrictModel):
    field: str
    value: str
    why: str
    how_to_check: str


class Criterion(StrictModel):
    id: str
    description: str
    passed: bool
    line: int | None
    detail: str


class CheckReport(StrictModel):
    kind: Kind
    passed: bool
    criteria: list[Criterion]
    red_flags: list[Criterion]
    unfilled_slots: list[str]


class KnowledgeAnswer(StrictModel):
    """The entries of one knowledge file that match the filters."""

    topic: str
    file: str
    items: list[dict[str, Any]]
