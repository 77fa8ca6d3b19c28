"""The customer store: CDNOW snapshots, the exact segment migration, idempotent and crash-safe saves."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from crm_winback.api import ingest_options, score_file
from crm_winback.errors import DataError, InputError
from crm_winback.scoring import ScoreOptions
from crm_winback.segments import api, store
from crm_winback.segments.store import default_db_path, previous_segment_counts, save_snapshot

CDNOW = str(Path(__file__).resolve().parents[1] / "examples" / "cdnow" / "CDNOW_master.txt")
S = {"CH": "Champions", "LC": "Loyal Customers", "PL": "Potential Loyalist", "NC": "New Customers",
     "PR": "Promising", "NA": "Need Attention", "AS": "About to Sleep", "AR": "At Risk", "CL": "Can't Lose Them",
     "HI": "Hibernating", "LO": "Lost"}  # fmt: skip
# CDNOW, fixed thresholds, as-of 1997-09-30 -> as-of 1998-06-30 (every non-zero cell; the rest are 0). A repeat
# customer scores F 2 or more (issue 15): no two-order customer lands in New Customers, Promising or Lost.
CDNOW_MIGRATION = {
    ("CH", "CH"): 197, ("CH", "LC"): 22, ("CH", "PL"): 5, ("CH", "AR"): 31, ("CH", "CL"): 83,
    ("LC", "CH"): 114, ("LC", "LC"): 45, ("LC", "PL"): 15, ("LC", "NA"): 10, ("LC", "AR"): 88, ("LC", "CL"): 29,
    ("PL", "CH"): 140, ("PL", "LC"): 64, ("PL", "PL"): 513, ("PL", "NA"): 162, ("PL", "AS"): 18, ("PL", "AR"): 401,
    ("PL", "CL"): 22, ("PL", "HI"): 1099,
    ("NA", "CH"): 22, ("NA", "LC"): 13, ("NA", "PL"): 258, ("NA", "NA"): 70, ("NA", "AS"): 12, ("NA", "AR"): 134,
    ("NA", "CL"): 6, ("NA", "HI"): 654,
    ("AS", "PL"): 3, ("AS", "NA"): 1, ("AS", "AS"): 3, ("AS", "HI"): 25,
    ("AR", "CH"): 28, ("AR", "LC"): 9, ("AR", "PL"): 130, ("AR", "NA"): 49, ("AR", "AS"): 3, ("AR", "AR"): 212,
    ("AR", "CL"): 5, ("AR", "HI"): 386,
    ("CL", "CH"): 8, ("CL", "PL"): 1, ("CL", "NA"): 1, ("CL", "AR"): 11, ("CL", "CL"): 9,
    ("HI", "CH"): 12, ("HI", "LC"): 6, ("HI", "PL"): 495, ("HI", "NA"): 171, ("HI", "AS"): 22, ("HI", "AR"): 76,
    ("HI", "HI"): 3723,
    ("LO", "CH"): 2, ("LO", "LC"): 1, ("LO", "PL"): 537, ("LO", "NA"): 213, ("LO", "AS"): 16, ("LO", "AR"): 10,
    ("LO", "HI"): 1267, ("LO", "LO"): 11908,
}  # fmt: skip


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "store.duckdb"
    api.save_snapshot_file(CDNOW, as_of="1997-09-30", db_path=str(db))
    api.save_snapshot_file(CDNOW, as_of="1998-06-30", db_path=str(db))
    return db


def _segments_in_memory(as_of: str) -> dict[str, str]:
    _, scored = score_file(CDNOW, ingest_options(as_of=as_of), ScoreOptions(), keep=True)
    assert scored is not None
    try:
        return dict(scored.ingested.con.execute("SELECT customer_id, rfm_segment FROM scores").fetchall())
    finally:
        scored.ingested.close()


def test_cdnow_migration_matrix_is_exact(cdnow_db: Path) -> None:
    m = api.segment_migration("1997-09-30", "1998-06-30", db_path=str(cdnow_db))
    got = {(c.from_group, c.to_group): c.customers for c in m.cells}
    assert got == {(S[a], S[b]): n for (a, b), n in CDNOW_MIGRATION.items()}
    assert m.count("Champions", "At Risk") == 31
    assert (m.stayed, m.moved, m.new, m.gone) == (16680, 6890, 0, 0)
    assert sum(got.values()) == 23570


def test_migration_from_the_store_equals_a_join_of_two_fresh_scorings(cdnow_db: Path) -> None:
    before, after = _segments_in_memory("1997-09-30"), _segments_in_memory("1998-06-30")
    expected = Counter((before[c], after[c]) for c in before)
    m = api.segment_migration("1", "2", db_path=str(cdnow_db))
    assert {(c.from_group, c.to_group): c.customers for c in m.cells} == dict(expected)


def test_saving_the_same_file_again_changes_nothing(cdnow_db: Path) -> None:
    again = api.save_snapshot_file(CDNOW, as_of="1998-06-30", db_path=str(cdnow_db))
    assert again.already_saved and again.snapshot_id == 2
    with store.open_store(cdnow_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM customer_rfm_scores").fetchone() == (2 * 23570,)
    other = api.save_snapshot_file(CDNOW, as_of="1998-06-30", method="quantile", db_path=str(cdnow_db))
    assert not other.already_saved and other.snapshot_id == 3
    with duckdb.connect(str(cdnow_db)) as con:  # leave the module's store as the other tests expect it
        con.execute("DELETE FROM customer_rfm_scores WHERE snapshot_id = 3")
        con.execute("DELETE FROM snapshots WHERE snapshot_id = 3")


def test_previous_segment_counts_for_the_scorecard_trend(cdnow_db: Path, tmp_path: Path) -> None:
    prev = previous_segment_counts(cdnow_db, dt.date(1998, 6, 30))
    assert prev is not None and prev.snapshot.as_of == dt.date(1997, 9, 30)
    assert prev.counts["Champions"] == 338 and prev.counts["Lost"] == 13954
    assert sum(prev.counts.values()) == 23570
    assert previous_segment_counts(cdnow_db, dt.date(1997, 9, 30)) is None
    assert previous_segment_counts(tmp_path / "none.duckdb", dt.date(1998, 6, 30)) is None
    assert not (tmp_path / "none.duckdb").exists()


def test_distribution_members_and_snapshot_references(cdnow_db: Path) -> None:
    dist = api.segment_distribution(db_path=str(cdnow_db), snapshot="previous")
    assert dist.snapshot.as_of == dt.date(1997, 9, 30) and dist.counts["Champions"] == 338
    page = api.segment_members("vip-by-spend", db_path=str(cdnow_db), limit=2, offset=1)
    assert page.total == 376 and [m.customer_id for m in page.members] == ["14048", "07983"]
    # "VIP" is the lifecycle stage, the same count as the stage distribution's, not seed 002's spend rule
    vip = api.segment_members("VIP", db_path=str(cdnow_db), limit=1)
    stages = api.segment_distribution(db_path=str(cdnow_db), by="lifecycle_stage").counts
    assert (vip.kind, vip.total) == ("lifecycle_stage", stages["VIP"]) and stages["VIP"] == 773
    assert api.segment_members("champions", db_path=str(cdnow_db)).total == 523
    with pytest.raises(InputError, match="snapshot '1999-01-01' not found"):
        api.segment_distribution(db_path=str(cdnow_db), snapshot="1999-01-01")


def test_user_segment_is_saved_and_counted(cdnow_db: Path) -> None:
    rules = {"logic": "AND", "rules": [{"field": "orders", "operator": "gte", "value": 10},
                                       {"field": "last_order_date", "operator": "lt", "value": "180_days_ago"}]}  # fmt: skip
    summary = api.define_segment(
        "Big but gone", rules, "10+ orders, nothing for 6 months", db_path=str(cdnow_db)
    )
    with store.open_store(cdnow_db, read_only=True) as con:
        expected = con.execute(
            "SELECT count(*) FROM customer_rfm_scores WHERE snapshot_id = 2 AND orders >= 10 "
            "AND last_order_date < DATE '1998-01-01'"
        ).fetchone()
    assert expected is not None and summary.members == expected[0] == 86
    listed = {s.name: s for s in api.list_segments(db_path=str(cdnow_db)).segments}
    assert listed["Big but gone"].members == 86 and listed["Big but gone"].kind == "user"
    assert listed["subscription-candidates"].members is None  # CDNOW has no products
    with pytest.raises(InputError, match="taken by a pre-built"):
        api.define_segment("VIP", rules, db_path=str(cdnow_db))
    assert api.remove_segment("Big but gone", db_path=str(cdnow_db))


def test_a_failure_mid_save_leaves_the_previous_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.duckdb"
    api.save_snapshot_file(CDNOW, as_of="1997-09-30", db_path=str(db))
    real = store._insert_scores

    def insert_then_fail(con: duckdb.DuckDBPyConnection, snapshot_id: int, table: str) -> None:
        real(con, snapshot_id, table)
        raise RuntimeError("simulated crash after the rows went in")

    monkeypatch.setattr(store, "_insert_scores", insert_then_fail)
    with pytest.raises(RuntimeError):
        api.save_snapshot_file(CDNOW, as_of="1998-06-30", db_path=str(db))
    with store.open_store(db, read_only=True) as con:
        assert con.execute("SELECT snapshot_id, as_of FROM snapshots").fetchall() == [
            (1, dt.date(1997, 9, 30))
        ]
        assert con.execute("SELECT count(*) FROM customer_rfm_scores").fetchone() == (23570,)


def test_a_killed_process_mid_save_leaves_the_previous_state(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    api.save_snapshot_file(CDNOW, as_of="1997-09-30", db_path=str(db))
    script = textwrap.dedent(f"""
        import os
        from crm_winback.segments import api, store
        real = store._insert_scores
        def die(con, snapshot_id, table):
            real(con, snapshot_id, table)
            os._exit(9)  # no rollback, no close: as if the process were killed
        store._insert_scores = die
        api.save_snapshot_file({CDNOW!r}, as_of="1998-06-30", db_path={str(db)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9
    with store.open_store(db, read_only=True) as con:
        assert con.execute("SELECT snapshot_id FROM snapshots").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM customer_rfm_scores").fetchone() == (23570,)
    assert api.save_snapshot_file(CDNOW, as_of="1998-06-30", db_path=str(db)).snapshot_id == 2


def test_store_location_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CRM_WINBACK_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "crm-winback" / "store.duckdb"
    monkeypatch.setenv("CRM_WINBACK_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"


def test_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="save a snapshot first"):
        api.segment_distribution(db_path=str(tmp_path / "missing.duckdb"))
    db = tmp_path / "empty.duckdb"
    with store.open_store(db):
        pass
    with pytest.raises(DataError, match="no snapshot"):
        api.segment_distribution(db_path=str(db))


def test_save_snapshot_reports_what_it_saved(tmp_path: Path) -> None:
    _, scored = score_file(CDNOW, ingest_options(as_of="1997-09-30"), ScoreOptions(), keep=True)
    assert scored is not None
    try:
        info = save_snapshot(scored, tmp_path / "s.duckdb", shop="cdnow")
    finally:
        scored.ingested.close()
    assert (info.shop, info.source_name, info.as_of, info.method, info.customers, info.has_items) == (
        "cdnow",
        "CDNOW_master.txt",
        dt.date(1997, 9, 30),
        "fixed",
        23570,
        False,
    )
    assert info.source_sha256 == "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef"


# --- the store opens only a store or a new path ------------------------------------------------------------

SMALL = "customer,date,amount\nA,2024-01-01,10\nA,2024-02-01,15\nB,2024-01-03,5\n"
RULES = {"rules": [{"field": "orders", "operator": "gte", "value": 1}]}


def _foreign_duckdb(path: Path) -> bytes:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER, total DOUBLE)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5)")
    con.close()
    return path.read_bytes()


