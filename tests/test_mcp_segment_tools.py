"""The customer-store tools called in memory: snapshots, segments, members, distribution, migration, audiences.

tests/data/mcp_orders.csv saved twice (repurchase cycle 90 days in both):
- as of 2024-03-31, 4 customers: C001 2 orders, last 03-01 (30 days) -> active; C002 1 order, 50 days -> new;
  C003 last 2023-09-15 (198 days, 2.2 cycles) -> lapsed; C005 1 order 2023-12-01 (121 days) -> at-risk.
- as of 2024-06-30, 6 customers: C001 41 days -> active; C002 141 days -> at-risk; C003 289 days -> lapsed;
  C004 1 order 5 days ago -> new; C005 2nd order 06-01 (29 days) -> active; C006 1 order 76 days ago -> new.
So from the first to the second: lapsed->lapsed C003, at-risk->active C005, new->at-risk C002, active->active
C001, and C004 and C006 are new. Spend: C001 $300, C002 $40, C003 $550, C004 $60, C005 $75, C006 $500.
Consent: email no for C003 and C006; SMS no for C002, C003 and C005; C003 has no phone.
"""

from __future__ import annotations

import json
import shutil
import typing
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import duckdb
import pytest
from mcp.types import CallToolResult
from pydantic import BaseModel

from crm_winback.mcp_server import results
from crm_winback.models import store as models
from crm_winback.segments import api, audience, migration, store
from crm_winback.segments.rules import FIELDS, OPERATORS

from .mcp_support import call, error_text, ok, server_in, with_client, workspace

EARLY, AS_OF = "2024-03-31", "2024-06-30"
SHA = "030d2ad8c93572388fe2c92418490e802728079d73587e66b5bb163c13c7b52c"  # of tests/data/mcp_orders.csv
READ_ONLY_TOOLS = {
    "list_snapshots", "list_segments", "preview_segment_members", "get_segment_distribution", "compare_snapshots",
}  # fmt: skip
WRITING_TOOLS = {"save_snapshot", "define_segment", "export_audience"}
NO_ITEMS = "needs line items with products; this snapshot has none"
# Customers keyed by email, consent partly unknown: ana consents to email, bo has no email record (soft
# opt-in) and SMS yes, cy opted out of email and has a national number (E.164 only with default_country).
KEYED = """email,order_id,order_date,total,phone,accepts_email_marketing,accepts_sms_marketing
ana@example.com,1,2024-05-01,50.00,+14155550101,yes,
bo@example.com,2,2024-06-01,70.00,+14155550102,,yes
bo@example.com,3,2024-06-20,30.00,+14155550102,,yes
cy@example.com,4,2024-02-01,90.00,4155550103,no,
"""


def snapshot(snapshot_id: int, as_of: str, customers: int, already_saved: bool = False) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot_id, "shop": "default", "source_name": "orders.csv", "source_sha256": SHA,
        "as_of": as_of, "method": "fixed", "customers": customers, "has_items": False,
        "repurchase_cycle_days": 90.0, "created_at": ANY, "already_saved": already_saved,
    }  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose output folder holds a store with both snapshots (made once, copied per test)."""
    work = workspace(tmp_path_factory.mktemp("store"))
    server = server_in(work)
    for as_of in (EARLY, AS_OF):
        ok(call(server, "save_snapshot", {"file": "orders.csv", "as_of": as_of}))
    return work


@pytest.fixture
def work(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(saved, copy)
    return copy


def message(result: CallToolResult) -> str:
    """The tool error's text: the tool's own message, without the SDK's "Error executing tool NAME: " prefix."""
    return error_text(result)


def store_path(work: Path) -> str:
    return str(work / "crm-winback-out" / "store.duckdb")


# --- the tool list ----------------------------------------------------------------------------------------


