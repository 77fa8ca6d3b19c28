"""score_customers on a per-customer summary file and its gap histogram: the CLI's ``score --summary`` result.

The summary and the gap histogram of CDNOW are built by the Ibis expressions on DuckDB (as in
tests/test_score_summary.py) into the server's working folder; the CLI and the server must give the same
numbers and the same scores bytes, because both call ``api.score_summary_file``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crm_winback.cli import main

from .mcp_support import call, error_text, ok, server_in
from .test_score_summary import _dataset, _export

pytest.importorskip("ibis")


def _work(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    _export(_dataset("cdnow"), work, ".parquet")
    return work


def test_mcp_summary_result_is_the_cli_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = _work(tmp_path)
    summary, gaps = work / "crm_summary.parquet", work / "crm_gaps.parquet"
    cli_scores = tmp_path / "cli-scores.csv"
    args = [
        "score",
        "--summary",
        str(summary),
        "--gaps",
        str(gaps),
        "--method",
        "quantile",
        "--format",
        "json",
    ]
    assert main([*args, "-o", str(cli_scores)]) == 0
    from_cli = json.loads(capsys.readouterr().out)

    arguments = {"summary": "crm_summary.parquet", "gaps": "crm_gaps.parquet", "method": "quantile"}
    result = ok(call(server_in(work), "score_customers", arguments))
    out = work / "crm-winback-out"
    assert result["scores_file"] == str(out / "crm_summary-scores.csv")
    assert result["summary_file"] == str(out / "crm_summary-scores.json")
    assert result["quality"] == from_cli["quality"]
    assert result["scoring"] == from_cli["scoring"]
    assert (out / "crm_summary-scores.csv").read_bytes() == cli_scores.read_bytes()
    # CDNOW as of 1998-06-30: 23,570 customers, the shop cycle 34 days from the histogram (crm-winback profile)
    assert result["scoring"]["customers"] == 23570
    assert result["quality"]["median_days_between_orders"] == 34.0
    assert result["quality"]["layout"] == "summary"


def test_a_bad_summary_file_is_a_tool_error_naming_the_file_and_column(tmp_path: Path) -> None:
    work = _work(tmp_path)
    header = (
        "customer_id,first_order_date,last_order_date,orders,purchase_days,gross_total,net_total,"
        "median_days_between,x,t_x,T,repeat_value,litt,email,phone,first_name,last_name,email_consent,"
        "sms_consent\n"
    )
    (work / "bad.csv").write_text(
        header + "A,2024-01-01,2024-03-01,three,3,30.00,30.00,30.0,2,60,181,20.00,6.8,,,,,,\n"
    )
    (work / "gaps.csv").write_text("gap_days,n\n29,1\n31,1\n")
    server = server_in(work)
    text = error_text(call(server, "score_customers", {"summary": "bad.csv", "gaps": "gaps.csv"}))
    assert text == (
        f"summary {work / 'bad.csv'}: row 1, column orders: a value is not a BIGINT; export the summary "
        "query's result without changing its columns' types"
    )
    assert "three" not in text  # a cell of the file is never quoted to the model
    (work / "short.csv").write_text("customer_id,first_order_date\nA,2024-01-01\n")
    text = error_text(call(server, "score_customers", {"summary": "short.csv", "gaps": "gaps.csv"}))
    assert text.startswith(f"summary {work / 'short.csv'}: no column last_order_date;")
    # the server reads only inside its folders, as for file=
    outside = tmp_path / "elsewhere.parquet"
    shutil.copy(work / "crm_summary.parquet", outside)
    text = error_text(call(server, "score_customers", {"summary": str(outside), "gaps": "gaps.csv"}))
    assert "outside the folders this server may read" in text
    assert not (work / "crm-winback-out").exists()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"summary": "crm_summary.parquet"}, "summary needs gaps FILE too"),
        ({"gaps": "crm_gaps.parquet"}, "gaps goes with summary"),
        (
            {"summary": "crm_summary.parquet", "gaps": "crm_gaps.parquet", "example": "cdnow"},
            "summary: file or example cannot go with it",
        ),
        (
            {"summary": "crm_summary.parquet", "gaps": "crm_gaps.parquet", "currency": "USD"},
            "summary: column_map, currency or date_format cannot go with it",
        ),
        (
            {"summary": "crm_summary.parquet", "gaps": "crm_gaps.parquet", "predict": True},
            "predict with summary: the backtest needs",
        ),
        (
            {"summary": "crm_summary.parquet", "gaps": "crm_gaps.parquet", "as_of": "1998-07-01"},
            "as_of 1998-07-01: the summary was built as of 1998-06-30",
        ),
    ],
)
def test_summary_refusals_name_the_tool_arguments(
    tmp_path: Path, arguments: dict[str, object], expected: str
) -> None:
    work = _work(tmp_path)
    assert expected in error_text(call(server_in(work), "score_customers", arguments))
    assert not (work / "crm-winback-out" / "crm_summary-scores.csv").exists()
