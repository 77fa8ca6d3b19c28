"""Generators for catalogue inputs too large or too odd to keep as text in YAML (see tests/catalogue/README.md)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


def fifo(target: Path) -> None:
    """A named pipe where a file is expected."""
    os.mkfifo(target)


def folder(target: Path) -> None:
    """A folder where a file is expected."""
    target.mkdir()


def models_regular_buyers(target: Path, customers: int = 60, days: int = 280) -> None:
    """Regular buyers (every 10-16 days; every fourth one stops), with a second order later the same day on
    every third purchase day: a purchase day counts once, so no gap between purchase days is zero."""
    start = dt.date(2024, 1, 1)
    lines = ["customer,date,amount"]
    for i in range(customers):
        cycle = 10 + i % 7
        stop = days if i % 4 else 60 + 5 * i
        for k, offset in enumerate(range(i % 9, min(days, stop), cycle)):
            day = (start + dt.timedelta(days=offset)).isoformat()
            lines.append(f"C{i:03d},{day} 09:{i % 60:02d},{10 + k % 5}")
            if k % 3 == 0:
                lines.append(f"C{i:03d},{day} 17:{i % 60:02d},{3 + k % 2}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
