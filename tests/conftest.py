from __future__ import annotations

from pathlib import Path

import pytest

from .paths import DATA


@pytest.fixture
def small_orders() -> Path:
    return DATA / "small_orders.csv"
