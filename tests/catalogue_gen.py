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


def mcp_symlink_out(target: Path) -> None:
    """A symbolic link inside the working folder to a file outside it."""
    secret = target.parent.parent / "secret.csv"
    secret.write_text("customer_id,order_date\nC1,2024-01-01\n", encoding="utf-8")
    target.symlink_to(secret)


def mcp_symlink_loop(target: Path) -> None:
    """A symbolic link to itself."""
    target.symlink_to(target)
