"""The same orders written every way an export arrives must give the same numbers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from crm_winback.api import profile_file
from crm_winback.ingest import IngestOptions

from .paths import TODAY

ROWS = [
    ("1001", "A", "2024-01-05", "1234.50"),
    ("1002", "A", "2024-02-13", "80.00"),
    ("1003", "B", "2024-03-01", "-"),  # replaced per format below
    ("1004", "Zoë", "2024-03-02", "15.25"),
]
EXPECTED = (4, 3, 1364.75)  # orders, customers, net revenue (1003 is 35.00)


def _rows(amounts: list[str], dates: list[str] | None = None) -> list[tuple[str, str, str, str]]:
    return [
        (o, c, (dates or [d for _, _, d, _ in ROWS])[i], amounts[i]) for i, (o, c, _, _) in enumerate(ROWS)
    ]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _csv(rows: list[tuple[str, ...]], delim: str, header: str = "order_id,customer,date,total") -> str:
    return "\n".join([header.replace(",", delim)] + [delim.join(r) for r in rows]) + "\n"


def _numbers(path: Path, **opts: str) -> tuple[int, int, float | None]:
    q = profile_file(path, IngestOptions(today=TODAY, **opts))  # type: ignore[arg-type]
    return q.orders, q.customers, q.net_revenue


PLAIN = ["1234.50", "80.00", "35.00", "15.25"]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters(tmp_path: Path, delim: str) -> None:
    assert _numbers(_write(tmp_path / "o.csv", _csv(_rows(PLAIN), delim))) == EXPECTED


def test_runs_of_whitespace_with_crlf(tmp_path: Path) -> None:
    text = "order_id   customer  date        total\r\n" + "".join(
        f" {o}   {c}   {d.replace('-', '')}   {a}\r\n" for o, c, d, a in _rows(PLAIN)
    )
    assert _numbers(_write(tmp_path / "o.txt", text)) == EXPECTED


def test_decimal_comma_with_euro_sign_and_thousands_dots(tmp_path: Path) -> None:
    amounts = ["1.234,50 €", "80,00 €", "35,00 €", "15,25 €"]
    q = profile_file(_write(tmp_path / "o.csv", _csv(_rows(amounts), ";")), IngestOptions(today=TODAY))
    assert (q.orders, q.customers, q.net_revenue, q.currency) == (*EXPECTED, "EUR")
    assert q.money_format is not None and "decimal comma" in q.money_format


def test_dollar_signs_thousands_commas_and_parenthesised_negative(tmp_path: Path) -> None:
    rows = [*_rows(['"$1,234.50"', "$80.00", "$35.00", "$15.25"]), ("1005", "B", "2024-03-03", "($5.00)")]
    q = profile_file(_write(tmp_path / "o.csv", _csv(rows, ",")), IngestOptions(today=TODAY))
    # the negative document is a return: not an order, but it lowers net revenue
    assert (q.orders, q.net_revenue, q.returns, q.currency) == (4, 1359.75, -5.0, "USD")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "latin-1"])
def test_encodings_are_detected_not_mangled(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path / "o.csv", _csv(_rows(PLAIN), ","), encoding)
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.orders, q.customers, q.net_revenue) == EXPECTED
    con = duckdb.connect()
    assert q.mapping["customer"] == "customer"
    con.close()


def test_cp1252_euro_sign_survives(tmp_path: Path) -> None:
    amounts = ["1234,50 €", "80,00 €", "35,00 €", "15,25 €"]
    path = _write(tmp_path / "o.csv", _csv(_rows(amounts), ";"), "cp1252")
    q = profile_file(path, IngestOptions(today=TODAY))
    assert (q.orders, q.net_revenue, q.currency) == (4, 1364.75, "EUR")
    assert "cp1252" in q.file_format


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "o.csv.gz"
    path.write_bytes(gzip.compress(_csv(_rows(PLAIN), ",").encode()))
    assert _numbers(path) == EXPECTED


def test_parquet_json_and_ndjson(tmp_path: Path) -> None:
    records = [{"order_id": o, "customer": c, "date": d, "total": float(a)} for o, c, d, a in _rows(PLAIN)]
    (tmp_path / "o.json").write_text(json.dumps(records))
    (tmp_path / "o.ndjson").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_json('{tmp_path / 'o.json'}')) TO '{tmp_path / 'o.parquet'}' (FORMAT parquet)"
    )
    con.close()
    for name in ("o.json", "o.ndjson", "o.parquet"):
        assert _numbers(tmp_path / name) == EXPECTED, name


def test_day_first_dates_are_recognised_from_any_row(tmp_path: Path) -> None:
    dates = ["05/01/2024", "13/02/2024", "01/03/2024", "02/03/2024"]
    q = profile_file(_write(tmp_path / "o.csv", _csv(_rows(PLAIN, dates), ",")), IngestOptions(today=TODAY))
    assert q.date_format == "day/month/year" and "13" in q.date_format_reason
    assert (str(q.first_order_date), str(q.last_order_date)) == ("2024-01-05", "2024-03-02")


def test_month_first_dates_and_offsets(tmp_path: Path) -> None:
    dates = ["1/5/2024 10:00", "2/13/2024 11:30", "3/1/2024", "3/2/2024"]
    q = profile_file(_write(tmp_path / "o.csv", _csv(_rows(PLAIN, dates), ",")), IngestOptions(today=TODAY))
    assert q.date_format == "month/day/year"
    iso = ["2024-01-05 14:22:10 -0500", "2024-02-13T01:00:00+08:00", "2024-03-01", "2024-03-02 23:59:59"]
    q = profile_file(_write(tmp_path / "i.csv", _csv(_rows(PLAIN, iso), ",")), IngestOptions(today=TODAY))
    assert (str(q.first_order_date), str(q.last_order_date), q.orders) == ("2024-01-05", "2024-03-02", 4)


def test_headers_match_case_and_space_insensitively(tmp_path: Path) -> None:
    text = _csv(_rows(PLAIN), ",", header="Order Number,Customer ID,Created At,Order Total")
    q = profile_file(_write(tmp_path / "o.csv", text), IngestOptions(today=TODAY))
    assert q.mapping == {
        "customer": "Customer ID",
        "order_id": "Order Number",
        "date": "Created At",
        "amount": "Order Total",
    }


def test_a_cp1252_byte_after_the_first_megabyte_is_still_detected(tmp_path: Path) -> None:
    filler = "".join(f"{9000 + i},A,2024-01-05,1.00\n" for i in range(40000))  # > 1 MB of ASCII
    text = "order_id,customer,date,total\n" + filler + "1,Zoë,2024-02-01,2.50\n"
    path = _write(tmp_path / "o.csv", text, "cp1252")
    q = profile_file(path, IngestOptions(today=TODAY))
    # the one line that is not UTF-8 is decoded as cp1252, and counted
    assert (q.orders, q.customers, q.file_format) == (40001, 2, "CSV, comma-separated, cp1252")
    assert [(e.reason, e.rows) for e in q.exclusions] == [("text not UTF-8", 1)]


def test_a_sixty_megabyte_cell_is_refused_naming_its_row_and_cause(tmp_path: Path) -> None:
    from crm_winback.errors import InputError

    from .catalogue_gen import ingest_big_cell

    ingest_big_cell(tmp_path / "o.csv", megabytes=60, row=1)
    with pytest.raises(InputError) as caught:
        profile_file(tmp_path / "o.csv", IngestOptions(today=TODAY))
    message = str(caught.value)
    assert "row 1 is longer than 1 MB" in message and "never closed" in message and "\n" not in message


def test_two_digit_years_never_land_after_this_year(tmp_path: Path) -> None:
    # TODAY is 2026-11-23: 00-26 are 20xx, 27-99 are 19xx; 31/12/26 is then in the future (excluded)
    dates = ["31/12/99", "01/01/00", "15/01/26", "31/12/26"]
    q = profile_file(_write(tmp_path / "o.csv", _csv(_rows(PLAIN, dates), ",")), IngestOptions(today=TODAY))
    assert q.date_format_reason == (
        "a first number reaches 31, so it is the day; two-digit years 00-26 read as 20xx and 27-99 as 19xx, "
        "so that no date falls after 2026"
    )
    assert (str(q.first_order_date), str(q.last_order_date), q.orders) == ("1999-12-31", "2026-01-15", 3)
    assert [(e.reason, e.rows) for e in q.exclusions] == [("date in the future", 1)]


def test_two_digit_years_a_century_apart_are_refused(tmp_path: Path) -> None:
    from crm_winback.errors import InputError

    # 27 cannot be 2027 (after this year) and 1927 is 99 years before 2026: a typo or a misreading
    dates = ["31/12/25", "01/01/27", "15/01/26", "13/12/26"]
    with pytest.raises(InputError, match=r"from 1927 to 2026.*four-digit years"):
        profile_file(_write(tmp_path / "o.csv", _csv(_rows(PLAIN, dates), ",")), IngestOptions(today=TODAY))


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1.23456E+03", False, "1234.5600"),
        ("1.205e2", False, "120.5000"),
        ("2.5E-01", False, "0.2500"),
        ("1,5E+02", True, "150.0000"),
        ("\u221220.00", False, "-20.0000"),  # minus sign
        ("\u201320.00", False, "-20.0000"),  # en dash
        ("\u201420.00", False, "-20.0000"),  # em dash
        ("\uff0d20.00", False, "-20.0000"),  # full-width hyphen-minus
        ("\u2212$1,234.50", False, "-1234.5000"),
        ("20,00-", True, "-20.0000"),  # trailing minus
        ("$ -", False, "0.0000"),  # Excel accounting zero
        ("1\u00a0234,50 \u20ac", True, "1234.5000"),
        ("1E400", False, None),  # out of range: not a number we can hold, so the value is named as bad
    ],
)
def test_money_text_is_read_exactly(text: str, decimal_comma: bool, expected: str | None) -> None:
    from crm_winback.ingest.parse import MoneyFormat, money_sql

    con = duckdb.connect()
    sql = money_sql("v", MoneyFormat(decimal_comma, False, ()))
    row = con.execute(f"SELECT CAST({sql} AS VARCHAR) FROM (SELECT ? AS v)", [text]).fetchone()
    con.close()
    assert row is not None and row[0] == expected


def test_lines_does_not_import_load() -> None:
    # load builds on lines; the reverse import made a cycle (issue 13)
    import ast

    import crm_winback.ingest.lines as lines

    tree = ast.parse(Path(lines.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "load" not in imported and "crm_winback.ingest.load" not in imported


def test_a_character_cut_by_the_first_megabyte_does_not_trigger_the_slow_path(tmp_path: Path) -> None:
    from crm_winback.ingest.reader import open_source

    head = "order_id,customer,date,total\n" + "".join(f"{i},A,2024-01-05,1.00\n" for i in range(50000))
    head = head[: (1 << 20) - 200]
    head = head[: head.rindex("\n") + 1]
    pad = (1 << 20) - 1 - len(head.encode()) - len("9,")  # "ë" starts on the window's last byte
    text = head + "9," + "x" * pad + "ë,2024-01-06,2.00\n" + "10,B,2024-01-07,3.00\n"
    assert text.encode()[(1 << 20) - 1 : (1 << 20) + 1] == "ë".encode()
    source = open_source(_write(tmp_path / "o.csv", text))
    try:
        assert (source.normalised, source.encoding, source.fallback_lines) == (False, "utf-8", 0)
    finally:
        source.close()


def test_a_long_note_in_the_first_rows_is_read_and_the_csv_limit_is_put_back(tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    note = "n" * 300_000  # over Python's default csv field limit (131,072)
    text = f'customer,date,amount,note\nA,2024-01-01,10,"{note}"\nB,2024-01-02,5,ok\n'
    q = profile_file(_write(tmp_path / "o.csv", text), IngestOptions(today=TODAY))
    assert (q.customers, q.net_revenue) == (2, 15.0)
    assert csv.field_size_limit() == before
