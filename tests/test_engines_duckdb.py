"""The Ibis summary (contract v1) on DuckDB equals today's local DuckDB SQL on every real dataset."""

from __future__ import annotations

import duckdb
import pytest

from .engines_support import assert_same_summary, datasets, engine_rows, local_summary, typed_table

ibis = pytest.importorskip("ibis")  # the [warehouse] extra; the lock installs it, so CI always has it

from crm_winback.engines.duckdb_engine import summary_on_duckdb  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("data", datasets(), ids=lambda d: d.name)
def test_ibis_summary_on_duckdb_equals_the_local_sql(data) -> None:
    local = local_summary(data)
    con = duckdb.connect()
    typed_table(con, data)
    got = summary_on_duckdb(con, "orders", data.mapping, data.as_of)
    assert_same_summary(local, engine_rows(got.fetchall()))
