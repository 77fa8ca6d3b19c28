"""The customer store: an embedded DuckDB file with scored snapshots and saved segment definitions.

Tables:
- ``snapshots``: one row per saved scoring run (shop, source file name and sha256, as-of date, method).
- ``customer_rfm_scores``: per snapshot and customer, the columns of :data:`CUSTOMER_COLUMNS` (the scores,
  contact fields and consent, and product/category features when the export had line items). The store keeps
  contact details so audiences can be exported later; it is a local file of the user's.
- ``customer_segments``: user-defined segments (name, description, rules as canonical JSON).

A save is one transaction: a crash or kill part-way leaves the store as it was before. Saving the same file
with the same as-of date and method again changes nothing and returns the existing snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from pydantic import BaseModel

from ..errors import DataError, InputError
from ..ingest.reader import sql_string
from ..models.store import SnapshotInfo
from ..scoring.score import SCORE_COLUMNS, Scored
from ..workdb import first_row

ITEM_COLUMNS = (
    "max_product_purchases", "distinct_products", "distinct_categories", "max_category_orders", "top_product",
    "top_category",
)  # fmt: skip
# from the email platform's profiles (score --profiles); empty in snapshots saved without them
PROFILE_TYPES = {"engagement_tier": "VARCHAR", "last_click_date": "DATE", "last_open_date": "DATE"}
CUSTOMER_COLUMNS = (*SCORE_COLUMNS, *ITEM_COLUMNS, *PROFILE_TYPES)
DEFAULT_SHOP = "default"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id INTEGER PRIMARY KEY, shop VARCHAR NOT NULL, source_name VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL, as_of DATE NOT NULL, method VARCHAR NOT NULL, customers INTEGER NOT NULL,
    has_items BOOLEAN NOT NULL, repurchase_cycle_days DOUBLE, created_at TIMESTAMP NOT NULL,
    UNIQUE (shop, source_sha256, as_of, method));
CREATE TABLE IF NOT EXISTS customer_rfm_scores (
    snapshot_id INTEGER NOT NULL, customer_id VARCHAR NOT NULL, first_order_date DATE, last_order_date DATE,
    orders BIGINT, purchase_days BIGINT, gross_total DOUBLE, net_total DOUBLE, aov DOUBLE, recency_days BIGINT,
    tenure_days BIGINT, orders_per_year DOUBLE, median_days_between DOUBLE, expected_gap_days DOUBLE,
    r_score INTEGER, f_score INTEGER, m_score INTEGER, rfm_code VARCHAR, rfm_segment VARCHAR,
    lifecycle_stage VARCHAR, churn_risk VARCHAR, email VARCHAR, phone VARCHAR, first_name VARCHAR,
    last_name VARCHAR, email_consent BOOLEAN, sms_consent BOOLEAN, max_product_purchases BIGINT,
    distinct_products BIGINT, distinct_categories BIGINT, max_category_orders BIGINT, top_product VARCHAR,
    top_category VARCHAR, engagement_tier VARCHAR, last_click_date DATE, last_open_date DATE,
    PRIMARY KEY (snapshot_id, customer_id));
CREATE TABLE IF NOT EXISTS customer_segments (
    name VARCHAR PRIMARY KEY, description VARCHAR, rules_json VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL);
"""


class SegmentCounts(BaseModel):
    snapshot: SnapshotInfo
    by: str
    counts: dict[str, int]


_SNAPSHOT_COLS = ("snapshot_id, shop, source_name, source_sha256, as_of, method, customers, has_items, "
                  "repurchase_cycle_days, created_at")  # fmt: skip


