"""The compiled Postgres SQL (``crm-winback sql --dialect postgres``) run by a real PostgreSQL on CDNOW equals
today's local DuckDB SQL.

The test starts a throwaway server in a temporary folder (initdb, pg_ctl; a Unix socket only, no TCP port) and
talks to it with psql. Skipped only where those programs are absent and CI is not set (.ci/run installs them).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .engines_support import (
    assert_same_summary,
    datasets,
    engine_rows,
    local_summary,
    need_engine,
    typed_table,
)

pytest.importorskip("ibis")  # the [warehouse] extra; the lock installs it

from crm_winback.engines.dialects import summary_sql


def _program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[list[str]]:
    """A running throwaway server; yields the psql command that reaches it."""
    initdb, pg_ctl, psql = (_program(p) for p in ("initdb", "pg_ctl", "psql"))
    need_engine(None not in (initdb, pg_ctl, psql), "PostgreSQL (initdb, pg_ctl, psql)")
    assert initdb and pg_ctl and psql
    # not under pytest's temporary folder, which the postgres user may not enter
    folder = Path(tempfile.mkdtemp(prefix="crm-winback-pg-"))
    data = folder / "data"
    as_server: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        need_engine(shutil.which("runuser") is not None, "runuser (to start PostgreSQL as a non-root user)")
        shutil.chown(folder, "postgres")
        as_server = ["runuser", "-u", "postgres", "--"]
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        [*as_server, initdb, "-D", str(data), "-U", "crm", "--auth=trust", "-E", "UTF8", "--no-locale"], **run
    )  # type: ignore[call-overload]
    options = f"-c listen_addresses='' -k {folder} -c fsync=off"
    subprocess.run(
        [*as_server, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"], **run
    )  # type: ignore[call-overload]
    try:
        yield [psql, "-X", "-q", "-h", str(folder), "-U", "crm", "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
    finally:
        subprocess.run([*as_server, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _typed(value: str, kind: str) -> Any:
    if value == "":
        return None
    return {"date": dt.date.fromisoformat, "int": int, "dec": Decimal, "float": float, "str": str}[kind](
        value
    )


KINDS = ["str", "date", "date", "int", "int", "dec", "dec", "float", "int", "int", "int", "dec", "float"]


@pytest.mark.slow
def test_compiled_postgres_sql_on_a_real_server_equals_the_local_sql(
    postgres: list[str], tmp_path: Path
) -> None:
    data = next(d for d in datasets() if d.name == "cdnow")
    con = duckdb.connect()
    typed_table(con, data)
    csv = tmp_path / "orders.csv"
    con.execute(f"COPY orders TO '{csv}' (HEADER false)")
    create = (
        "CREATE TABLE orders (customer_id text, date date, number_of_cds integer, dollar_value numeric(18, 4));"
        f"\\copy orders FROM '{csv}' WITH (FORMAT csv)"
    )
    subprocess.run([*postgres, "-c", create.split(";")[0] + ";"], check=True, capture_output=True)
    subprocess.run([*postgres, "-c", create.split(";")[1]], check=True, capture_output=True)
    script = tmp_path / "summary.sql"
    script.write_text(summary_sql("postgres", "orders", data.mapping, data.as_of, "UTC"), encoding="utf-8")
    out = subprocess.run(
        [*postgres, "-A", "-t", "-F", "\t", "-f", str(script)], check=True, capture_output=True, text=True
    ).stdout
    rows = [
        tuple(_typed(v, k) for v, k in zip(line.split("\t")[:13], KINDS, strict=True))
        for line in out.splitlines()
        if line
    ]
    assert len(rows) == 23570
    assert_same_summary(local_summary(data), engine_rows(rows))
