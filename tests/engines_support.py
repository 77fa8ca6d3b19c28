"""The real datasets as typed tables (what a warehouse holds), and the local DuckDB path's summary of them.

The typed tables are read here independently of the ingest (plain splitting and DuckDB's CSV reader with
stated types), so the parity tests compare two separate paths from the same file to the same summary.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crm_winback.ingest import IngestOptions, load_orders
from crm_winback.predict.summary import summarize

from .paths import TODAY, shared_file


@dataclass(frozen=True)
class Dataset:
    name: str
    parts: tuple[str, str]  # under ../shared/data
    mapping: dict[str, str]  # the typed table's columns by role
    as_of: dt.date

    @property
    def path(self) -> Path:
        return shared_file(
            *self.parts
        )  # skips when the shared data is absent (read at run time, not collection)


def datasets() -> list[Dataset]:
    return [
        Dataset(
            "cdnow",
            ("cdnow", "CDNOW_master.txt"),
            {"customer": "customer_id", "date": "date", "amount": "dollar_value"},
            dt.date(1998, 6, 30),
        ),
        Dataset(
            "online_retail",
            ("online_retail", "online_retail.csv.gz"),
            {
                "customer": "CustomerID",
                "date": "InvoiceDate",
                "order_id": "InvoiceNo",
                "quantity": "Quantity",
                "unit_price": "UnitPrice",
            },
            dt.date(2011, 12, 9),
        ),
        Dataset(
            "grocery",
            ("grocery", "groceryElog.csv"),
            {"customer": "cust", "date": "date"},
            dt.date(2007, 12, 30),
        ),
    ]


def typed_table(con: duckdb.DuckDBPyConnection, data: Dataset, name: str = "orders") -> None:
    """Create ``name`` in ``con``: the dataset's rows with warehouse types (DECIMAL money, DATE/TIMESTAMP)."""
    if data.name == "cdnow":
        # runs of spaces: split here, then one typed read of a plain CSV (row-by-row inserts take a minute)
        with data.path.open() as f, tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as out:
            for line in f:
                fields = line.split()
                if fields and fields[0] != "customer_id":
                    out.write(",".join(fields) + "\n")
        try:
            con.execute(
                f"""CREATE TABLE {name} AS SELECT customer_id, strptime(date, '%Y%m%d')::DATE AS date,
                       number_of_cds, dollar_value FROM read_csv($p, header = false, columns = {{
                       'customer_id': 'VARCHAR', 'date': 'VARCHAR', 'number_of_cds': 'INTEGER',
                       'dollar_value': 'DECIMAL(18, 4)'}})""",
                {"p": out.name},
            )
        finally:
            os.unlink(out.name)
    elif data.name == "online_retail":
        con.execute(
            f"""CREATE TABLE {name} AS SELECT * FROM read_csv($p, header = true, columns = {{
                    'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR', 'Description': 'VARCHAR',
                    'Quantity': 'BIGINT', 'InvoiceDate': 'TIMESTAMP', 'UnitPrice': 'DECIMAL(18, 4)',
                    'CustomerID': 'VARCHAR', 'Country': 'VARCHAR'}})""",
            {"p": str(data.path)},
        )
    else:
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv($p, header = true, "
            "columns = {'cust': 'VARCHAR', 'date': 'DATE'})",
            {"p": str(data.path)},
        )


def local_summary(data: Dataset) -> dict[str, tuple[Any, ...]]:
    """The local path's summary by customer id: today's DuckDB SQL (ingest + the scoring's median + the
    models' summary), as tuples of (first, last, orders, purchase_days, gross, net, median, x, t_x, T, zbar,
    litt)."""
    ingested = load_orders(data.path, IngestOptions(as_of=data.as_of, today=TODAY))
    try:
        con = ingested.con
        summarize(con, data.as_of, "days")
        rows = con.execute(
            """SELECT c.customer_id, c.first_order_date, c.last_order_date, c.orders, c.purchase_days,
                      round(c.gross_total, 2), round(c.net_total, 2),
                      c.median_days_between,  -- as ingest/orders.py computes it for scoring
                      s.x, s.t_x_days, s.T_days, s.zbar, s.litt_days
               FROM customers c JOIN predict_summary s USING (customer_id) ORDER BY c.customer_id"""
        ).fetchall()
    finally:
        ingested.close()
    return {r[0]: r[1:] for r in rows}


def engine_rows(rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """An engine's summary rows (contract order) as local_summary's tuples."""
    out = {}
    for r in rows:
        (customer, first, last, orders, days, gross, net, median, x, t_x, big_t, repeat, litt) = r[:13]
        zbar = float(repeat) / x if x and repeat is not None else float("nan")
        out[customer] = (
            first, last, orders, days,
            None if gross is None else round(float(gross), 2),
            None if net is None else round(float(net), 2),
            median, x, t_x, big_t, zbar, litt,
        )  # fmt: skip
    return out


def assert_same_summary(local: dict[str, tuple[Any, ...]], engine: dict[str, tuple[Any, ...]]) -> None:
    """Same customers, dates, counts and medians exactly; money to the cent; zbar and litt to 1e-9."""
    assert local.keys() == engine.keys()
    exact = slice(0, 4)
    for customer, want in local.items():
        got = engine[customer]
        assert got[exact] == want[exact], customer
        assert got[4:8] == want[4:8], customer  # gross, net (cents), median, x
        assert got[8:10] == want[8:10], customer  # t_x, T
        for a, b in zip(got[10:], want[10:], strict=True):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-9, nan_ok=True), customer


def need_engine(available: bool, what: str) -> None:
    """Skip when an engine is absent, unless CI is set: there its absence is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available on CI (.ci/run installs it)")
    pytest.skip(f"{what} is not available here")
