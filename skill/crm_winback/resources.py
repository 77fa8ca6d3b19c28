"""Locate data folders that ship with the package (knowledge/, prompts/, examples/).

In a wheel they live inside the package (``crm_winback/knowledge``); in a source checkout or an editable
install they sit at the repository root. Both are tried, package first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder ``name`` (``knowledge``, ``prompts`` or ``examples``) shipped with the package."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the package folder '{name}' is missing; reinstall crm-segment-winback")
