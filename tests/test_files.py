"""Output files: CSV lines built in SQL give the bytes of DuckDB's own CSV writer, rows in order."""

from __future__ import annotations

import csv
from pathlib import Path

from crm_winback import workdb
from crm_winback.api import ingest_options, score_file
from crm_winback.files import copy_query, csv_field
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
