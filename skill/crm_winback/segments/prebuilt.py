"""Pre-built segments (knowledge/prebuilt_segments.yaml), validated with the rule language when loaded."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from ..errors import InputError
from ..knowledge import KnowledgeModel, load_knowledge
from .rules import RuleGroup, parse_rules

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.'-]{0,63}$"


class PrebuiltSegment(KnowledgeModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str
    rules: dict[str, Any]

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_rules(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    def rule_group(self) -> RuleGroup:
        return parse_rules(self.rules, f"prebuilt segment {self.name}")


class PrebuiltSegments(KnowledgeModel):
    segments: list[PrebuiltSegment] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PrebuiltSegments:
        names = [s.name.lower() for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment names must be unique; repeated: {', '.join(dupes)}")
        return self


def prebuilt_segments() -> list[PrebuiltSegment]:
    return list(load_knowledge("prebuilt_segments.yaml", PrebuiltSegments).segments)