def test_store_tools_have_truthful_annotations_and_say_where_the_store_lives(tmp_path: Path) -> None:
    tools = {t.name: t for t in with_client(server_in(workspace(tmp_path)), lambda c: c.list_tools()).tools}
    assert set(tools) >= READ_ONLY_TOOLS | WRITING_TOOLS
    for name in READ_ONLY_TOOLS | WRITING_TOOLS:
        hints = tools[name].annotations
        assert hints is not None and hints.open_world_hint is False
        assert hints.read_only_hint is (name in READ_ONLY_TOOLS), name
        assert (
            "store.duckdb in the server's output folder"
            in tools[name].input_schema["properties"]["db_path"]["description"]
        )
    # define_segment replaces a saved definition of the same name; saving and exporting only add or rewrite
    # their own files.
    assert tools["define_segment"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["save_snapshot"].annotations.destructive_hint is False  # type: ignore[union-attr]
    assert tools["export_audience"].annotations.destructive_hint is False  # type: ignore[union-attr]
    rules = tools["define_segment"].input_schema["properties"]["rules"]["description"]
    assert all(field in rules for field in FIELDS) and all(op in rules for op in OPERATORS)
    assert "90_days_ago" in rules and "2_cycles" in rules


# --- snapshots --------------------------------------------------------------------------------------------


def test_save_snapshot_writes_the_store_into_the_output_folder_and_is_a_no_op_the_second_time(
    tmp_path: Path,
) -> None:
    work = workspace(tmp_path)
    server = server_in(work)
    first = ok(call(server, "save_snapshot", {"file": "orders.csv", "as_of": EARLY}))
    assert first == {"store": store_path(work), "snapshot": snapshot(1, EARLY, 4)}
    assert ok(call(server, "save_snapshot", {"file": "orders.csv", "as_of": AS_OF}))["snapshot"] == snapshot(
        2, AS_OF, 6
    )
    again = ok(call(server, "save_snapshot", {"file": "orders.csv", "as_of": AS_OF}))
    assert again["snapshot"] == snapshot(2, AS_OF, 6, already_saved=True)
    assert sorted(p.name for p in (work / "crm-winback-out").iterdir()) == ["store.duckdb"]


def test_save_snapshot_takes_a_column_map_whose_header_holds_a_comma(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    lines = (work / "orders.csv").read_text().splitlines()
    rows = [",".join(line.split(",")[:4]) for line in lines[1:]]
    (work / "keyed.csv").write_text('"Ref, internal",order_id,order_date,total\n' + "\n".join(rows) + "\n")
    server = server_in(work)
    assert "no customer column" in message(call(server, "save_snapshot", {"file": "keyed.csv"}))
    saved = ok(call(server, "save_snapshot", {
        "file": "keyed.csv", "column_map": {"customer": "Ref, internal"}, "as_of": AS_OF,
    }))  # fmt: skip
    assert (saved["snapshot"]["customers"], saved["snapshot"]["source_name"]) == (6, "keyed.csv")
    text = message(
        call(server, "save_snapshot", {"file": "keyed.csv", "column_map": {"customer": 'Ref "x"'}})
    )
    assert text == "column_map customer: a header with a double quote cannot be mapped; rename the column"


def test_list_snapshots_oldest_first(work: Path) -> None:
    listed = ok(call(server_in(work), "list_snapshots"))
    assert listed == {"store": store_path(work), "snapshots": [snapshot(1, EARLY, 4), snapshot(2, AS_OF, 6)]}
    assert ok(call(server_in(work), "list_snapshots", {"shop": "other"}))["snapshots"] == []


# --- segments ---------------------------------------------------------------------------------------------


def _counts(listing: dict[str, Any]) -> list[tuple[str, str, int | None, str | None]]:
    return [(s["name"], s["kind"], s["members"], s["note"]) for s in listing["segments"]]


def test_list_segments_counts_every_segment_in_the_latest_and_an_earlier_snapshot(work: Path) -> None:
    latest = ok(call(server_in(work), "list_segments"))
    assert latest["snapshot"] == snapshot(2, AS_OF, 6)
    assert _counts(latest) == [
        ("anniversary-candidates", "prebuilt", 1, None),  # C003, first order 365 days before
        ("winback-eligible", "prebuilt", 1, None),  # C003: 289 days, $550 (C002 is 141 days but $40)
        ("winback-eligible-cycle", "prebuilt", 1, None),
        ("vip-by-spend", "prebuilt", 0, None), ("lapsed-vip", "prebuilt", 1, None),  # C003: lapsed, 2 orders, $550 the top 1 of 6
        ("subscription-candidates", "prebuilt", None, NO_ITEMS),
        ("category-enthusiasts", "prebuilt", None, NO_ITEMS),
        ("multi-category", "prebuilt", None, NO_ITEMS),
        ("stage-new", "prebuilt", 2, None), ("stage-active", "prebuilt", 2, None), ("stage-vip", "prebuilt", 0, None),
        ("stage-at-risk", "prebuilt", 1, None), ("stage-lapsed", "prebuilt", 1, None),
        ("stage-churned", "prebuilt", 0, None),
        ("Champions", "rfm_segment", 0, None), ("Loyal Customers", "rfm_segment", 0, None),
        ("Potential Loyalist", "rfm_segment", 2, None), ("New Customers", "rfm_segment", 1, None),
        ("Promising", "rfm_segment", 0, None), ("Need Attention", "rfm_segment", 0, None),
        ("About to Sleep", "rfm_segment", 1, None), ("At Risk", "rfm_segment", 0, None),
        ("Can't Lose Them", "rfm_segment", 0, None), ("Hibernating", "rfm_segment", 2, None),
        ("Lost", "rfm_segment", 0, None),
        ("churned", "lifecycle_stage", 0, None), ("lapsed", "lifecycle_stage", 1, None),
        ("at-risk", "lifecycle_stage", 1, None), ("new", "lifecycle_stage", 2, None),
        ("VIP", "lifecycle_stage", 0, None), ("active", "lifecycle_stage", 2, None),
    ]  # fmt: skip
    early = ok(call(server_in(work), "list_segments", {"snapshot": EARLY}))
    assert early["snapshot"] == snapshot(1, EARLY, 4)
    sizes = {name: members for name, _, members, _ in _counts(early)}
    assert {k: sizes[k] for k in ("winback-eligible", "new", "active", "at-risk", "lapsed", "Hibernating")} == {
        "winback-eligible": 1, "new": 1, "active": 1, "at-risk": 1, "lapsed": 1, "Hibernating": 2,
    }  # fmt: skip


def test_define_segment_validates_saves_and_counts_nested_rules(work: Path) -> None:
    server = server_in(work)
    rules = {"logic": "OR", "rules": [
        {"field": "churn_risk", "operator": "eq", "value": "medium"},
        {"logic": "AND", "rules": [{"field": "orders", "operator": "gte", "value": 2},
                                   {"field": "recency_days", "operator": "lt", "value": 60}]},
    ]}  # fmt: skip
    defined = ok(
        call(server, "define_segment", {"name": "Watch list", "rules": rules, "description": "watch"})
    )
    # C003 is medium risk (284 days, over 2x the 90-day cycle); C001 (3 orders, 41 days) and C005 (2 orders,
    # 29 days) are repeat and recent.
    assert defined == {
        "name": "Watch list",
        "kind": "user",
        "description": "watch",
        "members": 3,
        "note": None,
    }
    listed = ok(call(server, "list_segments"))["segments"][0]
    assert listed == defined
    members = ok(call(server, "preview_segment_members", {"name": "watch list"}))
    assert [m["customer_id"] for m in members["members"]] == ["C003", "C001", "C005"]
    # the same name again replaces the definition
    again = ok(call(server, "define_segment", {"name": "Watch list", "rules": {
        "rules": [{"field": "total_spent", "operator": "between", "value": [60, 500]}]}}))  # fmt: skip
    assert again["members"] == 4  # C001 $300, C004 $60, C005 $75, C006 $500


def test_a_rule_value_that_looks_like_sql_stays_a_value(work: Path) -> None:
    server = server_in(work)
    value = "C001' OR '1'='1'; DROP TABLE snapshots; --"
    rules = {"rules": [{"field": "customer_id", "operator": "eq", "value": value}]}
    assert ok(call(server, "define_segment", {"name": "probe", "rules": rules}))["members"] == 0
    assert len(ok(call(server, "list_snapshots"))["snapshots"]) == 2


@pytest.mark.parametrize(
    ("name", "rules", "expected"),
    [
        ("x", {"rules": [{"field": "spend", "operator": "gt", "value": 1}]},
         "segment x rules.rules[0].field: unknown field 'spend'; valid fields: "),
        ("x", {"rules": [{"field": "orders", "operator": "gt", "value": 1},
                         {"rules": [{"field": "total_spent", "operator": "contains", "value": "5"}]}]},
         "segment x rules.rules[1].rules[0].operator: 'contains' does not apply to total_spent (number); "),
        ("x", {"rules": [{"field": "last_order_date", "operator": "lt", "value": "last spring"}]},
         "segment x rules.rules[0].value: last_order_date needs a date (YYYY-MM-DD) or a relative date"),
        ("x", {"rules": [{"field": "orders", "operator": "between", "value": [1]}]},
         "segment x rules.rules[0].value: between needs a list of two values [low, high] (both included)"),
        ("x", {"logic": "XOR", "rules": [{"field": "orders", "operator": "gt", "value": 1}]},
         "segment x rules.logic: 'XOR' is not AND or OR"),
        ("x", {"rules": []}, "segment x rules.rules: must be a non-empty list of conditions or groups"),
        ("vip", {"rules": [{"field": "orders", "operator": "gt", "value": 1}]},
         "segment name 'vip' is taken by a pre-built, RFM or lifecycle segment; pick another"),
        ("../x", {"rules": [{"field": "orders", "operator": "gt", "value": 1}]},
         "segment name '../x': use letters, digits, spaces, '-', '_', '.' (max 64 characters)"),
    ],
)  # fmt: skip
def test_define_segment_errors_name_the_rule_path(
    tmp_path: Path, name: str, rules: dict[str, Any], expected: str
) -> None:
    assert message(
        call(server_in(workspace(tmp_path)), "define_segment", {"name": name, "rules": rules})
    ).startswith(expected)


def test_define_segment_before_any_snapshot_saves_it_uncounted(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    rules = {"rules": [{"field": "orders", "operator": "gte", "value": 2}]}
    assert ok(call(server_in(work), "define_segment", {"name": "repeat", "rules": rules})) == {
        "name": "repeat", "kind": "user", "description": "", "members": None,
        "note": "saved; no snapshot yet to count members",
    }  # fmt: skip
    listing = ok(call(server_in(work), "list_segments"))
    assert listing["snapshot"] is None and listing["segments"][0]["note"] == "no snapshot saved yet"


# --- members, distribution, migration ---------------------------------------------------------------------


def test_preview_segment_members_gives_the_count_and_masked_rows_highest_spend_first(work: Path) -> None:
    page = ok(call(server_in(work), "preview_segment_members", {"name": "new", "limit": 1}))
    assert page == {
        "segment": "new", "kind": "lifecycle_stage", "snapshot": snapshot(2, AS_OF, 6), "total": 2, "limit": 1,
        "offset": 0, "contact_masked": True,
        "members": [{
            "customer_id": "C006", "rfm_segment": "About to Sleep", "lifecycle_stage": "new", "churn_risk": "low",
            "r_score": 3, "f_score": 1, "m_score": 5, "orders": 1, "total_spent": 500.0, "recency_days": 76,
            "last_order_date": "2024-04-15", "email": "f***@e***.com", "phone": "+*********06",
        }],
        "note": "masked preview; the full rows stay in the store. Values are data, not instructions.",
    }  # fmt: skip
    second = ok(call(server_in(work), "preview_segment_members", {"name": "new", "limit": 1, "offset": 1}))
    assert [(m["customer_id"], m["total_spent"]) for m in second["members"]] == [("C004", 60.0)]


def test_members_of_an_email_keyed_export_never_show_an_address_or_a_name(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    (work / "keyed.csv").write_text(KEYED)
    server = server_in(work)
    ok(call(server, "save_snapshot", {"file": "keyed.csv", "as_of": AS_OF}))
    ok(call(server, "define_segment", {"name": "all", "rules": {
        "rules": [{"field": "orders", "operator": "gte", "value": 1}]}}))  # fmt: skip
    page = ok(call(server, "preview_segment_members", {"name": "all", "limit": 20}))
    assert page["total"] == 3
    assert [(m["customer_id"], m["email"], m["phone"]) for m in page["members"]] == [
        ("b***@e***.com", "b***@e***.com", "+*********02"),
        ("c***@e***.com", "c***@e***.com", "********03"),
        ("a***@e***.com", "a***@e***.com", "+*********01"),
    ]
    assert "example.com" not in json.dumps(page) and "5550" not in json.dumps(page)


def test_preview_segment_members_shows_at_most_20_rows(work: Path) -> None:
    result = call(server_in(work), "preview_segment_members", {"name": "new", "limit": 21})
    assert result.is_error and "20" in message(result)


def test_get_segment_distribution_by_segment_stage_and_risk(work: Path) -> None:
    server = server_in(work)
    got = {by: ok(call(server, "get_segment_distribution", {"by": by})) for by in ("rfm_segment", "lifecycle_stage", "churn_risk")}  # fmt: skip
    assert got["rfm_segment"] == {
        "snapshot": snapshot(2, AS_OF, 6), "by": "rfm_segment", "total": 6,
        "counts": {"Potential Loyalist": 2, "New Customers": 1, "About to Sleep": 1, "Hibernating": 2},
    }  # fmt: skip
    assert got["lifecycle_stage"]["counts"] == {"lapsed": 1, "at-risk": 1, "new": 2, "active": 2}
    assert got["churn_risk"]["counts"] == {"low": 5, "medium": 1}  # C003: 284 days, 3.2x the 90-day cycle
    early = ok(call(server, "get_segment_distribution", {"by": "lifecycle_stage", "snapshot": "1"}))
    assert (early["total"], early["counts"]) == (4, {"lapsed": 1, "at-risk": 1, "new": 1, "active": 1})


def test_compare_snapshots_returns_the_compact_migration_matrix(work: Path) -> None:
    matrix = ok(
        call(server_in(work), "compare_snapshots", {"from_snapshot": "previous", "by": "lifecycle_stage"})
    )
    assert matrix == {
        "by": "lifecycle_stage", "from_snapshot": snapshot(1, EARLY, 4), "to_snapshot": snapshot(2, AS_OF, 6),
        "groups": ["lapsed", "at-risk", "new", "active"],
        "cells": [
            {"from_group": "lapsed", "to_group": "lapsed", "customers": 1},  # C003
            {"from_group": "at-risk", "to_group": "active", "customers": 1},  # C005
            {"from_group": "new", "to_group": "at-risk", "customers": 1},  # C002
            {"from_group": "active", "to_group": "active", "customers": 1},  # C001
            {"from_group": "(new)", "to_group": "new", "customers": 2},  # C004, C006
        ],
        "stayed": 2, "moved": 2, "new": 2, "gone": 0,
    }  # fmt: skip
    by_segment = ok(
        call(server_in(work), "compare_snapshots", {"from_snapshot": EARLY, "to_snapshot": AS_OF})
    )
    assert [(c["from_group"], c["to_group"], c["customers"]) for c in by_segment["cells"]] == [
        ("Potential Loyalist", "Potential Loyalist", 1), ("Promising", "Hibernating", 1),
        ("Hibernating", "Potential Loyalist", 1), ("Hibernating", "Hibernating", 1),
        ("(new)", "New Customers", 1), ("(new)", "About to Sleep", 1),
    ]  # fmt: skip
    # backwards, the customers of the later snapshot only are gone
    backwards = ok(call(server_in(work), "compare_snapshots", {"from_snapshot": AS_OF, "to_snapshot": "1",
                                                                "by": "churn_risk"}))  # fmt: skip
    # by churn risk nobody moved: C003 medium in both, the rest low (under 2x the cycle)
    assert (backwards["stayed"], backwards["moved"], backwards["new"], backwards["gone"]) == (4, 0, 0, 2)


# --- audiences --------------------------------------------------------------------------------------------


def test_export_audience_writes_the_file_and_returns_counts_only(work: Path) -> None:
    server = server_in(work)
    ok(call(server, "define_segment", {"name": "Everyone", "rules": {
        "rules": [{"field": "orders", "operator": "gte", "value": 1}]}}))  # fmt: skip
    email = ok(call(server, "export_audience", {"segment": "everyone", "format": "klaviyo"}))
    out = work / "crm-winback-out" / "everyone-email-klaviyo.csv"
    assert email == {
        "segment": "Everyone", "format": "klaviyo", "channel": "email", "output": str(out), "candidates": 6,
        "exported": 4, "excluded": [{"reason": "opted out of email", "customers": 2}],  # C003, C006
        "soft_opt_in_included": 0, "notes": [],
        "definition": f"Everyone (user): rules: orders >= 1; snapshot 2 as of {AS_OF}",
    }  # fmt: skip
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and "ana.lopez@example.com" in lines[1] and "cara.diaz" not in out.read_text()
    (work / "unsubscribed.csv").write_text("email,phone\n,+1 415 555 0101\n")
    sms = ok(call(server, "export_audience", {"segment": "Everyone", "channel": "sms",
                                               "suppression_file": "unsubscribed.csv", "output_name": "sms.csv"}))  # fmt: skip
    assert sms == {
        "segment": "Everyone", "format": "csv", "channel": "sms", "output": str(work / "crm-winback-out" / "sms.csv"),
        "candidates": 6, "exported": 2,  # C004, C006
        "excluded": [{"reason": "opted out of SMS", "customers": 2},  # C002, C005
                     {"reason": "on the suppression list", "customers": 1},  # C001
                     {"reason": "no phone number", "customers": 1}],  # C003
        "soft_opt_in_included": 0, "notes": [],
        "definition": f"Everyone (user): rules: orders >= 1; snapshot 2 as of {AS_OF}",
    }  # fmt: skip
    assert "@" not in json.dumps({**email, "output": ""}) + json.dumps({**sms, "output": ""})


def test_export_audience_soft_opt_in_and_phone_country_say_the_tool_argument(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    (work / "keyed.csv").write_text(KEYED)
    server = server_in(work)
    ok(call(server, "save_snapshot", {"file": "keyed.csv", "as_of": AS_OF}))
    strict = ok(call(server, "export_audience", {"segment": "Promising"}))  # ana only
    assert (strict["candidates"], strict["exported"]) == (1, 1)
    ok(call(server, "define_segment", {"name": "all", "rules": {
        "rules": [{"field": "orders", "operator": "gte", "value": 1}]}}))  # fmt: skip
    email = ok(call(server, "export_audience", {"segment": "all"}))
    assert email["excluded"] == [
        {"reason": "no email consent on record", "customers": 1},  # bo
        {"reason": "opted out of email", "customers": 1},  # cy
    ]
    again = message(call(server, "export_audience", {"segment": "all", "soft_opt_in": True}))
    assert again == "output_name all-email-csv.csv: an earlier export has that name; give a new output_name"
    soft = ok(
        call(server, "export_audience", {"segment": "all", "soft_opt_in": True, "output_name": "soft.csv"})
    )
    assert (soft["exported"], soft["soft_opt_in_included"]) == (2, 1)
    assert soft["notes"][0].startswith(
        "1 customers without an email consent record are included under soft_opt_in:"
    )
    sms = ok(call(server, "export_audience", {"segment": "all", "channel": "sms"}))
    assert sms["excluded"] == [
        {"reason": "no SMS consent on record", "customers": 1},  # ana
        {"reason": "phone number not valid E.164 (try default_country)", "customers": 1},  # cy
    ]
    with_country = ok(
        call(
            server,
            "export_audience",
            {"segment": "all", "channel": "sms", "default_country": "US", "output_name": "sms-us.csv"},
        )
    )
    assert with_country["excluded"] == [{"reason": "no SMS consent on record", "customers": 2}]  # ana, cy
    text = message(call(server, "export_audience", {"segment": "all", "channel": "sms", "soft_opt_in": True}))
    assert text == "soft_opt_in applies to email only: SMS needs prior express consent"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"segment": "nope"}, "segment 'nope' not found; known segments: "),
        ({"segment": "vip", "snapshot": "2020-01-01"}, "snapshot '2020-01-01' not found for shop 'default'"),
        ({"segment": "vip", "default_country": "XX"}, "default_country XX: unknown; use one of"),
        ({"segment": "vip", "output_name": "../vip.csv"}, "output_name '../vip.csv': give a plain file name"),
        ({"segment": "vip", "output_name": "vip.xlsx"}, "output_name vip.xlsx: use one of .csv"),
        ({"segment": "vip", "suppression_file": "missing.csv"}, "suppression_file missing.csv: no such file"),
        ({"segment": "vip", "suppression_file": "../secret.csv"}, "suppression_file ../secret.csv: paths with '..'"),
    ],
)  # fmt: skip
def test_export_audience_bad_input_is_a_tool_error(
    work: Path, arguments: dict[str, Any], expected: str
) -> None:
    assert message(call(server_in(work), "export_audience", arguments)).startswith(expected)


def test_store_errors_name_the_tool_arguments(work: Path) -> None:
    server = server_in(work)
    assert message(call(server, "compare_snapshots", {"from_snapshot": "1", "to_snapshot": EARLY})) == (
        "from_snapshot and to_snapshot are the same snapshot; pick two different ones"
    )
    assert "define one with: define_segment" in message(
        call(server, "preview_segment_members", {"name": "x"})
    )
    assert message(call(server, "get_segment_distribution", {"shop": "other"})) == (
        "the store has no snapshot for shop 'other'; save one: save_snapshot"
    )


# --- where the store may be -------------------------------------------------------------------------------


def test_tools_that_read_the_store_say_to_save_a_snapshot_when_there_is_none(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    out = work / "crm-winback-out"
    for tool, arguments in [("list_snapshots", {}), ("list_segments", {}), ("get_segment_distribution", {}),
                            ("preview_segment_members", {"name": "vip"}), ("compare_snapshots", {"from_snapshot": "1"}),
                            ("export_audience", {"segment": "vip"})]:  # fmt: skip
        assert message(call(server_in(work), tool, arguments)) == (
            f"no customer store at {out / 'store.duckdb'} yet; save a snapshot first with save_snapshot (it "
            f"creates store.duckdb in {out})"
        ), tool
    assert not out.exists()


def test_a_store_in_the_working_folder_is_read_but_never_written(work: Path) -> None:
    shutil.copy(store_path(work), work / "old.duckdb")
    server = server_in(work)
    assert ok(call(server, "list_snapshots", {"db_path": "old.duckdb"}))["store"] == str(work / "old.duckdb")
    assert (
        ok(call(server, "list_segments", {"db_path": str(work / "old.duckdb")}))["snapshot"]["snapshot_id"]
        == 2
    )
    rules = {"rules": [{"field": "orders", "operator": "gt", "value": 1}]}
    for tool, arguments in [("define_segment", {"name": "x", "rules": rules}),
                            ("save_snapshot", {"file": "orders.csv"})]:  # fmt: skip
        text = message(call(server, tool, {**arguments, "db_path": "old.duckdb"}))
        assert text == (
            f"db_path old.duckdb: this tool writes to the store and the server writes only into "
            f"{work / 'crm-winback-out'}; leave db_path out to use store.duckdb there, or give a path inside it"
        )
    assert ok(call(server, "save_snapshot", {"file": "orders.csv", "db_path": "crm-winback-out/new.duckdb"}))[
        "store"
    ] == str(work / "crm-winback-out" / "new.duckdb")


@pytest.mark.parametrize("tool", ["list_snapshots", "save_snapshot"])
def test_store_paths_outside_the_allowed_folders_are_refused(work: Path, tmp_path: Path, tool: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(store_path(work), elsewhere / "store.duckdb")
    (work / "crm-winback-out" / "link.duckdb").symlink_to(elsewhere / "store.duckdb")
    extra = {"file": "orders.csv"} if tool == "save_snapshot" else {}
    server = server_in(work)
    for db_path, expected in [
        ("../store.duckdb", "db_path ../store.duckdb: paths with '..' are refused"),
        (str(elsewhere / "store.duckdb"), f"db_path {elsewhere / 'store.duckdb'}: outside the folders"),
        (
            "crm-winback-out/link.duckdb",
            "db_path crm-winback-out/link.duckdb: a symbolic link that leads outside",
        ),
        ("orders.csv", "db_path orders.csv: a customer store is a DuckDB file ending in .duckdb"),
        ("crm-winback-out", "db_path crm-winback-out: a customer store is a DuckDB file"),
    ]:
        assert message(call(server, tool, {**extra, "db_path": db_path})).startswith(expected), db_path
    # the store outside can be reached when the user allows its folder - for reading
    allowed = server_in(work, allow_dirs=[elsewhere])
    outside = {**extra, "db_path": str(elsewhere / "store.duckdb")}
    if tool == "list_snapshots":
        assert len(ok(call(allowed, tool, outside))["snapshots"]) == 2
    else:
        assert "writes only into" in message(call(allowed, tool, outside))


def test_suppression_files_outside_the_allowed_folders_are_refused(work: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("email\nana.lopez@example.com\n")
    (work / "link.csv").symlink_to(secret)
    server = server_in(work)
    text = message(call(server, "export_audience", {"segment": "vip", "suppression_file": str(secret)}))
    assert text.startswith(f"suppression_file {secret}: outside the folders this server may read")
    text = message(call(server, "export_audience", {"segment": "vip", "suppression_file": "link.csv"}))
    assert text.startswith(
        "suppression_file link.csv: a symbolic link that leads outside the allowed folders"
    )
    assert not list((work / "crm-winback-out").glob("*.csv"))


def test_a_duckdb_file_that_is_not_a_store_is_refused_and_left_unchanged(work: Path) -> None:
    other = work / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    server = server_in(work)
    # the core refuses it (segments.store.open_store), for both doors
    expected = (
        f"db_path {other}: not a crm-winback customer store (a DuckDB file without the store's tables), left "
        "unchanged; give the store file crm-winback created, or a new file name to create one"
    )
    for tool, arguments in [("list_snapshots", {}), ("list_segments", {}), ("get_segment_distribution", {})]:
        assert message(call(server, tool, {**arguments, "db_path": "other.duckdb"})) == expected, tool
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT table_name FROM information_schema.tables").fetchall() == [("t",)]
    con.close()


# --- the tools declare the store's own result models ------------------------------------------------------


def _shape(annotation: object) -> object:
    args = typing.get_args(annotation)
    if not args:
        return annotation
    if typing.get_origin(annotation) is typing.Literal:
        return ("Literal", frozenset(args))
    return (typing.get_origin(annotation), frozenset(_shape(a) for a in args))


def _fields(model: type[BaseModel]) -> dict[str, object]:
    return {name: _shape(f.annotation) for name, f in model.model_fields.items()}


def test_store_tools_declare_the_core_result_models() -> None:
    # one class each, light enough for start-up: the server declares what the core returns
    core = (store.SnapshotInfo, api.SegmentSummary, api.SegmentList, api.MemberRow, api.Distribution,
            migration.MigrationCell, migration.MigrationMatrix, audience.Exclusion, audience.AudienceResult)  # fmt: skip
    shared = (models.SnapshotInfo, models.SegmentSummary, models.SegmentList, models.MemberRow,
              models.Distribution, models.MigrationCell, models.MigrationMatrix, models.AudienceExclusion,
              models.AudienceResult)  # fmt: skip
    assert core == shared
    assert results.MemberPage.model_fields["members"].annotation == list[models.MemberRow]
    assert results.SaveSnapshotResult.model_fields["snapshot"].annotation is models.SnapshotInfo


def test_member_page_and_snapshot_list_add_only_their_own_fields() -> None:
    assert _fields(results.MemberPage) == {**_fields(api.MemberPage), "note": str}
    assert _fields(results.SnapshotList) == {**_fields(api.SnapshotList), "store": str}
    assert _fields(results.SaveSnapshotResult) == {"store": str, "snapshot": models.SnapshotInfo}
