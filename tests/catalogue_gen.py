"""Generators for catalogue inputs too large or too odd to keep as text in YAML (see tests/catalogue/README.md)."""

from __future__ import annotations

import os
from pathlib import Path


def fifo(target: Path) -> None:
    """A named pipe where a file is expected."""
    os.mkfifo(target)


def folder(target: Path) -> None:
    """A folder where a file is expected."""
    target.mkdir()
