"""One loader for every YAML file in ``knowledge/``: parse, validate with a pydantic model, explain mistakes.

Domain knowledge is data. Each file has a model (``extra="forbid"``) registered in ``KNOWLEDGE_FILES``; a
test loads every file through it. A mistake is reported as ``file: field.path: problem`` in one line.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import KnowledgeError
from .resources import resource_dir


class KnowledgeModel(BaseModel):
    """Base for knowledge models: unknown keys are errors, loaded objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)

# file name in knowledge/ -> "module:Model" (imported lazily so start-up stays cheap)
KNOWLEDGE_FILES: dict[str, str] = {
    "columns.yaml": "crm_winback.ingest.mapping:ColumnSynonyms",
    "order_status.yaml": "crm_winback.ingest.status:StatusRules",
    "rfm_thresholds.yaml": "crm_winback.scoring.rfm:Thresholds",
    "rfm_segments.yaml": "crm_winback.scoring.segment_map:SegmentMap",
    "lifecycle.yaml": "crm_winback.lifecycle:LifecycleRules",
    "confidence.yaml": "crm_winback.ingest.quality:ConfidenceRules",
    "prebuilt_segments.yaml": "crm_winback.segments.prebuilt:PrebuiltSegments",
    "products.yaml": "crm_winback.products:ProductRules",
    "audience.yaml": "crm_winback.segments.audience:AudienceRules",
    "business_profiles.yaml": "crm_winback.brief.library:BusinessProfiles",
    "winback_triggers.yaml": "crm_winback.brief.library:TriggerLibrary",
    "channels.yaml": "crm_winback.brief.library:ChannelMatrix",
    "offers.yaml": "crm_winback.brief.library:OfferLibrary",
    "messages.yaml": "crm_winback.brief.library:MessageLibrary",
    "sequences.yaml": "crm_winback.brief.library:SequenceLibrary",
    "kpis.yaml": "crm_winback.brief.library:KpiFramework",
    "ltv_levers.yaml": "crm_winback.brief.library:LtvLevers",
    "crm_programme.yaml": "crm_winback.brief.library:CrmProgramme",
    "red_flags.yaml": "crm_winback.brief.library:RedFlags",
    "consent_rules.yaml": "crm_winback.brief.library:ConsentRules",
    "profile_layouts.yaml": "crm_winback.ingest.profiles:ProfileLayouts",
    "engagement.yaml": "crm_winback.ingest.profiles:EngagementRules",
}


def knowledge_dir() -> Path:
    return resource_dir("knowledge")


def format_validation_error(source: str, error: ValidationError) -> str:
    """Turn a pydantic error into ``source: a.b[2].c: message`` lines joined by '; '."""
    parts = []
    for item in error.errors():
        path = ""
        for loc in item["loc"]:
            path += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if path else str(loc))
        parts.append(f"{path or '(top level)'}: {item['msg']}")
    return f"{source}: " + "; ".join(parts)


# libyaml's safe loader parses the knowledge files about ten times faster than the pure-Python one
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found; check the path") from None
    except UnicodeDecodeError:
        raise KnowledgeError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise KnowledgeError(f"{path}:{where}: {problem}; fix the YAML syntax") from None


def load_model_file(path: Path, model: type[M]) -> M:
    """Load any YAML (or JSON) file into ``model``; errors name the file and field path."""
    data = parse_yaml_file(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(format_validation_error(str(path), exc)) from None


def model_for(name: str) -> type[BaseModel]:
    module_name, _, attr = KNOWLEDGE_FILES[name].partition(":")
    model = getattr(importlib.import_module(module_name), attr)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


@lru_cache(maxsize=64)
def _load_cached(path: Path, model: type[BaseModel]) -> BaseModel:
    return load_model_file(path, model)


def load_knowledge(name: str, model: type[M]) -> M:
    """Load ``knowledge/<name>`` validated by ``model`` (cached: knowledge files do not change at run time)."""
    result = _load_cached(knowledge_dir() / name, model)
    assert isinstance(result, model)
    return result
