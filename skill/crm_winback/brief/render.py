"""Render a plan through a Jinja2 template in prompts/ (or the user's own folder): layout only.

``StrictUndefined`` makes a missing value an error instead of an empty cell. Number formatting lives in the
filters below so templates stay free of logic.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from pydantic import BaseModel

from ..errors import InputError
from ..resources import resource_dir
from .check_data import data_digest

# A narrative slot in the markdown: <!-- narrative:ID: instruction -->; the agent replaces the whole comment.
SLOT_RE = re.compile(r"<!-- narrative:([a-z0-9-]+): (.*?) -->")


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _cell(text: object) -> str:
    """Keep a value inside one markdown table cell."""
    return "-" if text is None else str(text).replace("|", "/").replace("\n", " ")


def environment(template_dir: str | Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise InputError(f"--templates {folder}: not a folder; point at a folder of *.md.j2 files")
        loaders.append(jinja2.FileSystemLoader(str(folder)))
    loaders.append(jinja2.FileSystemLoader(str(resource_dir("prompts"))))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=_pct, num=_num, cell=_cell)
    return env


def render(template: str, plan: BaseModel, template_dir: str | Path | None = None) -> str:
    """Render ``template`` (e.g. ``brief.md.j2``) with the plan's fields as variables."""
    env = environment(template_dir)
    slots = {s.id: s.instruction for s in getattr(plan, "slots", [])}

    def narrative(slot_id: str) -> str:
        if slot_id not in slots:
            raise InputError(f"template {template}: narrative slot '{slot_id}' is not one of {sorted(slots)}")
        return f"<!-- narrative:{slot_id}: {slots[slot_id]} -->"

    try:
        text = env.get_template(template).render(narrative=narrative, **dict(plan))
    except jinja2.TemplateNotFound:
        raise InputError(f"template {template} not found in {template_dir or 'prompts/'}") from None
    except jinja2.UndefinedError as exc:
        raise InputError(f"template {template}: {exc.message}; the plan has no such field") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template {exc.filename or template} line {exc.lineno}: {exc.message}") from None
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    # marks the rendered lines, so `check` can tell the document's data from the narrative written later
    return f"{text}\n{data_digest(text)}\n"
