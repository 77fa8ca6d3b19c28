"""--profiles: the email/SMS platform's exports joined to the order customers (crm_winback.ingest.profiles).

Every file here is built from the platforms' header names (knowledge/profile_layouts.yaml cites them) with
invented addresses; the expected numbers are counted by hand from the rows.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from crm_winback.api import score_file
from crm_winback.cli import main
from crm_winback.errors import InputError
from crm_winback.ingest.profiles import engagement_rules
from crm_winback.scoring import ScoreOptions
from crm_winback.scoring.score import SCORE_COLUMNS

# as-of date 2024-06-01 (the last order). C1 and C2 have email consent columns in the orders; C3 only a phone
# match; C4 no profile.
ORDERS = """customer,date,amount,email,phone,accepts_marketing
C1,2024-01-01,10,ana@x.com,+44 7700 900001,yes
C1,2024-05-01,20,ana@x.com,+44 7700 900001,yes
C2,2024-02-01,15,ben@x.com,,no
C3,2024-03-01,30,cat@x.com,+1 415 555 0101,yes
C4,2024-06-01,5,dan@x.com,,
"""

KLAVIYO = """Email,Phone Number,First Name,Email Marketing Consent,SMS Marketing Consent,Last Open,Last Click,Last Active
ANA@x.com,+447700900001,Ana,SUBSCRIBED,SUBSCRIBED,2024-05-20 10:00:00,2024-05-25 11:00:00,2024-05-25
ben@x.com,,Ben,SUBSCRIBED,,2024-05-01 10:00:00,,
eve@x.com,,Eve,NEVER_SUBSCRIBED,,,,
,+14155550101,,,SUBSCRIBED,,,
"""

MC_HEAD = "Email Address,First Name,Last Name,Phone Number,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,LAST_CHANGED"
MC_SUBSCRIBED = f"""{MC_HEAD}
ana@x.com,Ana,L,,2,2024-01-02 10:00:00,,2024-01-02 10:00:00
ben@x.com,Ben,M,,3,2024-01-05 10:00:00,2024-05-10 09:00:00,2024-05-10 09:00:00
"""
MC_UNSUBSCRIBED = f"""{MC_HEAD},UNSUB_TIME,UNSUB_CAMPAIGN_TITLE
ana@x.com,Ana,L,,1,2023-06-01 10:00:00,,2024-03-01 10:00:00,2024-03-01 10:00:00,Spring sale
ben@x.com,Ben,M,,1,2023-06-01 10:00:00,,2024-02-01 10:00:00,2024-02-01 10:00:00,Winter sale
"""
MC_CLEANED = f"""{MC_HEAD},CLEAN_TIME,CLEAN_CAMPAIGN_TITLE
cat@x.com,Cat,N,,1,2023-06-01 10:00:00,,2024-04-01 10:00:00,2024-04-01 10:00:00,April news
"""

SHOPIFY = """Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders
101,Ana,L,ana@x.com,no,,+447700900001,yes,30.00,2
102,Ben,M,ben@x.com,yes,,,no,15.00,1
"""


def _write(folder: Path, **files: str) -> dict[str, str]:
    paths = {}
    for name, text in files.items():
        path = folder / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    return paths


def _score(tmp_path: Path, *profiles: str) -> tuple[dict, list[dict[str, str]]]:
    orders = _write(tmp_path, orders=ORDERS)["orders"]
    out = tmp_path / "scores.csv"
    result, _ = score_file(orders, score_options=ScoreOptions(profiles=profiles), output=out)
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return result.scoring.model_dump(mode="json"), rows


def test_klaviyo_export_joins_by_email_then_phone_and_counts_the_match(tmp_path: Path) -> None:
    files = _write(tmp_path, klaviyo=KLAVIYO)
    scoring, rows = _score(tmp_path, files["klaviyo"])
    p = scoring["profiles"]
    assert p["sections"][0]["layout"] == "klaviyo"
    assert (p["rows"], p["profiles"], p["duplicates"]) == (4, 4, 0)
    # ana and ben by email, cat's customer by her phone; eve never ordered (a prospect); dan has no profile
    assert (p["matched_customers"], p["matched_by_email"], p["matched_by_phone"]) == (3, 2, 1)
    assert (p["match_rate"], p["customers_without_profile"], p["prospects"]) == (0.75, 1, 1)
    # ben said "no" at checkout and "subscribed" in Klaviyo: the platform's answer is used, and counted
    assert p["conflicts"] == [{"channel": "email", "platform_yes_orders_no": 1, "platform_no_orders_yes": 0}]
    by_id = {r["customer_id"]: r for r in rows}
    assert [by_id[c]["email_consent"] for c in ("C1", "C2", "C3", "C4")] == ["true", "true", "true", ""]
    assert [by_id[c]["sms_consent"] for c in ("C1", "C2", "C3", "C4")] == ["true", "", "true", ""]
    # C1 clicked 7 days before the as-of date: engaged; C2 only opened, 31 days before: warm by the open's
    # age, one tier down for an open = cold; C3's profile has no engagement at all: unengaged; C4: unknown
    assert [by_id[c]["engagement_tier"] for c in ("C1", "C2", "C3", "C4")] == [
        "engaged",
        "cold",
        "unengaged",
        "unknown",
    ]
    assert p["engagement_tiers"] == {"engaged": 1, "warm": 0, "cold": 1, "unengaged": 1, "unknown": 1}
    total = scoring["scorecard"]["total"]
    assert total["engagement_quality"] == pytest.approx(1 / 3, abs=1e-4)  # 1 engaged of 3 with a tier
    assert (total["email_reachable"], total["sms_reachable"]) == (3, 2)
    assert "Apple Mail Privacy Protection" in p["engagement_note"]


def test_clicks_earn_their_tier_and_opens_one_lower() -> None:
    rules = engagement_rules()
    assert rules.tier({"last_click": 30}) == "engaged"
    assert rules.tier({"last_click": 31}) == "warm"
    assert rules.tier({"last_open": 1}) == "warm"  # an open alone is never "engaged" (Apple MPP)
    assert rules.tier({"last_open": 91}) == "unengaged"  # cold by age, one lower for an open
    assert rules.tier({"last_click": 100, "last_open": 20}) == "warm"  # the best signal counts
    assert rules.tier({"last_click": 181}) == "unengaged"
    assert rules.tier({}) == "unengaged"  # never engaged


def test_mailchimp_sections_latest_statement_wins_whether_separate_or_pasted(tmp_path: Path) -> None:
    files = _write(tmp_path, sub=MC_SUBSCRIBED, unsub=MC_UNSUBSCRIBED, clean=MC_CLEANED)
    separate, rows = _score(tmp_path, files["sub"], files["unsub"], files["clean"])
    by_id = {r["customer_id"]: r for r in rows}
    # ana opted in 2024-01-02, unsubscribed 2024-03-01: no. ben unsubscribed 2024-02-01 and confirmed a new
    # opt-in 2024-05-10: yes. cat was cleaned (undeliverable): no. dan has no profile: the orders' (empty).
    assert [by_id[c]["email_consent"] for c in ("C1", "C2", "C3", "C4")] == ["false", "true", "false", ""]
    p = separate["profiles"]
    assert [s["layout"] for s in p["sections"]] == [
        "mailchimp_subscribed",
        "mailchimp_unsubscribed",
        "mailchimp_cleaned",
    ]
    assert (p["rows"], p["profiles"], p["duplicates"], p["matched_customers"]) == (5, 3, 2, 3)
    # the orders said yes for C1 (ana) and C3 (cat), no for C2 (ben): all three differ from the platform
    assert p["conflicts"] == [{"channel": "email", "platform_yes_orders_no": 1, "platform_no_orders_yes": 2}]
    assert p["engagement_known"] is False and "no last open / click dates" in p["notes"][0]
    assert {r["engagement_tier"] for r in rows} == {"unknown"}
    pasted = _write(tmp_path, all=MC_SUBSCRIBED + MC_UNSUBSCRIBED + MC_CLEANED)["all"]
    together, rows2 = _score(tmp_path, pasted)
    assert [r["email_consent"] for r in rows2] == [r["email_consent"] for r in rows]
    assert [s["header_line"] for s in together["profiles"]["sections"]] == [1, 4, 7]


def test_shopify_customers_export_gives_email_and_sms_consent(tmp_path: Path) -> None:
    files = _write(tmp_path, shopify=SHOPIFY)
    scoring, rows = _score(tmp_path, files["shopify"])
    by_id = {r["customer_id"]: r for r in rows}
    assert (by_id["C1"]["email_consent"], by_id["C1"]["sms_consent"]) == ("false", "true")
    assert (by_id["C2"]["email_consent"], by_id["C2"]["sms_consent"]) == ("true", "false")
    p = scoring["profiles"]
    assert p["sections"][0]["columns"]["phone"] == "Phone"  # the customer's phone, not the address's
    assert p["conflicts"] == [{"channel": "email", "platform_yes_orders_no": 1, "platform_no_orders_yes": 1}]


def test_unknown_consent_value_names_file_column_line_and_the_known_values(tmp_path: Path) -> None:
    files = _write(tmp_path, klaviyo=KLAVIYO.replace("NEVER_SUBSCRIBED", "maybe later"))
    with pytest.raises(InputError) as err:
        _score(tmp_path, files["klaviyo"])
    message = str(err.value)
    assert "'Email Marketing Consent', line 4: unknown consent value 'maybe later'" in message
    assert "never_subscribed" in message and "\n" not in message


def test_profiles_matching_no_customer_are_refused(tmp_path: Path) -> None:
    files = _write(tmp_path, klaviyo=KLAVIYO.replace("@x.com", "@other.org").replace("+1415", "+1999"))
    text = files["klaviyo"]
    Path(text).write_text(Path(text).read_text().replace("+447700900001", "+447700999999"))
    with pytest.raises(InputError, match="none of its 4 addresses matches a customer"):
        _score(tmp_path, text)


def test_a_header_of_two_platforms_is_a_mixed_export(tmp_path: Path) -> None:
    mixed = "Email,Email Marketing Consent,Accepts Email Marketing\nana@x.com,SUBSCRIBED,yes\n"
    files = _write(tmp_path, mixed=mixed)
    with pytest.raises(InputError, match="a mixed export: the header has the columns of Klaviyo"):
        _score(tmp_path, files["mixed"])


def test_without_profiles_the_scores_file_and_summary_are_as_before(tmp_path: Path) -> None:
    scoring, rows = _score(tmp_path)
    assert list(rows[0]) == list(SCORE_COLUMNS)
    assert scoring["profiles"] is None and scoring["scorecard"]["total"]["engagement"] is None


def test_cli_score_reports_profiles_in_json_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _write(tmp_path, orders=ORDERS, klaviyo=KLAVIYO)
    out = str(tmp_path / "s.csv")
    assert (
        main(["score", files["orders"], "--profiles", files["klaviyo"], "-o", out, "--format", "json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["scoring"]["profiles"]["matched_customers"] == 3
    assert data["quality"]["consent_columns"]["sms_consent"] == "the platform's profiles (--profiles)"
    assert main(["score", files["orders"], "--profiles", files["klaviyo"], "-o", out]) == 0
    table = capsys.readouterr().out
    assert "matched customers" in table and "3 of 4 (75.0%; 2 by email, 1 by E.164 phone)" in table
    assert "ENGAGEMENT BY SEGMENT AND STAGE" in table


def test_brief_with_profiles_counts_tiers_by_stage_and_the_sunset(tmp_path: Path) -> None:
    from crm_winback.brief.api import Context, build_brief

    files = _write(tmp_path, orders=ORDERS, klaviyo=KLAVIYO)
    doc = build_brief(Context(), orders=files["orders"], profiles=(files["klaviyo"],))
    section = doc.markdown.split("### Engagement and sunset", 1)[1].split("## KPI framework", 1)[0]
    assert "engaged 1, warm 0, cold 1, unengaged 1, unknown 1; 3 of 4 customers matched a profile" in section
    assert "Sunset rule: 1 customers (33.3% of those with a known tier) are unengaged" in section
    assert "Engagement is unknown" not in doc.markdown
    without = build_brief(Context(), orders=files["orders"])
    assert "Engagement is unknown: no email platform export was given" in without.markdown


def test_export_takes_the_platforms_consent_and_leaves_out_the_unengaged(tmp_path: Path) -> None:
    from crm_winback.segments import api

    files = _write(tmp_path, orders=ORDERS)
    db = str(tmp_path / "store.duckdb")
    api.save_snapshot_file(files["orders"], db_path=db)
    rules = {"rules": [{"field": "orders", "operator": "gte", "value": 1}]}
    api.define_segment("everyone", rules, db_path=db)
    before = api.export_segment("everyone", str(tmp_path / "a.csv"), db_path=db)
    # the orders: C1 and C3 yes, C2 no, C4 unknown
    assert (before.exported, {e.reason: e.customers for e in before.excluded}) == (
        2,
        {"opted out of email": 1, "no email consent on record": 1},
    )
    klaviyo = KLAVIYO.replace("ANA@x.com,+447700900001,Ana,SUBSCRIBED,SUBSCRIBED,2024-05-20 10:00:00,2024-05-25 "
                              "11:00:00,2024-05-25", "ANA@x.com,+447700900001,Ana,SUBSCRIBED,,,,")  # fmt: skip
    files = _write(tmp_path, klaviyo=klaviyo)
    after = api.export_segment("everyone", str(tmp_path / "b.csv"), db_path=db, profiles=[files["klaviyo"]])
    # ben subscribed on the platform: in; ana subscribed but never clicked or opened: out by the sunset rule
    assert after.exported == 2
    assert {e.reason: e.customers for e in after.excluded} == {
        "unengaged on the email platform (the sunset rule of knowledge/engagement.yaml)": 1,
        "no email consent on record": 1,
    }


def test_segment_rules_filter_on_the_engagement_tier_saved_with_the_snapshot(tmp_path: Path) -> None:
    from crm_winback.api import StoreOptions
    from crm_winback.segments import api

    files = _write(tmp_path, orders=ORDERS, klaviyo=KLAVIYO)
    db = str(tmp_path / "store.duckdb")
    score_file(
        files["orders"],
        score_options=ScoreOptions(profiles=(files["klaviyo"],)),
        store=StoreOptions(db=db, save=True),
    )
    rules = {"rules": [{"field": "engagement_tier", "operator": "in", "value": ["engaged", "cold"]}]}
    assert api.define_segment("engaged-or-cold", rules, db_path=db).members == 2  # C1 engaged, C2 cold
    clicked = {"rules": [{"field": "last_click_date", "operator": "gte", "value": "30_days_ago"}]}
    assert api.define_segment("clicked", clicked, db_path=db).members == 1  # C1 clicked 2024-05-25


def test_a_store_saved_before_profiles_reads_the_engagement_fields_as_missing(tmp_path: Path) -> None:
    import duckdb

    from crm_winback.segments import api

    files = _write(tmp_path, orders=ORDERS)
    db = str(tmp_path / "store.duckdb")
    api.save_snapshot_file(files["orders"], db_path=db)
    con = duckdb.connect(db)
    for column in ("engagement_tier", "last_click_date", "last_open_date"):
        con.execute(f"ALTER TABLE customer_rfm_scores DROP COLUMN {column}")
    con.close()
    # read-only: members and exports see the columns as empty
    page = api.segment_members("stage-new", db_path=db)
    assert page.total == 1
    rules = {"rules": [{"field": "engagement_tier", "operator": "exists", "value": False}]}
    assert api.define_segment("no-tier", rules, db_path=db).members == 4  # writing adds the columns


def test_errors_name_the_physical_line_after_a_cell_spanning_lines(tmp_path: Path) -> None:
    text = (
        'Email,First Name,Email Marketing Consent\nana@x.com,"Ana\nMaria",SUBSCRIBED\nben@x.com,Ben,perhaps\n'
    )
    files = _write(tmp_path, klaviyo=text)
    with pytest.raises(
        InputError, match="'Email Marketing Consent', line 4: unknown consent value 'perhaps'"
    ):
        _score(tmp_path, files["klaviyo"])
