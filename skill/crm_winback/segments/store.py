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

ITEM_COLUMNS = (
    "max_product_purchases", "distinct_products", "distinct_categories", "max_category_orders", "top_product",
    "top_category",
)  # fmt: skip
CUSTOMER_COLUMNS = (*SCORE_COLUMNS, *ITEM_COLUMNS)
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
    top_category VARCHAR, PRIMARY KEY (snapshot_id, customer_id));
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


def _path(db_path: str | Path | None) -> Path:
    return Path(db_path) if db_path is not None else default_db_path()


@contextmanager
def open_store(
    db_path: str | Path | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store (creating it and its tables unless ``read_only``)."""
    path = _path(db_path)
    if read_only and not path.exists():
        raise InputError(f"no customer store at {path}; save a snapshot first: crm-winback snapshot save FILE "
                         "(or point --db at an existing store)")  # fmt: skip
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise InputError(f"--db {path}: cannot open the store ({str(exc).splitlines()[0]}); is another "
                         "crm-winback writing to it, or is it not a crm-winback store?") from None  # fmt: skip
    try:
        if not read_only:
            con.execute(_SCHEMA)
            con.execute(
                "INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        yield con
    finally:
        con.close()


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
    if scored.ingested.has_items:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name} AS
                WITH po AS (SELECT customer_id, product, count(DISTINCT order_id) AS n FROM items
                            GROUP BY customer_id, product),
                     co AS (SELECT customer_id, category, count(DISTINCT order_id) AS n FROM items
                            WHERE category IS NOT NULL GROUP BY customer_id, category),
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
    row = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM store.snapshots").fetchone()
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
    as_of, method = scored.ingested.as_of, scored.summary.method
    with open_store(path):
        pass  # create the file and its tables before attaching
    con = scored.ingested.con
    table = build_customer_table(scored)
    con.execute(f"ATTACH {sql_string(str(path))} AS store")
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            found = con.execute(
                f"SELECT {_SNAPSHOT_COLS} FROM store.snapshots WHERE shop = ? AND source_sha256 = ? AND as_of = ? "
                "AND method = ?",
                [shop, sha, as_of, method],
            ).fetchone()
            if found is not None:
                con.execute("ROLLBACK")
                return _info(found, already_saved=True)
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
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
