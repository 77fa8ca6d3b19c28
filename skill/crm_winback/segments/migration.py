"""Segment migration between two snapshots: how many customers moved from each segment to each other one.

Customers present only in the later snapshot appear in the row ``(new)``; customers present only in the
earlier one (not in the later export) in the column ``(gone)``.
"""

from __future__ import annotations

import duckdb

from ..errors import InputError
from ..models.store import MigrationCell, MigrationMatrix
from .store import SnapshotInfo

NEW = "(new)"
GONE = "(gone)"
BY_CHOICES = ("rfm_segment", "lifecycle_stage", "churn_risk")


def build_migration(
    con: duckdb.DuckDBPyConnection,
    from_snap: SnapshotInfo,
    to_snap: SnapshotInfo,
    by: str = "rfm_segment",
    order: list[str] | None = None,
) -> MigrationMatrix:
    """The from x to matrix over ``customer_rfm_scores``; ``order`` sets the group order (others follow sorted)."""
    if by not in BY_CHOICES:
        raise InputError(f"--by {by}: use one of {', '.join(BY_CHOICES)}")
    if from_snap.snapshot_id == to_snap.snapshot_id:
        raise InputError("--from and --to are the same snapshot; pick two different ones")
    rows = con.execute(
        f"""WITH a AS (SELECT customer_id, {by} AS g FROM customer_rfm_scores WHERE snapshot_id = ?),
                 b AS (SELECT customer_id, {by} AS g FROM customer_rfm_scores WHERE snapshot_id = ?)
            SELECT coalesce(a.g, ?), coalesce(b.g, ?), count(*)
            FROM a FULL OUTER JOIN b USING (customer_id) GROUP BY 1, 2""",
        [from_snap.snapshot_id, to_snap.snapshot_id, NEW, GONE],
    ).fetchall()
    cells = [MigrationCell(from_group=str(f), to_group=str(t), customers=int(n)) for f, t, n in rows]
    present = {c.from_group for c in cells} | {c.to_group for c in cells}
    known = [g for g in (order or []) if g in present]
    rest = sorted(present - set(known) - {NEW, GONE})
    groups = known + rest
    rank = {g: i for i, g in enumerate([*groups, NEW, GONE])}
    cells.sort(key=lambda c: (rank[c.from_group], rank[c.to_group]))
    real = [c for c in cells if c.from_group != NEW and c.to_group != GONE]
    return MigrationMatrix(
        by=by, from_snapshot=from_snap, to_snapshot=to_snap, groups=groups, cells=cells,
        stayed=sum(c.customers for c in real if c.from_group == c.to_group),
        moved=sum(c.customers for c in real if c.from_group != c.to_group),
        new=sum(c.customers for c in cells if c.from_group == NEW),
        gone=sum(c.customers for c in cells if c.to_group == GONE),
    )  # fmt: skip