def test_someone_elses_duckdb_file_is_refused_by_every_store_command_and_left_unchanged(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other.duckdb"
    before = _foreign_duckdb(other)
    orders = tmp_path / "o.csv"
    orders.write_text(SMALL, encoding="utf-8")
    calls = [
        lambda: api.list_segments(str(other)),
        lambda: api.define_segment("mine", RULES, db_path=str(other)),
        lambda: api.remove_segment("mine", str(other)),
        lambda: api.save_snapshot_file(str(orders), db_path=str(other)),
        lambda: api.list_store_snapshots(str(other)),
        lambda: api.export_segment("mine", str(tmp_path / "a.csv"), db_path=str(other)),
    ]
    for call in calls:
        with pytest.raises(
            InputError, match=r"other\.duckdb: not a crm-winback customer store .*left unchanged"
        ):
            call()
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "other.duckdb"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("orders.csv", SMALL.encode(), "not a DuckDB file, so not a customer store"),
        ("notes.db", b"just some text, not a database", "not a DuckDB file, so not a customer store"),
        ("empty.duckdb", b"", "not a DuckDB file, so not a customer store"),
    ],
)
def test_a_file_that_is_not_a_duckdb_store_is_refused_in_words(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    for call in (
        lambda: api.list_segments(str(path)),
        lambda: api.define_segment("mine", RULES, db_path=str(path)),
    ):
        with pytest.raises(InputError) as info:
            call()
        assert words in str(info.value)
    assert path.read_bytes() == content


def test_a_new_store_must_be_named_duckdb_or_db(tmp_path: Path) -> None:
    # DuckDB opens a new "x.csv" as an in-memory database: a define there would be lost, with exit 0
    with pytest.raises(InputError, match=r"new\.csv: a customer store is a DuckDB file ending in \.duckdb"):
        api.define_segment("mine", RULES, db_path=str(tmp_path / "new.csv"))
    assert list(tmp_path.iterdir()) == []


def test_a_store_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with store.open_store(db) as con:
        con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(InputError, match="a customer store of a newer crm-winback \\(schema 99"):
        api.list_segments(str(db))


def test_listing_or_removing_never_creates_a_store_and_a_refused_define_leaves_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "new" / "s.duckdb"
    listed = api.list_segments(str(db))
    assert listed.snapshot is None and {s.kind for s in listed.segments} >= {"prebuilt", "rfm_segment"}
    assert api.remove_segment("nothing", str(db)) is False
    with pytest.raises(InputError, match="is taken by a pre-built"):
        api.define_segment("Champions", RULES, db_path=str(db))
    assert list(tmp_path.iterdir()) == []
    api.define_segment("mine", RULES, db_path=str(db))  # a write creates it
    assert [s.name for s in api.list_segments(str(db)).segments if s.kind == "user"] == ["mine"]


def test_a_save_that_fails_into_a_new_store_removes_the_store_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(SMALL, encoding="utf-8")
    db = tmp_path / "new" / "s.duckdb"

    def fail(*args: object) -> None:
        raise InputError("stop here")

    monkeypatch.setattr(store, "_insert_scores", fail)
    with pytest.raises(InputError, match="stop here"):
        api.save_snapshot_file(str(orders), db_path=str(db))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv"]
