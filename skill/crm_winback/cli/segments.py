"""``crm-winback segments ...``, ``crm-winback snapshot ...``, ``crm-winback export`` and ``crm-winback cohorts``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..segments import api
from ..segments.migration import GONE, NEW
from ..segments.rules import load_rules_file
from ..segments.store import DEFAULT_SHOP, check_store, default_db_path
from ..tables import markdown_table, pct, text_table
from .common import FORMATS, LARGE_FILE, add_profiles_option, emit, progress, to_json

_RAW = argparse.RawDescriptionHelpFormatter


def _store_options(p: argparse.ArgumentParser, snapshot: bool = True) -> None:
    p.add_argument("--db", metavar="PATH", help=f"the customer store (default: {default_db_path()}; "
                                                "or set CRM_WINBACK_DB)")  # fmt: skip
    p.add_argument(
        "--shop", default=DEFAULT_SHOP, help="which shop's snapshots to use (default: %(default)s)"
    )
    if snapshot:
        p.add_argument(
            "--snapshot", metavar="REF", help="snapshot id, as-of date, latest or previous (default: latest)"
        )


def _table(fmt: str, headers: list[str], rows: list[list[Any]]) -> str:
    return (markdown_table if fmt == "markdown" else text_table)(headers, rows) + "\n"


def register(sub: Any) -> None:
    seg = sub.add_parser("segments", help="list, define and inspect segments in the customer store",
                         description="Segments over the snapshots saved in the customer store.",
                         epilog="Example: crm-winback segments list --format markdown")  # fmt: skip
    ss = seg.add_subparsers(dest="segments_command", metavar="SUBCOMMAND", parser_class=sub._parser_class)
    seg.set_defaults(handler=lambda a: (seg.print_help(), 2)[1])

    p = ss.add_parser("list", help="every segment and its size in a snapshot",
                      epilog="Example: crm-winback segments list --snapshot 1998-06-30")  # fmt: skip
    _store_options(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_list)

    p = ss.add_parser("define", help="save a segment from a rule file (JSON or YAML)", formatter_class=_RAW,
                      epilog='Example: crm-winback segments define "Gone VIPs" --rules gone-vips.yaml\n'
                             "rules file: {\"logic\": \"AND\", \"rules\": [{\"field\": \"total_spent\", "
                             "\"operator\": \"gte\", \"value\": 500},\n"
                             "            {\"field\": \"last_order_date\", \"operator\": \"lt\", "
                             "\"value\": \"90_days_ago\"}]}")  # fmt: skip
    p.add_argument("name")
    p.add_argument("--rules", metavar="FILE", required=True, help="the rule tree as JSON or YAML")
    p.add_argument("--description", default=None)
    _store_options(p, snapshot=False)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_define)

    p = ss.add_parser("remove", help="delete a user-defined segment",
                      epilog='Example: crm-winback segments remove "Gone VIPs"')  # fmt: skip
    p.add_argument("name")
    _store_options(p, snapshot=False)
    p.set_defaults(handler=run_remove)

    p = ss.add_parser("members", help="the customers in a segment, highest spend first",
                      epilog='Example: crm-winback segments members "At Risk" --limit 20 --offset 20')  # fmt: skip
    p.add_argument("name", help="a user, pre-built (e.g. winback-eligible), RFM or lifecycle segment")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--show-contact", action="store_true", help="show email and phone unmasked")
    _store_options(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_members)

    p = ss.add_parser("distribution", help="customers per RFM segment, lifecycle stage or churn risk",
                      epilog="Example: crm-winback segments distribution --by lifecycle_stage")  # fmt: skip
    p.add_argument("--by", choices=["rfm_segment", "lifecycle_stage", "churn_risk"], default="rfm_segment")
    _store_options(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_distribution)

    p = ss.add_parser("migration", help="how many customers moved between segments from one snapshot to another",
                      epilog="Example: crm-winback segments migration --from 1997-09-30 --to 1998-06-30")  # fmt: skip
    p.add_argument(
        "--from", dest="from_ref", required=True, metavar="SNAPSHOT", help="id, as-of date or previous"
    )
    p.add_argument("--to", dest="to_ref", default="latest", metavar="SNAPSHOT", help="(default: latest)")
    p.add_argument("--by", choices=["rfm_segment", "lifecycle_stage", "churn_risk"], default="rfm_segment")
    _store_options(p, snapshot=False)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_migration)

    snap = sub.add_parser("snapshot", help="save scored customers to the customer store, list snapshots",
                          epilog="Example: crm-winback snapshot save orders.csv --as-of 2024-06-30")  # fmt: skip
    sn = snap.add_subparsers(dest="snapshot_command", metavar="SUBCOMMAND", parser_class=sub._parser_class)
    snap.set_defaults(handler=lambda a: (snap.print_help(), 2)[1])
    p = sn.add_parser("save", help="score FILE and save it as a snapshot (saving the same file twice is a no-op)",
                      epilog="Example: crm-winback snapshot save orders.csv --map customer=Email --db shop.duckdb")  # fmt: skip
    p.add_argument("file")
    p.add_argument("--map", dest="column_map", metavar="ROLE=COLUMN,...", help="name columns yourself")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="observation date (default: the latest order date)")
    p.add_argument("--method", choices=["fixed", "quantile"], default="fixed")
    _store_options(p, snapshot=False)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_snapshot_save)
    p = sn.add_parser("list", help="the snapshots in the store", epilog="Example: crm-winback snapshot list")
    p.add_argument("--db", metavar="PATH", help=f"the customer store (default: {default_db_path()})")
    p.add_argument("--shop", default=None, help="only this shop's snapshots")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=run_snapshot_list)

    exp = sub.add_parser(
        "export", help="write a consent-filtered audience file for Klaviyo, Mailchimp or a CSV",
        description="Write the audience of SEGMENT for upload. Only customers with consent for the channel are "
                    "included (SMS also needs a valid phone); the suppression file removes people; counts of "
                    "who was left out and why go to stderr (or stdout with --format json). The segment's definition is "
                    "printed first (--dry-run prints it with the counts and writes nothing). An earlier FILE is "
                    "replaced only with --force, and a segment exported before with --suppress is refused "
                    "without it.",
        epilog="Examples: crm-winback export lapsed-vip --dry-run -o lapsed-vip.csv\n"
               "          crm-winback export winback-eligible --format klaviyo --channel email -o winback.csv\n"
               "          crm-winback export vip --format klaviyo --channel sms --default-country US "
               "--suppress unsubscribed.csv -o vip-sms.csv",
        formatter_class=_RAW,
    )  # fmt: skip
    exp.add_argument("segment")
    exp.add_argument("--format", dest="layout", choices=["klaviyo", "mailchimp", "csv"], default="csv")
    exp.add_argument("--channel", choices=["email", "sms"], default="email")
    exp.add_argument("-o", "--output", required=True, metavar="FILE")
    exp.add_argument("--soft-opt-in", action="store_true",
                     help="email only: include customers with no consent on record (UK PECR / EU soft opt-in for "
                          "existing customers and similar products; never for SMS or US rules)")  # fmt: skip
    exp.add_argument(
        "--suppress", metavar="FILE", help="unsubscribes, bounces, complaints (any CSV of emails/phones)"
    )
    exp.add_argument(
        "--default-country", metavar="CC", help="country for phone numbers without +code (e.g. US, GB)"
    )
    exp.add_argument("--force", action="store_true", help="replace FILE when an earlier export is there")
    exp.add_argument("--dry-run", action="store_true",
                     help="show the segment's definition and the counts; write nothing")  # fmt: skip
    _store_options(exp)
    exp.add_argument("--report", choices=FORMATS, default="table", help="how to print the counts")
    add_profiles_option(exp)
    exp.set_defaults(handler=run_export)

    coh = sub.add_parser("cohorts", help="acquisition-month cohorts with retention at months 1, 2, 3, 6, 12",
                         description="Group customers by the month of their first order; show the share that "
                                     "ordered again exactly 1, 2, 3, 6 and 12 calendar months later, and revenue. "
                                     "Months not yet over at the as-of date show '-'.",
                         epilog="Example: crm-winback cohorts orders.csv --format markdown")  # fmt: skip
    coh.add_argument("file")
    coh.add_argument("--map", dest="column_map", metavar="ROLE=COLUMN,...", help="name columns yourself")
    coh.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="observation date (default: the latest order date)"
    )
    coh.add_argument("--format", choices=FORMATS, default="table")
    coh.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    coh.set_defaults(handler=run_cohorts)
    snap.description = "Save scored customers to the customer store (one snapshot per file and as-of date)."
    for group in (ss, sn):  # sub-commands describe themselves with their one-line help
        for action in group._choices_actions:
            group.choices[action.dest].description = group.choices[action.dest].description or action.help


def run_list(args: argparse.Namespace) -> int:
    result = api.list_segments(args.db, args.snapshot, args.shop)
    if args.format == "json":
        emit(to_json(result))
        return 0
    rows = [[s.name, s.kind, s.members if s.members is not None else "-", s.note or s.description]
            for s in result.segments]  # fmt: skip
    head = f"snapshot {result.snapshot.snapshot_id} ({result.snapshot.as_of})\n" if result.snapshot else ""
    emit(head + _table(args.format, ["segment", "kind", "members", "about"], rows))
    return 0


def run_define(args: argparse.Namespace) -> int:
    group = load_rules_file(args.rules)
    result = api.define_segment(
        args.name, group.model_dump(mode="json"), args.description, args.db, args.shop
    )
    if args.format == "json":
        emit(to_json(result))
    else:
        size = (
            f"{result.members:,} members in the latest snapshot"
            if result.members is not None
            else result.note
        )
        emit(f"saved segment {result.name!r}: {size}\n")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if not api.remove_segment(args.name, args.db):
        progress(f"no user-defined segment named {args.name!r}")
        return 1
    emit(f"removed segment {args.name!r}\n")
    return 0


def run_members(args: argparse.Namespace) -> int:
    page = api.segment_members(args.name, args.db, args.snapshot, args.limit, args.offset, args.show_contact,
                               args.shop)  # fmt: skip
    if args.format == "json":
        emit(to_json(page))
        return 0
    headers = [
        "customer_id",
        "segment",
        "stage",
        "risk",
        "R",
        "F",
        "M",
        "orders",
        "spent",
        "days since",
        "last order",
    ]
    if args.show_contact:
        headers += ["email", "phone"]
    rows = []
    for m in page.members:
        row: list[Any] = [m.customer_id, m.rfm_segment, m.lifecycle_stage, m.churn_risk, m.r_score, m.f_score,
                          m.m_score, m.orders, m.total_spent, m.recency_days, str(m.last_order_date)]  # fmt: skip
        if args.show_contact:
            row += [m.email or "-", m.phone or "-"]
        rows.append(row)
    shown = f"{page.offset + 1:,}-{page.offset + len(page.members):,}" if page.members else "none"
    emit(f"{page.segment} ({page.kind}): {page.total:,} customers in snapshot {page.snapshot.snapshot_id} "
         f"({page.snapshot.as_of}); showing {shown}\n" + _table(args.format, headers, rows))  # fmt: skip
    return 0


def run_distribution(args: argparse.Namespace) -> int:
    dist = api.segment_distribution(args.db, args.snapshot, args.by, args.shop)
    if args.format == "json":
        emit(to_json(dist))
        return 0
    rows: list[list[Any]] = [[k, v, pct(v / dist.total)] for k, v in dist.counts.items()]
    rows.append(["total", dist.total, pct(1.0)])
    emit(f"snapshot {dist.snapshot.snapshot_id} ({dist.snapshot.as_of})\n"
         + _table(args.format, [args.by, "customers", "share"], rows))  # fmt: skip
    return 0


def run_migration(args: argparse.Namespace) -> int:
    m = api.segment_migration(args.from_ref, args.to_ref, args.db, args.by, args.shop)
    if args.format == "json":
        emit(to_json(m))
        return 0
    cols = [*m.groups, GONE] if m.gone else list(m.groups)
    row_groups = [*m.groups, NEW] if m.new else list(m.groups)
    rows = [[g, *[m.count(g, t) for t in cols]] for g in row_groups]
    title = (f"from snapshot {m.from_snapshot.snapshot_id} ({m.from_snapshot.as_of}) [rows] to "
             f"{m.to_snapshot.snapshot_id} ({m.to_snapshot.as_of}) [columns]: {m.stayed:,} stayed, {m.moved:,} "
             f"moved, {m.new:,} new, {m.gone:,} gone\n")  # fmt: skip
    emit(title + _table(args.format, [f"{args.by} from \\ to", *cols], rows))
    return 0


def run_snapshot_save(args: argparse.Namespace) -> int:
    check_store(args.db)  # before the scoring, and before saying it started
    try:
        large = Path(args.file).stat().st_size > LARGE_FILE
    except OSError:
        large = False  # the scoring names the problem, on one line
    if large:
        progress(f"scoring {args.file}...")
    info = api.save_snapshot_file(args.file, args.column_map, args.as_of, args.method, args.db, args.shop)
    if args.format == "json":
        emit(to_json(info))
    else:
        state = "already saved as" if info.already_saved else "saved as"
        emit(f"{info.source_name} (as of {info.as_of}, {info.method}, {info.customers:,} customers) {state} "
             f"snapshot {info.snapshot_id} in {args.db or default_db_path()}\n")  # fmt: skip
    return 0


def run_snapshot_list(args: argparse.Namespace) -> int:
    result = api.list_store_snapshots(args.db, args.shop)
    if args.format == "json":
        emit(to_json(result))
        return 0
    rows = [[s.snapshot_id, s.shop, str(s.as_of), s.method, s.customers, s.source_name, s.source_sha256[:12]]
            for s in result.snapshots]  # fmt: skip
    emit(_table(args.format, ["id", "shop", "as_of", "method", "customers", "file", "sha256"], rows))
    return 0


def run_export(args: argparse.Namespace) -> int:
    result = api.export_segment(args.segment, args.output, args.layout, args.channel, args.db, args.snapshot,
                                args.soft_opt_in, args.suppress, args.default_country, args.shop,
                                args.profiles, force=args.force, dry_run=args.dry_run)  # fmt: skip
    if args.report == "json":
        emit(to_json(result))
        return 0
    rows: list[list[Any]] = [["exported", result.exported]]
    rows += [[f"left out: {e.reason}", e.customers] for e in result.excluded]
    rows.append(["segment members", result.candidates])
    text = f"definition: {result.definition}\n"
    text += f"{result.segment} -> {result.output or 'nothing written (--dry-run)'} ({result.format}, {result.channel})\n"
    text += _table(args.report, ["", "customers"], rows)
    text += "".join(f"note: {n}\n" for n in result.notes)
    emit(text)
    return 0


def run_cohorts(args: argparse.Namespace) -> int:
    table = api.cohort_table(args.file, args.column_map, args.as_of)
    if args.format == "json":
        emit(to_json(table), args.output)
        return 0
    rows = [[r.cohort, r.customers, pct(r.m1), pct(r.m2), pct(r.m3), pct(r.m6), pct(r.m12), r.revenue]
            for r in table.rows]  # fmt: skip
    head = f"acquisition-month cohorts as of {table.as_of}; M<k> = share that ordered in calendar month k after\n"
    emit(head + _table(args.format, ["cohort", "customers", "M1", "M2", "M3", "M6", "M12", "revenue"], rows),
         args.output)  # fmt: skip
    return 0
