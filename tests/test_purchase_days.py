"""A large file's purchase days are grouped in parts, a set of customers per part (predict.summary.purchase_days:
at 10M lines four parts took the build's peak memory from ~1.0 GB above the tables to ~0.5 GB). The parts must
change nothing: the same days, the same scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_winback.api import example_path, score_file
from crm_winback.ingest import load_orders
from crm_winback.predict import summary
from crm_winback.scoring import ScoreOptions

CDNOW_LINES = 69_659  # the CDNOW master file's order lines (../shared/data/cdnow)


@pytest.mark.parametrize("part_rows", [20_000, 7_000])
def test_purchase_days_in_parts_are_the_days_of_one_part(
    monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    found = {}
    for rows in (10**9, part_rows):
        monkeypatch.setattr(summary, "DAY_PART_ROWS", rows)
        ingested = load_orders(example_path("cdnow"))
        try:
            assert summary._day_parts(ingested.con) == -(-CDNOW_LINES // rows)
            table = summary.purchase_days(ingested.con)
            found[rows] = ingested.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        finally:
            ingested.close()
    assert len(found[10**9]) > 60_000 and found[part_rows] == found[10**9]


def test_scores_with_predictions_do_not_depend_on_the_parts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    written = {}
    for rows in (10**9, 20_000):  # one part; four parts
        monkeypatch.setattr(summary, "DAY_PART_ROWS", rows)
        out = tmp_path / f"scores-{rows}.csv"
        score_file(example_path("cdnow"), score_options=ScoreOptions(predict=True), output=out)
        written[rows] = out.read_bytes()
    assert written[20_000] == written[10**9]
