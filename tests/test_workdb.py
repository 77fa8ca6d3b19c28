"""The working database hands the memory of dropped tables back to the system (workdb.release_freed_memory).

DuckDB's Linux wheels allocate through their own jemalloc, which keeps freed pages: without the purge a run
stays as large as its largest table long after dropping it (the 10M-line bench file held ~0.9 GB so while
the models were fitted).
"""

from __future__ import annotations

import sys

import pytest

from crm_winback import workdb


def _rss_mib() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or workdb._jemalloc_ctl() is None,
    reason="DuckDB allocates through its own jemalloc on Linux only; elsewhere there is nothing to purge",
)
def test_memory_of_a_dropped_table_is_given_back() -> None:
    con = workdb.connect()
    try:
        # ~4M short strings and integers: well over 100 MB in DuckDB's memory
        con.execute(
            "CREATE TABLE t AS SELECT 'customer ' || CAST(i AS VARCHAR) AS c, i FROM range(4000000) r(i)"
        )
        con.execute("DROP TABLE t")
        held = _rss_mib()
        workdb.release_freed_memory()
        assert held - _rss_mib() >= 50, "DuckDB's freed pages were not returned"
    finally:
        con.close()