def default_db_path() -> Path:
    """``$CRM_WINBACK_DB``, else ``$XDG_DATA_HOME/crm-winback/store.duckdb`` (``~/.local/share`` by default)."""
    if os.environ.get("CRM_WINBACK_DB"):
        return Path(os.environ["CRM_WINBACK_DB"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crm-winback" / "store.duckdb"


def store_path(db_path: str | Path | None) -> Path:
    """The store's path: ``db_path``, else :func:`default_db_path`."""
    return Path(db_path) if db_path is not None else default_db_path()


_path = store_path


STORE_SUFFIXES = (".duckdb", ".db")
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def check_store_path(path: Path) -> bool:
    """Refuse a path that is not a customer store nor a new path; True when the store exists already.

    Only a DuckDB file (checked by its header, never opened) may be a store; that it holds the store's tables
    is checked on opening (DuckDB opens an existing CSV as an in-memory database with the CSV as a view, where
    a save would be lost, so the header is read first). A new store's name ends in .duckdb or .db, as the MCP
    server requires: never a database file posing as a CSV a spreadsheet would open.
    """
    if not path.exists():
        if path.is_symlink():
            raise InputError(f"--db {path}: a symbolic link to nothing; give the store file or a new path")
        if path.suffix.lower() not in STORE_SUFFIXES:
            raise InputError(f"--db {path}: a customer store is a DuckDB file ending in .duckdb (or .db); give "
                             "such a path (a new one creates the store)")  # fmt: skip
        return False
    if not path.is_file():
        raise InputError(
            f"--db {path}: not a file (a folder?); give the store file, e.g. {path / 'store.duckdb'}"
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise InputError(f"--db {path}: cannot be read ({exc.strerror}); check its permissions") from None
    if head[8:12] != _DUCKDB_MAGIC:
        raise InputError(f"--db {path}: not a DuckDB file, so not a customer store, and left unchanged; give the "
                         "store file crm-winback created, or a new file name to create one")  # fmt: skip
    return True


def check_store(db_path: str | Path | None) -> None:
    """Refuse, before any work, a store path that :func:`open_store` would refuse; creates nothing."""
    path = store_path(db_path)
    if check_store_path(path):
        with open_store(path, read_only=True):
            pass


def _check_marker(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        row = first_row(con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'"))
    except duckdb.Error:
        row = None
    if row is None:
        raise InputError(f"--db {path}: not a crm-winback customer store (a DuckDB file without the store's "
                         "tables), left unchanged; give the store file crm-winback created, or a new file name "
                         "to create one")  # fmt: skip
    version = str(row[0])
    if not version.isdigit() or int(version) > SCHEMA_VERSION:
        raise InputError(f"--db {path}: a customer store of a newer crm-winback (schema {version}; this version "
                         f"reads {SCHEMA_VERSION}); upgrade crm-winback to use it")  # fmt: skip


def remove_new_store(path: Path, folders: list[Path]) -> None:
    """Delete a store this run created (its file, its WAL, the folders made for it): a refusal leaves nothing."""
    for name in (path, Path(str(path) + ".wal")):
        name.unlink(missing_ok=True)
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``folder``, deepest first."""
    return [p for p in [folder, *folder.parents] if not p.exists()]


@contextmanager
def open_store(
    db_path: str | Path | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store (creating it and its tables at a new path unless ``read_only``).

    Only a crm-winback store (its ``store_meta`` table with a schema version this version reads) or a new
    path is opened: any other file is refused and left as it was. A store created here is removed again when
    the block fails, so a refused command leaves nothing behind.
    """
    path = _path(db_path)
    exists = check_store_path(path)
    if read_only and not exists:
        raise InputError(f"no customer store at {path}; save a snapshot first: crm-winback snapshot save FILE "
                         "(or point --db at an existing store)")  # fmt: skip
    folders = [] if exists else _missing_folders(path.parent)
    if not exists:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        if not exists:
            remove_new_store(path, folders)
        raise InputError(f"--db {path}: cannot open the store ({str(exc).splitlines()[0]}); is another "
                         "crm-winback writing to it?") from None  # fmt: skip
    try:
        if exists:
            _check_marker(con, path)
            _profile_columns(con, read_only)
        else:
            con.execute(_SCHEMA)
            con.execute(
                "INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        yield con
    except BaseException:
        con.close()
        if not exists:
            remove_new_store(path, folders)
        raise
    else:
        con.close()


def _profile_columns(con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
    """A store saved before --profiles existed lacks the engagement columns: add them (empty) or, opened
    read-only, show them through a view of the same name, so every query reads one shape."""
    have = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customer_rfm_scores'"
        ).fetchall()
    }
    missing = {c: t for c, t in PROFILE_TYPES.items() if c not in have}
    if not missing:
        return
    if not read_only:
        for column, typ in missing.items():
            con.execute(f"ALTER TABLE customer_rfm_scores ADD COLUMN {column} {typ}")
        return
    found = first_row(con.execute("SELECT current_database()"))
    assert found is not None
    nulls = ", ".join(f"NULL::{typ} AS {column}" for column, typ in missing.items())
    source = '"' + str(found[0]).replace('"', '""') + '".main.customer_rfm_scores'
    con.execute(f"CREATE TEMP VIEW customer_rfm_scores AS SELECT *, {nulls} FROM {source}")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_customer_table(scored: Scored, name: str = "customer_table") -> str:
    """Create ``name`` in the scoring connection: the scores plus product/category features (or NULLs)."""
    con = scored.ingested.con
    score_cols = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    with_profiles = scored.summary.profiles is not None
    score_cols += "".join(
        f", s.{c}" if with_profiles else f", NULL::{t} AS {c}" for c, t in PROFILE_TYPES.items()
    )
    if scored.ingested.has_items:
        from ..products import is_product_sql  # fees and postage are not products (knowledge/products.yaml)

        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name} AS
                WITH po AS (SELECT customer_id, product, count(DISTINCT order_id) AS n FROM items
                            WHERE {is_product_sql()} GROUP BY customer_id, product),
                     co AS (SELECT customer_id, category, count(DISTINCT order_id) AS n FROM items
                            WHERE category IS NOT NULL AND {is_product_sql()} GROUP BY customer_id, category),
                     p AS (SELECT customer_id, max(n) AS max_product_purchases, count(*) AS distinct_products,
                                  first(product ORDER BY n DESC, product) AS top_product
                           FROM po GROUP BY customer_id),
                     c AS (SELECT customer_id, max(n) AS max_category_orders, count(*) AS distinct_categories,
                                  first(category ORDER BY n DESC, category) AS top_category
                           FROM co GROUP BY customer_id)
                SELECT {score_cols}, coalesce(p.max_product_purchases, 0) AS max_product_purchases,
                       coalesce(p.distinct_products, 0) AS distinct_products,
                       coalesce(c.distinct_categories, 0) AS distinct_categories,
                       coalesce(c.max_category_orders, 0) AS max_category_orders, p.top_product, c.top_category
                FROM scores s LEFT JOIN p USING (customer_id) LEFT JOIN c USING (customer_id)"""
        )
    else:
        nulls = ", ".join(f"NULL AS {c}" for c in ITEM_COLUMNS)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {score_cols}, {nulls} FROM scores s")
    return name


def _insert_snapshot(con: duckdb.DuckDBPyConnection, values: list[object]) -> int:
    row = first_row(con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM store.snapshots"))
    assert row is not None
    snapshot_id = int(row[0])
    con.execute(f"INSERT INTO store.snapshots ({_SNAPSHOT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [snapshot_id, *values])  # fmt: skip
    return snapshot_id


def _insert_scores(con: duckdb.DuckDBPyConnection, snapshot_id: int, table: str) -> None:
    cols = ", ".join(CUSTOMER_COLUMNS)
    con.execute(
        f"INSERT INTO store.customer_rfm_scores (snapshot_id, {cols}) SELECT ?, {cols} FROM {table}",
        [snapshot_id],
    )


def save_snapshot(
    scored: Scored, db_path: str | Path | None = None, shop: str = DEFAULT_SHOP
) -> SnapshotInfo:
    """Save the scored customers as a snapshot, in one transaction; idempotent on (shop, file hash, as-of, method)."""
    path = _path(db_path)
    source = Path(scored.ingested.source.path)
    sha = file_sha256(scored.ingested.source.raw_path)  # a named pipe was read once: hash what it gave
    new = not check_store_path(path)
    folders = _missing_folders(path.parent) if new else []
    with open_store(path):
        pass  # create the file and its tables (or check an existing store) before attaching
    try:
        return _save(scored, path, shop, source, sha)
    except BaseException:
        if new:
            remove_new_store(path, folders)
        raise


def _save(scored: Scored, path: Path, shop: str, source: Path, sha: str) -> SnapshotInfo:
    as_of, method = scored.ingested.as_of, scored.summary.method
    con = scored.ingested.con
    table = build_customer_table(scored)
    con.execute(f"ATTACH {sql_string(str(path))} AS store")
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            found = first_row(
                con.execute(
                    f"SELECT {_SNAPSHOT_COLS} FROM store.snapshots WHERE shop = ? AND source_sha256 = ? AND as_of = ? "
                    "AND method = ?",
                    [shop, sha, as_of, method],
                )
            )
            if found is not None:
                con.execute("ROLLBACK")
                return _info(found, already_saved=True)
            n = first_row(con.execute(f"SELECT count(*) FROM {table}"))[0]  # type: ignore[index]
            created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            values: list[object] = [shop, source.name, sha, as_of, method, n, scored.ingested.has_items,
                                    scored.summary.repurchase_cycle_days, created]  # fmt: skip
            snapshot_id = _insert_snapshot(con, values)
            _insert_scores(con, snapshot_id, table)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DETACH store")
    return SnapshotInfo.model_validate(
        dict(zip(_SNAPSHOT_COLS.split(", "), [snapshot_id, *values], strict=True))
    )


def _info(row: tuple[object, ...], already_saved: bool = False) -> SnapshotInfo:
    data = dict(zip(_SNAPSHOT_COLS.split(", "), row, strict=True))
    return SnapshotInfo.model_validate({**data, "already_saved": already_saved})


def list_snapshots(con: duckdb.DuckDBPyConnection, shop: str | None = None) -> list[SnapshotInfo]:
    rows = con.execute(
        f"SELECT {_SNAPSHOT_COLS} FROM snapshots WHERE ? IS NULL OR shop = ? ORDER BY as_of, snapshot_id",
        [shop, shop],
    ).fetchall()
    return [_info(r) for r in rows]


def resolve_snapshot(
    con: duckdb.DuckDBPyConnection, ref: str | int | None, shop: str = DEFAULT_SHOP
) -> SnapshotInfo:
    """A snapshot by id, by as-of date (YYYY-MM-DD), or ``latest``/``previous`` (by as-of date) within ``shop``."""
    snaps = list_snapshots(con, shop)
    if not snaps:
        raise DataError(
            f"the store has no snapshot for shop {shop!r}; save one: crm-winback snapshot save FILE"
        )
    text = "latest" if ref is None else str(ref).strip()
    if text == "latest":
        return snaps[-1]
    if text == "previous":
        if len(snaps) < 2:
            raise DataError(f"shop {shop!r} has only one snapshot; there is no previous one")
        return snaps[-2]
    if text.isdigit():
        for s in snaps:
            if s.snapshot_id == int(text):
                return s
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            day = None
        hits = [s for s in snaps if s.as_of == day]
        if hits:
            return hits[-1]
    choices = ", ".join(f"{s.snapshot_id} ({s.as_of}, {s.source_name})" for s in snaps)
    raise InputError(f"snapshot {text!r} not found for shop {shop!r}; give an id or as-of date among: {choices}, "
                     "or latest/previous")  # fmt: skip


def count_by(con: duckdb.DuckDBPyConnection, snapshot_id: int, by: str = "rfm_segment") -> dict[str, int]:
    if by not in ("rfm_segment", "lifecycle_stage", "churn_risk"):
        raise InputError(f"--by {by}: use rfm_segment, lifecycle_stage or churn_risk")
    rows = con.execute(
        f"SELECT {by}, count(*) FROM customer_rfm_scores WHERE snapshot_id = ? GROUP BY 1 ORDER BY 1",
        [snapshot_id],
    ).fetchall()
    return {str(k): int(v) for k, v in rows}


def previous_segment_counts(
    db_path: str | Path | None, as_of: dt.date, shop: str = DEFAULT_SHOP, by: str = "rfm_segment"
) -> SegmentCounts | None:
    """Counts per segment in the latest snapshot of ``shop`` dated before ``as_of``; None without one.

    For the scorecard's trend column. Never creates a store: a missing file means no history.
    """
    path = _path(db_path)
    if not path.exists():
        return None
    with open_store(path, read_only=True) as con:
        earlier = [s for s in list_snapshots(con, shop) if s.as_of < as_of]
        if not earlier:
            return None
        snap = earlier[-1]
        return SegmentCounts(snapshot=snap, by=by, counts=count_by(con, snap.snapshot_id, by))
