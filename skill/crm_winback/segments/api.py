"""Segment, snapshot, audience and cohort functions for both doors (CLI and MCP server).

Plain-typed arguments, pydantic results. Results stay compact: counts, and member pages with contact
details masked unless ``include_contact`` is asked for (the CLI's operator flag; never for a model).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal

import duckdb
from pydantic import BaseModel

from ..api import ingest_options, score_file
from ..cohorts import CohortTable, build_cohorts
from ..errors import InputError
from ..files import check_output, reading
from ..ingest import load_orders
from ..lifecycle import stage_names
from ..models.store import Distribution, MemberRow, SegmentKind, SegmentList, SegmentSummary
from ..privacy import mask_email, mask_phone
from ..scoring import ScoreOptions
from ..scoring.score import Scored
from ..scoring.segment_map import load_segment_map
from ..workdb import first_row
from .audience import (
    AudienceResult,
    Channel,
    ExportFormat,
    build_audience,
    check_country,
    guard_export,
    latest_answers,
    read_suppression,
    record_export,
)
from .audience import write_csv_atomic as _write_csv
from .migration import BY_CHOICES, MigrationMatrix, build_migration
from .prebuilt import NAME_PATTERN, prebuilt_segments
from .rules import (
    FIELDS,
    Context,
    RuleGroup,
    compile_rules,
    describe_rules,
    fields_used,
    parse_rules,
    rules_to_json,
)
from .store import (
    CUSTOMER_COLUMNS,
    DEFAULT_SHOP,
    SnapshotInfo,
    build_customer_table,
    check_store,
    check_store_path,
    count_by,
    list_snapshots,
    open_store,
    resolve_snapshot,
    save_snapshot,
    store_path,
)  # fmt: skip


class ResolvedSegment(BaseModel):
    name: str
    kind: SegmentKind
    description: str
    rules: dict[str, Any]

    def group(self) -> RuleGroup:
        return parse_rules(self.rules, f"segment {self.name}")


class MemberPage(BaseModel):
    segment: str
    kind: SegmentKind
    snapshot: SnapshotInfo
    total: int
    limit: int
    offset: int
    contact_masked: bool
    members: list[MemberRow]


# -- resolving names ---------------------------------------------------------------------------------------


def _builtin_segments() -> list[ResolvedSegment]:
    found = [ResolvedSegment(name=p.name, kind="prebuilt", description=p.description, rules=p.rules)
             for p in prebuilt_segments()]  # fmt: skip
    seg_map = load_segment_map()
    for info in seg_map.segments:
        found.append(ResolvedSegment(
            name=info.name, kind="rfm_segment", description=f"RFM segment: {info.description}",
            rules={"rules": [{"field": "rfm_segment", "operator": "eq", "value": info.name}]},
        ))  # fmt: skip
    return found


def _stage_segments(taken: set[str]) -> list[ResolvedSegment]:
    return [
        ResolvedSegment(name=s, kind="lifecycle_stage", description=f"lifecycle stage {s}",
                        rules={"rules": [{"field": "lifecycle_stage", "operator": "eq", "value": s}]})
        for s in stage_names() if s.lower() not in taken
    ]  # fmt: skip


def _user_segments(con: duckdb.DuckDBPyConnection) -> list[ResolvedSegment]:
    rows = con.execute("SELECT name, description, rules_json FROM customer_segments ORDER BY name").fetchall()
    return [
        ResolvedSegment(name=n, kind="user", description=d or "", rules=json.loads(r)) for n, d, r in rows
    ]


def all_segments(con: duckdb.DuckDBPyConnection | None) -> list[ResolvedSegment]:
    """User-defined segments (none without a store), then pre-built, RFM and lifecycle-stage ones."""
    builtin = _builtin_segments()
    taken = {s.name.lower() for s in builtin}
    return (_user_segments(con) if con is not None else []) + builtin + _stage_segments(taken)


def resolve_segment(con: duckdb.DuckDBPyConnection, name: str) -> ResolvedSegment:
    """A segment by name (case-insensitive): user-defined, pre-built, RFM segment or lifecycle stage."""
    segments = all_segments(con)
    for seg in segments:
        if seg.name.lower() == name.strip().lower():
            return seg
    raise InputError(f"segment {name!r} not found; known segments: {', '.join(s.name for s in segments)} "
                     "(define one with: crm-winback segments define NAME --rules FILE)")  # fmt: skip


# -- evaluating --------------------------------------------------------------------------------------------


def _context(snap: SnapshotInfo) -> Context:
    return Context(
        as_of=snap.as_of,
        repurchase_cycle_days=snap.repurchase_cycle_days,
        has_items=snap.has_items,
        population=f"customer_rfm_scores WHERE snapshot_id = {int(snap.snapshot_id)}",
    )


def _where(group: RuleGroup, snap: SnapshotInfo) -> tuple[str, list[Any]]:
    where, params = compile_rules(group, _context(snap))
    return f"snapshot_id = ? AND {where}", [snap.snapshot_id, *params]


def _count(con: duckdb.DuckDBPyConnection, seg: ResolvedSegment, snap: SnapshotInfo) -> SegmentSummary:
    group = seg.group()
    if not snap.has_items and any(FIELDS[f].needs_items for f in fields_used(group)):
        return SegmentSummary(name=seg.name, kind=seg.kind, description=seg.description, members=None,
                              note="needs line items with products; this snapshot has none")  # fmt: skip
    where, params = _where(group, snap)
    n = first_row(con.execute(f"SELECT count(*) FROM customer_rfm_scores WHERE {where}", params))[0]  # type: ignore[index]
    return SegmentSummary(name=seg.name, kind=seg.kind, description=seg.description, members=int(n))


def evaluate_scored(scored: Scored, rules: dict[str, Any] | str | RuleGroup) -> list[str]:
    """Customer ids matching ``rules`` in a scored file still in memory (sorted); no store needed."""
    group = rules if isinstance(rules, RuleGroup) else parse_rules(rules)
    table = build_customer_table(scored)
    ctx = Context(as_of=scored.ingested.as_of, repurchase_cycle_days=scored.summary.repurchase_cycle_days,
                  has_items=scored.ingested.has_items, population=f"{table} WHERE TRUE")  # fmt: skip
    where, params = compile_rules(group, ctx)
    rows = scored.ingested.con.execute(
        f"SELECT customer_id FROM {table} WHERE {where} ORDER BY customer_id", params
    ).fetchall()
    return [r[0] for r in rows]


# -- public functions --------------------------------------------------------------------------------------


def save_snapshot_file(
    path: str,
    column_map: str | None = None,
    as_of: str | None = None,
    method: Literal["fixed", "quantile"] = "fixed",
    db_path: str | None = None,
    shop: str = DEFAULT_SHOP,
) -> SnapshotInfo:
    """Score ``path`` and save it as a snapshot in the store (idempotent for the same file, as-of and method)."""
    check_store(db_path)  # a wrong --db is refused before minutes of scoring
    _, scored = score_file(path, ingest_options(column_map, as_of), ScoreOptions(method=method), keep=True)
    assert scored is not None
    try:
        return save_snapshot(scored, db_path, shop)
    finally:
        scored.ingested.close()


class SnapshotList(BaseModel):
    snapshots: list[SnapshotInfo]


def list_store_snapshots(db_path: str | None = None, shop: str | None = None) -> SnapshotList:
    """The snapshots in the store, oldest as-of first (all shops unless ``shop`` is given)."""
    with open_store(db_path, read_only=True) as con:
        return SnapshotList(snapshots=list_snapshots(con, shop))


def list_segments(
    db_path: str | None = None, snapshot: str | None = None, shop: str = DEFAULT_SHOP
) -> SegmentList:
    """Every segment (user-defined, pre-built, RFM, lifecycle) with its size in the snapshot (latest by default).

    Reads the store and never creates one: without a store the built-in segments are listed, unsized.
    """
    if not check_store_path(store_path(db_path)):
        return SegmentList(snapshot=None, segments=[_unsized(seg) for seg in all_segments(None)])
    with open_store(db_path, read_only=True) as con:
        snaps = list_snapshots(con, shop)
        snap = resolve_snapshot(con, snapshot, shop) if snaps else None
        rows = [_unsized(seg) if snap is None else _count(con, seg, snap) for seg in all_segments(con)]
        return SegmentList(snapshot=snap, segments=rows)


def _unsized(seg: ResolvedSegment) -> SegmentSummary:
    return SegmentSummary(name=seg.name, kind=seg.kind, description=seg.description, members=None,
                          note="no snapshot saved yet")  # fmt: skip


def define_segment(
    name: str,
    rules: dict[str, Any] | str,
    description: str | None = None,
    db_path: str | None = None,
    shop: str = DEFAULT_SHOP,
) -> SegmentSummary:
    """Validate ``rules`` and save (or replace) the user segment ``name``; returns its size in the latest snapshot."""
    if not re.match(NAME_PATTERN, name):
        raise InputError(
            f"segment name {name!r}: use letters, digits, spaces, '-', '_', '.' (max 64 characters)"
        )
    group = parse_rules(rules, f"segment {name} rules")
    builtin = {s.name.lower() for s in _builtin_segments() + _stage_segments(set())}
    if name.lower() in builtin:
        raise InputError(
            f"segment name {name!r} is taken by a pre-built, RFM or lifecycle segment; pick another"
        )
    with open_store(db_path) as con:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        con.execute(
            """INSERT INTO customer_segments VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                   rules_json = excluded.rules_json, updated_at = excluded.updated_at""",
            [name, description or "", rules_to_json(group), now, now],
        )
        seg = ResolvedSegment(name=name, kind="user", description=description or "",
                              rules=json.loads(rules_to_json(group)))  # fmt: skip
        if not list_snapshots(con, shop):
            return SegmentSummary(name=name, kind="user", description=seg.description, members=None,
                                  note="saved; no snapshot yet to count members")  # fmt: skip
        return _count(con, seg, resolve_snapshot(con, None, shop))


def remove_segment(name: str, db_path: str | None = None) -> bool:
    """Delete the user segment ``name``; False when there is none (and no store is created to look)."""
    if not check_store_path(store_path(db_path)):
        return False
    with open_store(db_path) as con:
        found = first_row(con.execute("SELECT count(*) FROM customer_segments WHERE name = ?", [name]))
        con.execute("DELETE FROM customer_segments WHERE name = ?", [name])
        return bool(found and found[0])


def segment_members(
    name: str,
    db_path: str | None = None,
    snapshot: str | None = None,
    limit: int = 50,
    offset: int = 0,
    include_contact: bool = False,
    shop: str = DEFAULT_SHOP,
) -> MemberPage:
    """One page of a segment's members, highest net spend first (then customer id); contacts masked by default."""
    if limit < 1 or offset < 0:
        raise InputError("--limit must be at least 1 and --offset at least 0")
    with open_store(db_path, read_only=True) as con:
        seg = resolve_segment(con, name)
        snap = resolve_snapshot(con, snapshot, shop)
        where, params = _where(seg.group(), snap)
        total = first_row(con.execute(f"SELECT count(*) FROM customer_rfm_scores WHERE {where}", params))[0]  # type: ignore[index]
        rows = con.execute(
            f"""SELECT customer_id, rfm_segment, lifecycle_stage, churn_risk, r_score, f_score, m_score, orders,
                       net_total, recency_days, last_order_date, email, phone
                FROM customer_rfm_scores WHERE {where}
                ORDER BY net_total DESC NULLS LAST, customer_id LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        ).fetchall()
    members = []
    for r in rows:
        email, phone = (r[11], r[12]) if include_contact else (mask_email(r[11]), mask_phone(r[12]))
        members.append(MemberRow(
            customer_id=r[0], rfm_segment=r[1], lifecycle_stage=r[2], churn_risk=r[3], r_score=r[4], f_score=r[5],
            m_score=r[6], orders=r[7], total_spent=r[8], recency_days=r[9], last_order_date=r[10], email=email,
            phone=phone,
        ))  # fmt: skip
    return MemberPage(segment=seg.name, kind=seg.kind, snapshot=snap, total=int(total), limit=limit, offset=offset,
                      contact_masked=not include_contact, members=members)  # fmt: skip


def segment_distribution(
    db_path: str | None = None, snapshot: str | None = None, by: str = "rfm_segment", shop: str = DEFAULT_SHOP
) -> Distribution:
    with open_store(db_path, read_only=True) as con:
        snap = resolve_snapshot(con, snapshot, shop)
        counts = count_by(con, snap.snapshot_id, by)
    order = (
        load_segment_map().names()
        if by == "rfm_segment"
        else stage_names()
        if by == "lifecycle_stage"
        else []
    )
    ordered = {k: counts[k] for k in order if k in counts} | {k: v for k, v in sorted(counts.items())}
    return Distribution(snapshot=snap, by=by, total=sum(counts.values()), counts=ordered)


def segment_migration(
    from_snapshot: str,
    to_snapshot: str,
    db_path: str | None = None,
    by: str = "rfm_segment",
    shop: str = DEFAULT_SHOP,
) -> MigrationMatrix:
    """How many customers moved from each segment (or stage) to each other between two snapshots."""
    if by not in BY_CHOICES:
        raise InputError(f"--by {by}: use one of {', '.join(BY_CHOICES)}")
    order = (
        load_segment_map().names()
        if by == "rfm_segment"
        else stage_names()
        if by == "lifecycle_stage"
        else []
    )
    with open_store(db_path, read_only=True) as con:
        a = resolve_snapshot(con, from_snapshot, shop)
        b = resolve_snapshot(con, to_snapshot, shop)
        return build_migration(con, a, b, by, order)


def export_segment(
    name: str,
    output: str,
    fmt: ExportFormat = "csv",
    channel: Channel = "email",
    db_path: str | None = None,
    snapshot: str | None = None,
    soft_opt_in: bool = False,
    suppression_file: str | None = None,
    default_country: str | None = None,
    shop: str = DEFAULT_SHOP,
    profiles: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> AudienceResult:
    """Write the consent-filtered audience file for ``name`` and return who was included and left out (counts).

    With ``profiles`` (the email platform's exports) the platform's latest consent per address wins, and
    email addresses in the sunset tier are left out. The result states the definition used. An earlier file
    is replaced only with ``force``; a segment once exported with a suppression list is refused without one
    (:func:`audience.guard_export`). ``dry_run`` counts and describes without writing.
    """
    country = check_country(default_country)
    if soft_opt_in and channel == "sms":
        raise InputError("--soft-opt-in applies to email only: SMS needs prior express consent")
    suppressed = read_suppression(suppression_file, country) if suppression_file else set()
    inputs = (store_path(db_path), suppression_file, *(profiles or []))
    with reading(*inputs):
        out = check_output(output, (".csv",))  # before the work: a wrong -o is refused at once
    with open_store(db_path, read_only=True) as con:
        seg = resolve_segment(con, name)
        if not dry_run:
            guard_export(out, seg.name, channel, suppression_file, force)
        snap = resolve_snapshot(con, snapshot, shop)
        where, params = _where(seg.group(), snap)
        cur = con.execute(
            f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customer_rfm_scores WHERE {where}", params
        )
        customers = [dict(zip(CUSTOMER_COLUMNS, row, strict=True)) for row in cur.fetchall()]
        answers = latest_answers(_consent_answers(con, channel, snap, where, params), channel, country)
    sunset: set[str] = set()
    if profiles:
        from ..ingest.profiles import platform_answers

        platform, sunset = platform_answers(list(profiles), channel, snap.as_of)
        answers = {**answers, **platform}
    header, rows, result = build_audience(
        seg.name, customers, fmt, channel, soft_opt_in, suppressed, country, answers, sunset
    )
    about = f"{seg.description}; " if seg.description else ""
    definition = (f"{seg.name} ({seg.kind.replace('_', ' ')}): {about}rules: {describe_rules(seg.group())}; "
                  f"snapshot {snap.snapshot_id} as of {snap.as_of}")  # fmt: skip
    result = result.model_copy(update={"definition": definition})
    if dry_run:
        return result
    with reading(*inputs):
        written = _write_csv(out, header, rows)
        result = result.model_copy(update={"output": str(written)})
        record_export(written, result, suppression_file)
    return result


def _consent_answers(
    con: duckdb.DuckDBPyConnection, channel: Channel, snap: SnapshotInfo, where: str, params: list[Any]
) -> list[tuple[Any, ...]]:
    """(address, consent, last order date) of every customer in the snapshot who shares an address with a
    member of the segment (phones by their last seven digits; :func:`latest_answers` compares them exactly)."""
    if channel == "email":
        column, consent, key = "email", "email_consent", "lower(trim(email))"
    else:
        column, consent, key = "phone", "sms_consent", "right(regexp_replace(phone, '[^0-9]', '', 'g'), 7)"
    return con.execute(
        f"""SELECT {column}, {consent}, last_order_date FROM customer_rfm_scores
            WHERE snapshot_id = ? AND {consent} IS NOT NULL AND {column} IS NOT NULL
              AND {key} IN (SELECT {key} FROM customer_rfm_scores WHERE {where} AND {column} IS NOT NULL)""",
        [snap.snapshot_id, *params],
    ).fetchall()


def cohort_table(path: str, column_map: str | None = None, as_of: str | None = None) -> CohortTable:
    """Acquisition-month cohorts of an orders file (see :mod:`crm_winback.cohorts` for the definitions)."""
    ingested = load_orders(path, ingest_options(column_map, as_of))
    try:
        return build_cohorts(ingested.con, ingested.as_of)
    finally:
        ingested.close()
