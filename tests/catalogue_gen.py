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


def backtest_equal_amounts(target: Path, customers: int = 600) -> None:
    """Orders whose amounts are all 1.00: enough repeat buyers for BG/NBD, no spread for a spend model.

    A seeded BG/NBD-like shop over 2023 (gamma purchase rates, a Beta(1, 3) chance of dropping out after each
    order), so the purchase fit is ordinary and the Gamma-Gamma fit has nothing to fit: the service falls
    back to the mean order value.
    """
    import datetime as dt
    import random

    rng = random.Random(14)
    start = dt.date(2023, 1, 1)
    lines = ["customer,date,amount"]
    for i in range(customers):
        day = float(rng.randrange(120))
        rate = rng.gammavariate(0.8, 1 / 30)  # orders per day
        drop = rng.betavariate(1.0, 3.0)  # chance of leaving after each order, spread across customers
        while day < 365:
            lines.append(f"C{i:04d},{(start + dt.timedelta(days=int(day))).isoformat()},1.00")
            if rng.random() < drop:
                break
            day += 1 + rng.expovariate(rate)  # one order per day: every purchase day is worth 1.00
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
