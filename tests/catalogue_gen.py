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


def ingest_late_cp1252(target: Path) -> None:
    """Over a megabyte of UTF-8 (accented names included), then one row written in cp1252."""
    rows = ["order_id,customer,date,amount\n", "1,Zoë,2024-01-05,10.00\n"]
    rows += [f"{100 + i},C{i % 1000},2024-01-{1 + i % 28:02d},1.00\n" for i in range(40000)]
    data = "".join(rows).encode("utf-8") + "2,Renée,2024-02-01,2.50\n".encode("cp1252")
    target.write_bytes(data)


def ingest_late_line_break(target: Path) -> None:
    """A quoted field with a line break in it, after the first megabyte (past the sniffed head)."""
    rows = ["order_id,customer,date,amount,note\n"]
    rows += [f"{100 + i},C{i % 1000},2024-01-{1 + i % 28:02d},1.00,plain\n" for i in range(30000)]
    rows.append('1,Z,2024-02-01,2.50,"leave at the door\nring twice"\n')
    target.write_text("".join(rows), encoding="utf-8")


def ingest_late_crlf(target: Path) -> None:
    """LF line endings for over a megabyte, then CRLF (two exports pasted together)."""
    rows = ["order_id,customer,date,amount\n"]
    rows += [f"{100 + i},C{i % 1000},2024-01-{1 + i % 28:02d},1.00\n" for i in range(40000)]
    rows += ["1,Z,2024-02-01,2.50\r\n", "2,Z,2024-02-02,3.50\r\n"]
    target.write_text("".join(rows), encoding="utf-8", newline="")


def ingest_big_cell(target: Path, megabytes: int = 60, row: int = 1) -> None:
    """A cell of ``megabytes`` MB in data row ``row`` (a pasted document, or a quote never closed)."""
    lines = [b"customer,date,amount,note\n"]
    for i in range(1, 4):
        note = b"x" * (megabytes << 20) if i == row else b"ok"
        lines.append(b"C%d,2024-01-0%d,10.00,%s\n" % (i, i, note))
    target.write_bytes(b"".join(lines))


def ingest_fifo_with_writer(target: Path, text: str = "") -> None:
    """A named pipe that a background thread fills once a reader opens it (like `<(gunzip -c x.gz)`)."""
    import threading

    os.mkfifo(target)

    def write() -> None:
        with open(target, "w", encoding="utf-8") as fh:  # blocks until the reader opens the pipe
            fh.write(text)

    threading.Thread(target=write, daemon=True).start()


def ingest_reencode(target: Path, source: str, encoding: str) -> None:
    """A test data file (path under tests/) saved again in another encoding."""
    text = (Path(__file__).resolve().parent / source).read_text(encoding="utf-8")
    target.write_bytes(text.encode(encoding))


def ingest_append_cp1252(target: Path, source: str) -> None:
    """A Shopify test export with one more line item of order #1001 appended in cp1252 (Crème)."""
    data = (Path(__file__).resolve().parent / source).read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    extra = "#1001,,,,,,,,,,,,,,1,Crème,10.00,CR-1,,,,\n".encode("cp1252")
    target.write_bytes(data + extra)


def ingest_late_value(target: Path, amount: str, rows: int = 3000) -> None:
    """``rows`` plain orders (past the 2,000-row sample the fast typed read is planned on), then one with
    ``amount`` written as given (order id 99999, customer Z)."""
    lines = ["order_id,customer,date,amount\n"]
    lines += [f"{i},C{i % 500},2024-01-{1 + i % 28:02d},1.00\n" for i in range(1, rows + 1)]
    lines.append(f"99999,Z,2024-02-01,{amount}\n")
    target.write_text("".join(lines), encoding="utf-8")


def ingest_late_stray_quote(target: Path, note: str = '"oops') -> None:
    """60,000 plain rows (past the sniffed megabyte), one row whose note is ``note``, then 100 more rows."""
    lines = ["customer,date,amount,note\n"]
    lines += [f"C{i},2024-01-{1 + i % 28:02d},1.00,ok\n" for i in range(60000)]
    lines.append(f"Z,2024-02-01,5,{note}\n")
    lines += [f"D{i},2024-02-{1 + i % 28:02d},1.00,ok\n" for i in range(100)]
    target.write_text("".join(lines), encoding="utf-8")


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


def calib_event_log(target: Path) -> None:
    """The seeded shop of ``backtest_equal_amounts`` as an event log: customer and date, no amounts.

    The backtest's lifecycle stages at the calibration end then rank VIPs by orders, as the scorer does.
    """
    backtest_equal_amounts(target)
    rows = target.read_text(encoding="utf-8").splitlines()
    target.write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n", encoding="utf-8")


def calib_memoryless_shop(target: Path, customers: int = 600) -> None:
    """Customers who never leave and order at random (one order every 60 days on average) through 2023.

    Days since the last order say nothing about who returns, and about 13% of them make no order in the
    122-day holdout: no group of customers reaches half without an order, so every band above low is empty.
    """
    import datetime as dt
    import random

    rng = random.Random(1460)
    start = dt.date(2023, 1, 1)
    lines = ["customer,date,amount"]
    for i in range(customers):
        day = rng.expovariate(1 / 60)
        while day < 365:
            lines.append(
                f"M{i:04d},{(start + dt.timedelta(days=int(day))).isoformat()},{rng.randrange(10, 90)}.00"
            )
            day += rng.expovariate(1 / 60)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def report_store_two_snapshots(target: Path, orders: str, earlier: str) -> None:
    """A customer store with two snapshots of ``orders`` (CSV text): as of ``earlier`` and as of the last order."""
    import tempfile

    from crm_winback.segments import api

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "orders.csv"
        source.write_text(orders, encoding="utf-8")
        api.save_snapshot_file(str(source), db_path=str(target), as_of=earlier)
        api.save_snapshot_file(str(source), db_path=str(target))


def models_no_signal_shop(target: Path) -> None:
    """600 customers, each with 1-4 orders on random days of 2023; whether a customer orders in the first half
    of 2024 is a fair coin flip of its own, unrelated to the history (seeded: always the same bytes)."""
    import numpy as np

    rng = np.random.default_rng(14)
    start = dt.date(2023, 1, 1)
    lines = ["customer,date,amount"]
    for c in range(600):
        for day in rng.choice(365, size=int(rng.integers(1, 5)), replace=False):
            lines.append(f"C{c:04d},{start + dt.timedelta(days=int(day))},20")
        if rng.random() < 0.5:
            lines.append(f"C{c:04d},{dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 180)))},20")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
