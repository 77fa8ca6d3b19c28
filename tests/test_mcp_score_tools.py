"""profile_orders, score_customers and preview_customers called in memory on the 10-order fixture.

tests/data/mcp_orders.csv: 6 customers, 10 orders, $1,525 in total, 2023-07-01..2024-06-25, as of 2024-06-30.
C001 3 orders ($300, last 2024-05-20: 41 days), C002 1 ($40), C003 2 ($550, last 2023-09-15: 289 days),
C004 1 ($60, 5 days), C005 2 ($75), C006 1 ($500). Emails, phones, names and both consents are filled.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from crm_winback.api import ingest_options, score_file

from .mcp_support import call, ok, server_in, with_client, workspace

AS_OF = "2024-06-30"


def test_server_lists_every_tool_with_descriptions_and_truthful_annotations(tmp_path: Path) -> None:
    tools = with_client(server_in(workspace(tmp_path)), lambda c: c.list_tools()).tools
    by_name = {t.name: t for t in tools}
    assert {"profile_orders", "score_customers", "preview_customers"} <= set(by_name)
    for tool in tools:
        assert tool.description, tool.name
        assert tool.output_schema, f"{tool.name} has no structured output"
        for prop, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), f"{tool.name}.{prop} has no description"
        assert tool.annotations is not None and tool.annotations.open_world_hint is False
    assert by_name["profile_orders"].annotations.read_only_hint is True
    assert by_name["preview_customers"].annotations.read_only_hint is True
    # it writes the scores file into the output folder
    assert by_name["score_customers"].annotations.read_only_hint is False


def test_profile_orders_reports_the_fixture_exactly(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    report = ok(call(server_in(work), "profile_orders", {"file": "orders.csv", "as_of": AS_OF}))
    assert report == {
        "file": str(work / "orders.csv"),
        "file_format": "CSV, comma-separated, utf-8",
        "layout": "orders",
        "layout_label": "one row per order",
        "mapping": {
            "customer": "customer_id", "order_id": "order_id", "date": "order_date", "amount": "total",
            "email": "email", "phone": "phone", "first_name": "first_name", "last_name": "last_name",
            "email_consent": "accepts_email_marketing", "sms_consent": "accepts_sms_marketing",
        },
        "date_format": "ISO (YYYY-MM-DD, time and offset ignored)",
        "date_format_reason": "every value has this shape",
        "money_format": "plain numbers",
        "currency": None,
        "monetary_available": True,
        "rows_read": 10,
        "rows_used": 10,
        "exclusions": [],
        "customer_ids_found": 6,
        "customers": 6,
        "orders": 10,
        "first_order_date": "2023-07-01",
        "last_order_date": "2024-06-25",
        "history_days": 365,
        "as_of": AS_OF,
        "as_of_reason": "set with --as-of",
        "gross_revenue": 1525.0,
        "refunds": 0.0,
        "returns": 0.0,
        "net_revenue": 1525.0,
        "one_time_buyer_share": 0.5,
        "repeat_customers": 3,
        "median_days_between_orders": 78.0,
        "consent_columns": {"email_consent": "accepts_email_marketing", "sms_consent": "accepts_sms_marketing"},
        "notes": [],
        "confidence": "low",
        "confidence_reasons": [
            "not high: 6 customers (under 2,000), 3 repeat customers (under 200)",
            "not medium: 6 customers (under 500), 3 repeat customers (under 50)",
        ],
    }  # fmt: skip


def test_profile_orders_writes_nothing(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    ok(call(server_in(work), "profile_orders", {"file": "orders.csv"}))
    assert sorted(p.name for p in work.iterdir()) == ["orders.csv"]


def test_score_customers_returns_the_core_result_and_writes_rows_only_to_the_output_folder(
    tmp_path: Path,
) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "score_customers", {"file": "orders.csv", "as_of": AS_OF}))
    scores = work / "crm-winback-out" / "orders-scores.csv"
    assert result["scores_file"] == str(scores)
    # The server is a thin door: the same numbers as the core, field for field.
    core, _ = score_file(work / "orders.csv", ingest_options(as_of=AS_OF), output=tmp_path / "core.csv")
    assert result["quality"] == json.loads(core.quality.model_dump_json())
    assert result["scoring"] == json.loads(core.scoring.model_dump_json())
    assert scores.read_bytes() == (tmp_path / "core.csv").read_bytes()
    total = result["scoring"]["scorecard"]["total"]
    assert (total["customers"], total["revenue"], total["email_reachable"], total["sms_reachable"]) == (
        6,
        1525.0,
        4,
        3,
    )
    # Contact data goes to the file, never into the result.
    text = json.dumps(result)
    for secret in ("ana.lopez@example.com", "+14155550101", "Lopez"):
        assert secret not in text
    with scores.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["customer_id"] for r in rows] == ["C001", "C002", "C003", "C004", "C005", "C006"]
    assert rows[0]["email"] == "ana.lopez@example.com"


def test_score_customers_takes_an_output_name_and_parquet(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "score_customers", {"file": "orders.csv", "output_name": "s.parquet"}))
    assert result["scores_file"] == str(work / "crm-winback-out" / "s.parquet")
    assert (work / "crm-winback-out" / "s.parquet").stat().st_size > 0


def test_score_customers_on_the_bundled_example(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "score_customers", {"example": "cdnow"}))
    assert result["scoring"]["customers"] == 23570
    assert result["scores_file"] == str(tmp_path / "crm-winback-out" / "CDNOW_master-scores.csv")
    assert len(json.dumps(result)) / 4 < 4000  # compact whatever the data size


def test_score_customers_with_predict_takes_churn_risk_from_the_backtest(tmp_path: Path) -> None:
    result = ok(call(server_in(tmp_path), "score_customers", {"example": "cdnow", "predict": True}))
    model = result["scoring"]["predictions"]
    assert model["churn_risk_method"] == "backtest"
    assert model["backtest"]["chosen"] == "recency alone"
    total = result["scoring"]["scorecard"]["total"]
    # the measured bands (tests/test_score_predict.py): last order under 81, 81-268, 269+ days
    assert (total["churn_risk_low"], total["churn_risk_medium"], total["churn_risk_high"]) == (
        3090,
        3913,
        16567,
    )
    scores = (tmp_path / "crm-winback-out" / "CDNOW_master-scores.csv").read_text(encoding="utf-8")
    header = scores.split("\n", 1)[0]
    assert header.endswith(",p_alive,expected_orders,clv,winback_date,winback_basis,p_no_order")
    assert len(json.dumps(result)) / 4 < 6000  # per-group aggregates only, no customer rows


def test_score_customers_with_predict_states_the_fallback(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "score_customers", {"file": "orders.csv", "predict": True}))
    assert result["scoring"]["predictions"]["churn_risk_method"] == "heuristic"
    assert "too few customers for a backtest" in result["scoring"]["churn_risk_source"]


def test_preview_customers_masks_contact_data(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    server = server_in(work)
    scores = ok(call(server, "score_customers", {"file": "orders.csv", "as_of": AS_OF}))["scores_file"]
    preview = ok(call(server, "preview_customers", {"scores_file": scores, "limit": 2}))
    assert preview["matching_customers"] == 6
    assert preview["rows"] == [
        {"customer": "C001", "rfm_segment": "Potential Loyalist", "lifecycle_stage": "active", "churn_risk": "low",
         "recency_days": 41, "orders": 3, "net_total": 300.0, "email": "a***@e***.com", "phone": "+*********01",
         "name": "A. L.", "email_consent": True, "sms_consent": True},
        {"customer": "C002", "rfm_segment": "Hibernating", "lifecycle_stage": "at-risk", "churn_risk": "low",
         "recency_days": 141, "orders": 1, "net_total": 40.0, "email": "b***@e***.com", "phone": "+*********02",
         "name": "B. C.", "email_consent": True, "sms_consent": False},
    ]  # fmt: skip


def test_preview_customers_filters_by_segment_and_risk(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    server = server_in(work)
    scores = ok(call(server, "score_customers", {"file": "orders.csv", "as_of": AS_OF}))["scores_file"]
    hib = ok(call(server, "preview_customers", {"scores_file": scores, "segment": "Hibernating"}))
    assert hib["matching_customers"] == 2
    assert [r["customer"] for r in hib["rows"]] == ["C002", "C003"]
    medium = ok(call(server, "preview_customers", {"scores_file": scores, "churn_risk": "medium"}))
    assert [(r["customer"], r["phone"], r["sms_consent"]) for r in medium["rows"]] == [("C003", None, False)]


def test_preview_masks_customer_ids_that_are_emails(tmp_path: Path) -> None:
    work = tmp_path / "p"
    work.mkdir()
    (work / "o.csv").write_text(
        "email,date,total\nzoe.ray@shop.example,2024-01-02,10\nzoe.ray@shop.example,2024-02-02,12\n"
    )
    server = server_in(work)
    scores = ok(call(server, "score_customers", {"file": "o.csv"}))["scores_file"]
    preview = ok(call(server, "preview_customers", {"scores_file": scores}))
    assert [(r["customer"], r["email"]) for r in preview["rows"]] == [
        ("z***@s***.example", "z***@s***.example")
    ]
    assert "zoe" not in json.dumps(preview)
