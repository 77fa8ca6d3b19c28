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


def outputs_hardlink(target: Path, source: str) -> None:
    """A second name (hard link) for ``source``, a file written before it in the same case."""
    os.link(target.parent / source, target)


def outputs_symlink(target: Path, source: str) -> None:
    """A symbolic link to ``source``."""
    target.symlink_to(target.parent / source)


def outputs_foreign_duckdb(target: Path) -> None:
    """Someone else's DuckDB file: one table of theirs, no customer store tables."""
    import duckdb

    con = duckdb.connect(str(target))
    con.execute("CREATE TABLE invoices (id INTEGER, total DOUBLE)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5), (2, 20.0)")
    con.close()


def outputs_deep_rules(target: Path, depth: int = 5000) -> None:
    """A rule file whose groups nest ``depth`` deep."""
    text = '{"field": "orders", "operator": "gte", "value": 1}'
    for _ in range(depth):
        text = '{"rules": [' + text + "]}"
    target.write_text(text, encoding="utf-8")


def outputs_store(target: Path, orders: str, segments: dict[str, list[str]] | None = None) -> None:
    """A customer store holding one snapshot of ``orders`` (CSV text) and user segments of customer ids.

    The orders are scored from a temporary folder, so the case's own folder holds only the store.
    """
    import tempfile

    from crm_winback.segments import api

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "orders.csv"
        source.write_text(orders, encoding="utf-8")
        api.save_snapshot_file(str(source), db_path=str(target))
    rules = {"rules": [{"field": "orders", "operator": "gte", "value": 1}]}
    api.define_segment("everyone", rules, db_path=str(target))
    for name, ids in (segments or {}).items():
        api.define_segment(
            name, {"rules": [{"field": "customer_id", "operator": "in", "value": ids}]}, db_path=str(target)
        )


def mcp_symlink_out(target: Path) -> None:
    """A symbolic link inside the working folder to a file outside it."""
    secret = target.parent.parent / "secret.csv"
    secret.write_text("customer_id,order_date\nC1,2024-01-01\n", encoding="utf-8")
    target.symlink_to(secret)


def mcp_symlink_loop(target: Path) -> None:
    """A symbolic link to itself."""
    target.symlink_to(target)
