"""Where the test data lives, and the fixed 'today' that decides which dates are in the future."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared" / "data"
CDNOW = ROOT / "examples" / "cdnow" / "CDNOW_master.txt"
TODAY = dt.date(2026, 11, 23)


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset {path} is not present next to the repository")
    return path
