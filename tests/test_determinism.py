"""The same input gives byte-identical outputs in two separate processes (different hash seeds).

Two calls in one process share caches, hash seeds and thread pools; two processes do not. Each run works in its
own empty folder, and the outputs are compared byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .paths import CDNOW, DATA


def _run(folder: Path, seed: str, args: list[str]) -> bytes:
    folder.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-m", "crm_winback", *args], cwd=folder, env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "args",
    [
        ["score", str(CDNOW), "-o", "scores.csv", "--format", "json"],
        ["score", str(CDNOW), "-o", "scores.csv", "--predict", "--format", "json"],
        ["brief", "--context", str(DATA / "brief" / "coffee_subscription.yaml"), "--orders", str(CDNOW), "-o", "brief.md"],
        ["ltv-plan", "--context", str(DATA / "brief" / "marketplace_partial.yaml"), "--orders",
         str(DATA / "brief" / "marketplace_orders.csv"), "-o", "plan.md"],
    ],
    ids=["score", "score-predict", "brief", "ltv-plan"],
)  # fmt: skip
def test_two_processes_write_the_same_bytes(tmp_path: Path, args: list[str]) -> None:
    first = _run(tmp_path / "a", "1", args)
    second = _run(tmp_path / "b", "2", args)
    assert first == second
    files = _files(tmp_path / "a")
    assert files, "the command wrote no file"
    assert files == _files(tmp_path / "b")
