"""The map from R-F-M codes to named segments (knowledge/rfm_segments.yaml, or the user's own file).

A map must give every one of the 125 codes exactly one segment; gaps and overlaps are errors that name the
codes. The SQL is a join against the 125-row table the map expands to.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

from pydantic import Field, model_validator

from ..errors import KnowledgeError
from ..knowledge import KnowledgeModel, load_knowledge, load_model_file


class SegmentInfo(KnowledgeModel):
    name: str
    description: str
    action: str


class SegmentRule(KnowledgeModel):
    segment: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]


class SegmentMap(KnowledgeModel):
    segments: list[SegmentInfo] = Field(min_length=1)
    rules: list[SegmentRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> SegmentMap:
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError("segments: a name appears twice")
        for i, rule in enumerate(self.rules):
            if rule.segment not in names:
                raise ValueError(f"rules[{i}]: segment '{rule.segment}' is not listed under segments")
            for axis in ("r", "f", "m"):
                lo, hi = getattr(rule, axis)
                if not 1 <= lo <= hi <= 5:
                    raise ValueError(f"rules[{i}].{axis}: [{lo}, {hi}] must satisfy 1 <= low <= high <= 5")
        table = self.codes()
        missing = [c for c, hits in table.items() if not hits]
        overlap = {c: hits for c, hits in table.items() if len(hits) > 1}
        if missing:
            raise ValueError(
                f"rules: {len(missing)} codes have no segment: {', '.join(missing[:12])}"
                f"{' ...' if len(missing) > 12 else ''}; add rules that cover them"
            )
        if overlap:
            code, hits = next(iter(overlap.items()))
            raise ValueError(
                f"rules: {len(overlap)} codes match more than one rule, e.g. {code} -> "
                f"{' and '.join(hits)}; narrow the ranges so each code matches once"
            )
        return self

    def codes(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for r, f, m in product(range(1, 6), repeat=3):
            table[f"{r}{f}{m}"] = [
                rule.segment
                for rule in self.rules
                if rule.r[0] <= r <= rule.r[1] and rule.f[0] <= f <= rule.f[1] and rule.m[0] <= m <= rule.m[1]
            ]
        return table

    def code_to_segment(self) -> dict[str, str]:
        return {code: hits[0] for code, hits in self.codes().items()}

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


def load_segment_map(path: str | None = None) -> SegmentMap:
    if path is None:
        return load_knowledge("rfm_segments.yaml", SegmentMap)
    try:
        return load_model_file(Path(path), SegmentMap)
    except KnowledgeError as exc:
        raise KnowledgeError(f"--segment-map {exc}") from None
