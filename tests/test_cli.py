"""The command line: exit codes, one-line errors naming the file/column/row, no half-written outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crm_winback import workdb
from crm_winback.cli import main

from .paths import DATA


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


BAD_INPUTS = [
    ("missing.csv", None, "file not found"),
    ("empty.csv", "", "the file is empty"),
    ("noheader.csv", "1,2024-01-01,10\n2,2024-01-02,20\n", "looks like data, not a header"),
    ("headeronly.csv", "customer,date,amount\n", "only a header line"),
    (
        "nocustomer.csv",
        "who,date,amount\nA,2024-01-01,10\nB,2024-01-02,5\n",
        "no customer column found among 'who', 'date', 'amount'; name it with --map customer=COLUMN",
    ),
    (
        "baddate.csv",
        "customer,date,amount\nA,2024-01-01,10\nB,2024-13-45x,5\n",
        "column 'date', row 2: cannot read '2024-13-45x'",
    ),
    (
        "badamount.csv",
        "customer,date,amount\nA,2024-01-01,10\nB,2024-01-02,ten\nC,2024-01-03,4\n",
        "column 'amount', row 2: cannot read 'ten' as an amount",
    ),
    (
        "mixed.csv",
        "customer,date,amount,currency\nA,2024-01-01,10,USD\nB,2024-01-02,5,EUR\n",
        "mixes currencies (EUR, USD); rerun with --currency EUR",
    ),
    (
        "allrefunded.csv",
        "customer,date,amount,status\nA,2024-01-01,10,refunded\nB,2024-01-02,5,voided\n",
        "no customer has a purchase to score on or before 2024-01-02 (refunded, voided or failed status: 2 rows)",
    ),
    (
        "ambiguous.csv",
        "customer,date,amount\nA,01/02/2024,10\nB,03/04/2024,5\n",
        "rerun with --date-format mdy or --date-format dmy",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        write(path, content)
    out_file = tmp_path / "scores.csv"
    code, out, err = run(["score", str(path), "-o", str(out_file)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err and str(path) in err
    assert "Traceback" not in err
    assert not out_file.exists()
    assert list(tmp_path.iterdir()) == ([path] if content is not None else [])


def test_mixed_currencies_pick_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path / "m.csv", "customer,date,amount,currency\nA,2024-01-01,10,USD\nB,2024-01-02,5,EUR\n"
    )
    code, out, _ = run(["profile", str(path), "--currency", "usd", "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["currency"] == "USD" and report["customers"] == 1
    assert report["exclusions"][0] == {
        "reason": "other currency",
        "rows": 1,
        "orders": 1,
        "action": "excluded",
        "note": "",
    }


def test_thresholds_file_with_a_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    thresholds = write(
        tmp_path / "t.yaml",
        """
recency_days:
  - {score: 5, from: 0, to: 31}
  - {score: 4, from: 31, to: 61}
  - {score: 3, from: 62, to: 91}
  - {score: 2, from: 91, to: 181}
  - {score: 1, from: 181, to: null}
orders_per_year:
  - {score: 1, from: 0, to: 2}
  - {score: 2, from: 2, to: 4}
  - {score: 3, from: 4, to: 8}
  - {score: 4, from: 8, to: 12}
  - {score: 5, from: 12, to: null}
net_spend:
  - {score: 1, from: 0, to: 50}
  - {score: 2, from: 50, to: 150}
  - {score: 3, from: 150, to: 300}
  - {score: 4, from: 300, to: 500}
  - {score: 5, from: 500, to: null}
""",
    )
    code, _, err = run(
        [
            "score",
            str(DATA / "small_orders.csv"),
            "--thresholds",
            str(thresholds),
            "-o",
            str(tmp_path / "s.csv"),
        ],
        capsys,
    )
    assert code == 2
    assert err.strip().endswith(
        "recency_days: score 4 ends at 61 but score 3 starts at 62; make each bin start where the previous one ends"
    )
    assert str(thresholds) in err and not (tmp_path / "s.csv").exists()


def test_segment_map_with_a_gap_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seg = write(
        tmp_path / "m.yaml",
        """
segments:
  - {name: Good, description: d, action: a}
rules:
  - {segment: Good, r: [2, 5], f: [1, 5], m: [1, 5]}
