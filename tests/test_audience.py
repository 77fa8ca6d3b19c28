"""Audience export: consent, suppression, E.164, formula neutralisation, exact exclusion counts.

The shared datasets carry no contact or consent columns, so the export is tested on a deterministic fixture
written here: ten customers, each built to hit one rule.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crm_winback.errors import InputError, OutputExists
from crm_winback.segments import api
from crm_winback.segments.audience import neutralise, read_suppression, to_e164

HEADER = ["order_id", "customer_id", "order_date", "amount", "email", "phone", "first_name", "last_name",
          "accepts_email_marketing", "accepts_sms_marketing"]  # fmt: skip
CUSTOMERS = [
    ("c01", "c01@shop.test", "+1 415 555 0101", "Ann", "Lee", "yes", "yes"),
    ("c02", "c02@shop.test", "(415) 555-0102", "Bo", "Chan", "no", "yes"),  # opted out of email
    ("c03", "", "", "Cy", "Dee", "yes", "no"),  # no email, no phone
    ("c04", "not-an-email", "12345", "Di", "Eke", "yes", "yes"),  # unusable email and phone
    ("c05", "c05@shop.test", "+44 7700 900123", "Ed", "Fox", "yes", "yes"),  # email on the suppression file
    ("c06", "c06@shop.test", "07700 900456", "Flo", "Gu", "", ""),  # no consent on record; UK national number
    ("c07", "C01@Shop.test", "+1 415 555 0101", "Gil", "Ho", "yes", "yes"),  # same address as c01
    ("c08", "c08@shop.test", "+1 415 555 0108", "=cmd|' /C calc'!A0", "-Smith", "yes", "yes"),  # formulas
    ("c09", "c09@shop.test", "+1 415 555 0109", "@Bob", "Ito", "yes", "yes"),  # phone on the suppression file
    ("c10", "c10@shop.test", "+1 415 555 0110", "Jo", "Kim", "no", "no"),  # opted out of both
]


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("audience")
    orders = folder / "orders.csv"
    with orders.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, (cid, email, phone, first, last, em, sms) in enumerate(CUSTOMERS):
            w.writerow([f"o{i}", cid, f"2024-03-{i + 1:02d}", "80.00", email, phone, first, last, em, sms])
    db = str(folder / "store.duckdb")
    api.save_snapshot_file(str(orders), db_path=db)
    api.define_segment(
        "everyone", {"rules": [{"field": "orders", "operator": "gte", "value": 1}]}, db_path=db
    )
    (folder / "suppress.csv").write_text(
        "Email,Phone Number,Reason\nC05@shop.test,,unsubscribed\n,+14155550109,stop\n"
    )
    return db


def _suppress(db: str) -> str:
    return str(Path(db).parent / "suppress.csv")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_email_audience_keeps_only_consented_reachable_unsuppressed_people(
    store_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "email.csv"
    result = api.export_segment(
        "everyone", str(out), "klaviyo", "email", store_db, suppression_file=_suppress(store_db)
    )
    assert (result.candidates, result.exported, result.soft_opt_in_included) == (10, 3, 0)
    assert {e.reason: e.customers for e in result.excluded} == {
        "opted out of email": 2, "no email address": 1, "invalid email address": 1, "on the suppression list": 1,
        "no email consent on record": 1, "duplicate email address": 1,
    }  # fmt: skip
    rows = _read(out)
    assert [r["Email"] for r in rows] == ["c01@shop.test", "c08@shop.test", "c09@shop.test"]
    assert list(rows[0]) == ["Email", "Phone Number", "First Name", "Last Name", "RFM Segment", "Lifecycle Stage",
                             "Last Order Date", "Orders", "Total Spent", "Churn Risk"]  # fmt: skip
    assert (rows[1]["First Name"], rows[1]["Last Name"], rows[1]["Phone Number"]) == (
        "'=cmd|' /C calc'!A0",
        "'-Smith",
        "+14155550108",
    )
    assert rows[2]["First Name"] == "'@Bob"
    assert rows[0]["Total Spent"] == "80.00"


def test_soft_opt_in_adds_only_those_without_a_record(store_db: str, tmp_path: Path) -> None:
    result = api.export_segment("everyone", str(tmp_path / "e.csv"), "mailchimp", "email", store_db,
                                soft_opt_in=True, suppression_file=_suppress(store_db))  # fmt: skip
    assert (result.exported, result.soft_opt_in_included) == (4, 1)
    assert {e.reason: e.customers for e in result.excluded}["opted out of email"] == 2
    assert [r["Email Address"] for r in _read(tmp_path / "e.csv")] == [
        "c01@shop.test",
        "c06@shop.test",
        "c08@shop.test",
        "c09@shop.test",
    ]
    assert any("soft-opt-in" in n for n in result.notes)


def test_sms_audience_needs_sms_consent_and_a_valid_e164_number(store_db: str, tmp_path: Path) -> None:
    out = tmp_path / "sms.csv"
    result = api.export_segment("everyone", str(out), "klaviyo", "sms", store_db,
                                suppression_file=_suppress(store_db), default_country="US")  # fmt: skip
    assert (result.candidates, result.exported) == (10, 4)
    assert {e.reason: e.customers for e in result.excluded} == {
        "phone number not valid E.164": 2, "no phone number": 1, "on the suppression list": 1,
        "opted out of SMS": 1, "duplicate phone number": 1,
    }  # fmt: skip
    assert [r["Phone Number"] for r in _read(out)] == ["+14155550101", "+14155550102", "+447700900123",
                                                       "+14155550108"]  # fmt: skip


def test_sms_without_a_default_country_cannot_complete_national_numbers(
    store_db: str, tmp_path: Path
) -> None:
    result = api.export_segment("everyone", str(tmp_path / "s.csv"), "csv", "sms", store_db)
    reasons = {e.reason: e.customers for e in result.excluded}
    assert reasons["phone number not valid E.164 (try --default-country)"] == 3  # c02, c04, c06
    assert result.exported == 4  # c01, c05, c08, c09 (no suppression file this time)


def test_soft_opt_in_is_refused_for_sms(store_db: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SMS needs prior express consent"):
        api.export_segment("everyone", str(tmp_path / "x.csv"), "klaviyo", "sms", store_db, soft_opt_in=True)
    assert not (tmp_path / "x.csv").exists()


def test_export_replaces_the_file_atomically_and_leaves_no_temp_files(store_db: str, tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    out.write_text("old content\n")
    with pytest.raises(
        OutputExists, match=r"a\.csv: already exists; replace it with --force, or write to a new"
    ):
        api.export_segment("everyone", str(out), "csv", "email", store_db)
    assert out.read_text() == "old content\n"
    api.export_segment("everyone", str(out), "csv", "email", store_db, force=True)
    assert out.read_text().startswith("customer_id,email,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "crm-winback-exports.json"]
    with pytest.raises(InputError, match="does not exist"):
        api.export_segment("everyone", str(tmp_path / "no" / "a.csv"), "csv", "email", store_db)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@x", "'@x"), ("\tx", "'\tx"),
     ("\rx", "'\rx"), ("-Smith", "'-Smith"), ("Ann", "Ann"), ("a=b", "a=b"), ("", ""),
     # plain values stay as they are: importers need them unchanged
     ("+1", "+1"), ("-5.00", "-5.00"), ("+447700900123", "+447700900123"), ("+eve@shop.test", "+eve@shop.test")],
)  # fmt: skip
def test_formula_cells_are_neutralised(text: str, expected: str) -> None:
    assert neutralise(text) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (415) 555-0101", None, "+14155550101"),
        ("0044 7700 900123", None, "+447700900123"),
        ("415-555-0101", None, None),  # national number, no country to complete it
        ("415-555-0101", "US", "+14155550101"),
        ("1 415 555 0101", "us", "+14155550101"),
        ("07700 900123", "GB", "+447700900123"),
        ("0412 345 678", "AU", "+61412345678"),
        ("12345", "US", None),
        ("call me", "US", None),
        ("+0123456789", None, None),
        ("", "US", None),
    ],
)
def test_phone_numbers_become_e164(raw: str, country: str | None, expected: str | None) -> None:
    assert to_e164(raw, country) == expected


def test_suppression_file_without_a_header_is_one_address_per_line(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("A@B.test\n+1 415 555 0101\n07700 900123\n")
    assert read_suppression(f, "GB") == {"a@b.test", "+14155550101", "+447700900123"}


def test_unknown_default_country_is_an_input_error(store_db: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--default-country XX: unknown"):
        api.export_segment("everyone", str(tmp_path / "x.csv"), "csv", "sms", store_db, default_country="XX")


CONSENT_ORDERS = """order_id,customer_id,order_date,amount,email,phone,accepts_email_marketing,accepts_sms_marketing
o1,acct-ana,2024-03-01,50,ana@x.test,+44 7700 900123,yes,yes
o2,guest-9,2024-05-01,20,Ana@X.test ,07700 900123,no,no
o3,acct-bob,2024-04-01,30,bob@x.test,,yes,
o4,guest-7,2024-01-01,10,BOB@x.test,,no,
o5,acct-cy,2024-02-01,30,cy@x.test,,yes,
o6,guest-5,2024-02-01,10,cy@x.test,,no,
"""


@pytest.fixture(scope="module")
def consent_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("consent")
    (folder / "orders.csv").write_text(CONSENT_ORDERS, encoding="utf-8")
    db = str(folder / "store.duckdb")
    api.save_snapshot_file(str(folder / "orders.csv"), db_path=db)
    accounts = {
        "rules": [{"field": "customer_id", "operator": "in", "value": ["acct-ana", "acct-bob", "acct-cy"]}]
    }
    api.define_segment("accounts", accounts, db_path=db)
    return db


def test_an_address_that_opted_out_later_under_another_customer_id_is_left_out(
    consent_db: str, tmp_path: Path
) -> None:
    # ana opted in as acct-ana on 03-01 and out as guest-9 on 05-01 (guest-9 is not in the segment): out.
    # bob opted out as guest-7 on 01-01 and in as acct-bob on 04-01: the later yes wins. cy said yes and no
    # on the same day under two ids: no wins.
    out = tmp_path / "email.csv"
    result = api.export_segment("accounts", str(out), "csv", "email", consent_db)
    assert [r["email"] for r in _read(out)] == ["bob@x.test"]
    assert {e.reason: e.customers for e in result.excluded} == {
        "opted out of email (under another customer id with the same address)": 2
    }


def test_sms_consent_is_judged_per_e164_number_across_customer_ids(consent_db: str, tmp_path: Path) -> None:
    # +44 7700 900123 and 07700 900123 (GB) are one number; its latest answer (guest-9, 05-01) is no
    out = tmp_path / "sms.csv"
    result = api.export_segment("accounts", str(out), "csv", "sms", consent_db, default_country="GB")
    assert result.exported == 0
    assert {e.reason: e.customers for e in result.excluded}[
        "opted out of SMS (under another customer id with the same address)"
    ] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a Mobile column was skipped (only "mail"/"phone" headers were read): people who texted STOP got SMS
        ("Email,Mobile,Reason\n,+44 7700 900123,STOP\n", {"+447700900123"}),
        # "Name <address>" and mailto: were kept whole and never matched an address
        ('Subscriber,Date\n"Ana <Ana@X.test>",2024-01-02\nmailto:bob@x.test,2024-01-03\n', {"ana@x.test", "bob@x.test"}),
        # a semicolon file was read as one column: "ana@x.test;unsub" matched nobody
        ("email;reason\nana@x.test;unsub\n", {"ana@x.test"}),
        ("Email,Phone Number,Reason\nC05@shop.test,,unsubscribed\n,+14155550109,stop\n", {"c05@shop.test", "+14155550109"}),
        ("07700 900123\n", {"+447700900123"}),  # no header, national number
        ("Email\n", set()),  # nobody unsubscribed yet
    ],
)  # fmt: skip
def test_suppression_files_as_shops_export_them(tmp_path: Path, text: str, expected: set[str]) -> None:
    f = tmp_path / "s.csv"
    f.write_text(text, encoding="utf-8")
    assert read_suppression(f, "GB") == expected


def test_a_suppression_file_without_any_address_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    f.write_text("customer,date\nAna,2024-01-02\n", encoding="utf-8")
    with pytest.raises(InputError, match="no email address or phone number found in it"):
        read_suppression(f, "GB")


def test_a_suppressed_audience_is_never_exported_again_without_its_suppression(
    store_db: str, tmp_path: Path
) -> None:
    first = tmp_path / "everyone.csv"
    api.export_segment("everyone", str(first), "csv", "email", store_db, suppression_file=_suppress(store_db))
    before = first.read_text()
    # the same file with --force, or a new name in the same folder: both would mail c05 (unsubscribed) again
    for target, force in ((first, True), (tmp_path / "everyone-2.csv", False)):
        with pytest.raises(InputError) as exc:
            api.export_segment("Everyone", str(target), "csv", "email", store_db, force=force)
        assert str(exc.value) == (
            f"everyone (email) was exported to {first} with the suppression list suppress.csv; export it "
            "again with --suppress FILE (that list or a newer one): without it the unsubscribed would be back "
            "in the audience"
        )
    assert first.read_text() == before and not (tmp_path / "everyone-2.csv").exists()
    again = api.export_segment("everyone", str(first), "csv", "email", store_db, suppression_file=_suppress(store_db),
                               force=True)  # fmt: skip
    assert again.exported == 3 and first.read_text() == before  # c01, c08, c09 (c05 suppressed)
    # another channel has its own suppression history
    sms = api.export_segment(
        "everyone", str(tmp_path / "sms.csv"), "csv", "sms", store_db, default_country="GB"
    )
    assert sms.output is not None


def test_lapsed_vip_definition_is_shown_and_a_dry_run_writes_nothing(store_db: str, tmp_path: Path) -> None:
    out = tmp_path / "lapsed-vip.csv"
    result = api.export_segment("lapsed-vip", str(out), "csv", "email", store_db, dry_run=True)
    assert (
        result.output is None and not out.exists() and result.candidates == 0
    )  # every customer has one order
    assert result.definition == (
        "lapsed-vip (prebuilt): lapsed VIPs - by the VIP stage's measure (2+ orders, top 10% of net spend among "
        "all customers) and now lapsed (2 to 4 repurchase cycles without an order); rules: lifecycle_stage = "
        "lapsed AND orders >= 2 AND total_spent in the top 10% of the snapshot's customers; snapshot 1 as of "
        "2024-03-10"
    )
    vip = api.export_segment("VIP", str(out), "csv", "email", store_db, dry_run=True)
    assert vip.definition.startswith(
        "VIP (lifecycle stage): lifecycle stage VIP; rules: lifecycle_stage = VIP;"
    )


def test_cli_export_prints_the_definition_and_refuses_to_overwrite(
    store_db: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from crm_winback.cli import main

    out = tmp_path / "e.csv"
    assert main(["export", "everyone", "-o", str(out), "--db", store_db]) == 0
    assert capsys.readouterr().out.startswith(
        "definition: everyone (user): rules: orders >= 1; snapshot 1 as of"
    )
    assert main(["export", "everyone", "-o", str(out), "--db", store_db]) == 2
    err = capsys.readouterr().err
    assert err == (f"crm-winback: error: {out}: already exists (an earlier export of everyone, 4 rows); replace it "
                   "with --force, or write to a new name\n")  # fmt: skip
    assert main(["export", "everyone", "-o", str(out), "--db", store_db, "--force"]) == 0