""",
    )
    code, _, err = run(["score", str(DATA / "small_orders.csv"), "--segment-map", str(seg)], capsys)
    assert code == 2 and "25 codes have no segment: 111, 112" in err


def test_map_override_and_unknown_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "o.csv", "Buyer,When,Paid\nA,2024-01-01,10\nA,2024-02-01,5\n")
    code, out, _ = run(
        ["profile", str(path), "--map", 'customer=Buyer,date="When",amount=Paid', "--format", "json"], capsys
    )
    assert code == 0 and json.loads(out)["mapping"] == {"customer": "Buyer", "date": "When", "amount": "Paid"}
    code, _, err = run(["profile", str(path), "--map", "client=Buyer"], capsys)
    assert code == 2 and "unknown role 'client'" in err


def test_score_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "s.parquet"
    code, out, _ = run(
        ["score", str(DATA / "small_orders.csv"), "-o", str(out_file), "--format", "json"], capsys
    )
    data = json.loads(out)
    assert code == 0 and data["scores_file"] == str(out_file) and out_file.exists()
    assert [r["group"] for r in data["scoring"]["scorecard"]["by_segment"]] == [
        "Potential Loyalist",
        "New Customers",
        "About to Sleep",
        "Hibernating",
    ]
    code, out, _ = run(
        ["score", str(DATA / "small_orders.csv"), "-o", str(tmp_path / "s.csv"), "--format", "markdown"],
        capsys,
    )
    assert code == 0 and "| Potential Loyalist | 2 | 40.0% | 400 |" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["score"], capsys)
    assert code == 2 and "no input" in err
    with pytest.raises(SystemExit) as exc:
        main(["score", "--method", "median"])
    assert exc.value.code == 2


def test_every_command_has_help_with_an_example() -> None:
    from crm_winback.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[attr-defined]
        assert command.description, name
        text = command.format_help()
        assert "xample" in text, f"crm-winback {name} --help has no example"


def test_console_script_runs_example(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crm_winback", "score", "--example", "cdnow", "-o", str(tmp_path / "c.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Champions" in proc.stdout and (tmp_path / "c.csv").stat().st_size > 1_000_000
    # the console script leaves without the interpreter's teardown: the whole of stdout still arrives
    command = [sys.executable, "-m", "crm_winback", "score", "--example", "cdnow"]
    json_run = subprocess.run(
        [*command, "-o", "c.csv", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert json.loads(json_run.stdout)["scoring"]["customers"] == 23570
    bad = subprocess.run(
        [sys.executable, "-m", "crm_winback", "score", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "missing.csv: file not found" in bad.stderr


def test_command_table_matches_what_each_module_registers() -> None:
    import importlib

    from crm_winback.cli import COMMAND_MODULES, build_parser

    for module, commands in COMMAND_MODULES.items():
        parser = build_parser(commands[0])
        sub = next(a for a in parser._actions if a.dest == "command")
        assert set(sub.choices) == set(commands), module  # type: ignore[attr-defined]
        assert importlib.import_module(f"crm_winback.cli.{module}")


def test_score_save_then_trend_against_the_previous_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.duckdb"
    small = DATA / "small_orders.csv"
    base = ["score", str(small), "--db", str(db), "-o", str(tmp_path / "s.csv")]
    code, out, err = run([*base, "--as-of", "2024-01-31", "--save"], capsys)
    assert code == 0 and "saved as snapshot 1 (as of 2024-01-31)" in err and "change in customers" not in out
    code, out, err = run([*base, "--save", "--format", "json"], capsys)
    data = json.loads(out)
    card = data["scoring"]["scorecard"]
    assert card["trend_from"] == "snapshot 1 (as of 2024-01-31)"
    # at 2024-01-31: A (1 order), C and F were customers; by 2024-03-12, B and D have joined
    assert [(r["group"], r["customers"], r["previous_customers"]) for r in card["by_segment"]] == [
        ("Potential Loyalist", 2, 0),
        ("New Customers", 1, 1),
        ("About to Sleep", 1, 1),
        ("Hibernating", 1, 1),
    ]
    assert card["total"]["previous_customers"] == 3
    assert data["snapshot"] == {"snapshot_id": 2, "as_of": "2024-03-12", "already_saved": False}
    code, out, err = run([*base, "--save"], capsys)
    assert "already saved as snapshot 2" in err and "↑ +2" in out


def test_memory_limit_setting_is_checked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_WINBACK_MEMORY_LIMIT", "lots")
    code, _, err = run(["profile", str(DATA / "small_orders.csv")], capsys)
    assert code == 2 and "CRM_WINBACK_MEMORY_LIMIT=lots: give an amount such as 1GB" in err
    monkeypatch.setenv("CRM_WINBACK_MEMORY_LIMIT", "512MB")
    code, _, _ = run(["profile", str(DATA / "small_orders.csv")], capsys)
    assert code == 0


def test_default_memory_limit_is_a_quarter_of_the_machine_at_least_1_gb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRM_WINBACK_MEMORY_LIMIT", raising=False)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 16 * 2**30 // 4096}  # a 16 GiB machine
    monkeypatch.setattr(workdb.os, "sysconf", lambda name: pages[name])
    assert workdb.memory_limit() == "4096MiB"
    pages["SC_PHYS_PAGES"] = 2 * 2**30 // 4096  # 2 GiB: the 1 GiB floor
    assert workdb.memory_limit() == "1024MiB"
    con = workdb.connect()
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("1.0 GiB",)
    con.close()
    monkeypatch.setenv("CRM_WINBACK_MEMORY_LIMIT", "3GB")
    assert workdb.memory_limit() == "3GB"


def test_a_bad_value_past_the_sampled_rows_is_still_named_with_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "".join(f"{i},C{i % 50},2024-01-{1 + i % 28:02d},{i % 90}.50\n" for i in range(1, 2501))
    path = write(tmp_path / "late.csv", "order_id,customer,date,amount\n" + good + "2501,C1,2024-02-01,ten\n")
    code, _, err = run(["profile", str(path)], capsys)
    assert code == 2 and "column 'amount', row 2501: cannot read 'ten' as an amount" in err


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("3", "3")])
def test_the_command_line_runs_blas_on_one_thread_unless_the_user_says_otherwise(
    given: str | None, expected: str
) -> None:
    """Set before NumPy loads, or it has no effect: OpenBLAS's idle threads spin between the fits' small
    products, and on two cores doubled their CPU-seconds. A user's own setting wins."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = (
        "import os, sys; import crm_winback.cli; "
        "print('numpy' in sys.modules, os.environ['OPENBLAS_NUM_THREADS'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert out.stdout.split() == ["False", expected]
