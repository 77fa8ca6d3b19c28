"""The Ibis summary through Spark local[2] equals today's local DuckDB SQL on CDNOW and Online Retail.

Skipped only where PySpark or Java is absent and CI is not set; on CI (.ci/run installs both) that fails.
One Spark session serves the module (it starts in ~15 s).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .engines_support import (
    assert_same_summary,
    datasets,
    engine_rows,
    local_summary,
    need_engine,
    typed_table,
)

SPARK_DATA = [d for d in datasets() if d.name in ("cdnow", "online_retail")]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    need_engine(importlib.util.find_spec("pyspark") is not None, "PySpark")
    need_engine(shutil.which("java") is not None, "Java")
    from crm_winback.engines.spark import spark_session

    session = spark_session("UTC")
    yield session
    session.stop()


@pytest.mark.slow
@pytest.mark.parametrize("data", SPARK_DATA, ids=lambda d: d.name)
def test_ibis_summary_on_spark_equals_the_local_sql(spark: Any, data: Any, tmp_path: Path) -> None:
    from crm_winback.engines.spark import summary_on_spark

    con = duckdb.connect()
    typed_table(con, data)
    parquet = tmp_path / "orders.parquet"
    con.execute(f"COPY orders TO '{parquet}' (FORMAT parquet)")
    spark.read.parquet(str(parquet)).createOrReplaceTempView("orders")
    rows = [tuple(r) for r in summary_on_spark(spark, "orders", data.mapping, data.as_of).collect()]
    assert_same_summary(local_summary(data), engine_rows(rows))


def test_without_java_spark_is_refused_in_one_line_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_winback.engines import require as req
    from crm_winback.errors import InputError

    monkeypatch.setattr(req.shutil, "which", lambda name: None)
    with pytest.raises(InputError) as info:
        req.require_java("--engine spark")
    assert "\n" not in str(info.value) and "default-jre-headless" in str(info.value)


def test_a_missing_extra_is_one_line_naming_what_to_install() -> None:
    from crm_winback.engines.require import require
    from crm_winback.errors import InputError

    with pytest.raises(InputError) as info:
        require("pyspark_not_installed_here", "--engine spark")
    assert str(info.value).startswith(
        "--engine spark needs pyspark_not_installed_here, which is not installed"
    )
    assert "\n" not in str(info.value)


CDNOW_MAP = "customer=customer_id,date=date,amount=dollar_value"


@pytest.mark.slow
def test_score_engine_spark_gives_the_local_scores_file_on_cdnow(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of Parquet files through Spark: the same scores bytes as `crm-winback score` on the text file, and
    with --predict (Spark builds the backtest part at the split too) as `crm-winback score --predict`."""
    from crm_winback.cli import main

    data = next(d for d in SPARK_DATA if d.name == "cdnow")
    folder = tmp_path / "orders"
    folder.mkdir()
    con = duckdb.connect()
    typed_table(con, data)
    for half, where in enumerate(("customer_id < '10000'", "customer_id >= '10000'")):
        con.execute(
            f"COPY (SELECT * FROM orders WHERE {where}) TO '{folder}/part-{half}.parquet' (FORMAT parquet)"
        )
    on_spark, local = tmp_path / "spark.parquet", tmp_path / "local.parquet"
    assert (
        main(
            [
                "score",
                str(folder),
                "--engine",
                "spark",
                "--map",
                CDNOW_MAP,
                "-o",
                str(on_spark),
                "--format",
                "json",
            ]
        )
        == 0
    )
    quality = json.loads(capsys.readouterr().out)["quality"]
    assert main(["score", str(data.path), "--as-of", "1998-06-30", "-o", str(local), "--format", "json"]) == 0
    assert on_spark.read_bytes() == local.read_bytes()
    # the as-of date is chosen as locally (the latest order date), and the pinned time zone is stated
    assert (quality["as_of"], quality["as_of_reason"]) == (
        "1998-06-30",
        "the latest order date (set another with --as-of)",
    )
    assert quality["customers"] == 23570 and quality["orders"] == 69659  # crm-winback profile on CDNOW
    assert quality["notes"][0].startswith("built on Spark local[2] with the session time zone pinned to UTC")

    capsys.readouterr()  # the local run's JSON
    predicted = {"spark": tmp_path / "spark_predict.csv", "local": tmp_path / "local_predict.csv"}
    spark_args = ["score", str(folder), "--engine", "spark", "--map", CDNOW_MAP, "--predict"]
    assert main([*spark_args, "-o", str(predicted["spark"]), "--format", "json"]) == 0
    spark_json = json.loads(capsys.readouterr().out)
    local_args = ["score", str(data.path), "--as-of", "1998-06-30", "--predict", "--format", "json"]
    assert main([*local_args, "-o", str(predicted["local"])]) == 0
    local_json = json.loads(capsys.readouterr().out)
    assert predicted["spark"].read_bytes() == predicted["local"].read_bytes()
    assert spark_json["scoring"]["predictions"] == local_json["scoring"]["predictions"]


@pytest.mark.slow
def test_score_engine_spark_takes_dates_in_the_pinned_time_zone(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """03:30 UTC on 1 January is still 31 December in New York: --timezone decides the first order's date (the
    local reader, and Spark in UTC, take 2024-01-01). The CSV is read as text, so the id 007 keeps its zeros.
    A value Spark cannot cast fails the run in one line (ANSI casts: never a silent NULL)."""
    from crm_winback.cli import main

    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer,created_at,total\n007,2024-01-01T03:30:00Z,10\n007,2024-02-10T12:00:00Z,20\n"
        "B,2024-03-01T12:00:00Z,5\n"
    )
    out = tmp_path / "scores.csv"
    args = ["score", str(orders), "--engine", "spark", "--timezone", "America/New_York", "-o", str(out)]
    assert main([*args, "--format", "json"]) == 0
    quality = json.loads(capsys.readouterr().out)["quality"]
    assert quality["mapping"] == {"customer": "customer", "date": "created_at", "amount": "total"}
    assert "time zone pinned to America/New_York" in quality["notes"][0]
    rows = {r["customer_id"]: r for r in csv.DictReader(out.read_text().splitlines())}
    assert {k: r["first_order_date"] for k, r in rows.items()} == {"007": "2023-12-31", "B": "2024-03-01"}

    orders.write_text("customer,created_at,total\nA,05/01/2024,10\n")
    assert main(["score", str(orders), "--engine", "spark", "-o", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"crm-winback: error: {orders}: Spark cannot read it: [CAST_INVALID_INPUT] The value '05/01/2024' of "
        'the type "STRING" cannot be cast to "TIMESTAMP"; write dates as YYYY-MM-DD'
    )
    assert err.count("\n") == 1 and not (tmp_path / "bad.csv").exists()


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        (
            "pyspark",
            "--engine spark needs pyspark, which is not installed: pip install 'crm-segment-winback[spark]'",
        ),
        ("java", "--engine spark needs a Java runtime (17 or later) on PATH"),
    ],
)
def test_score_engine_spark_without_pyspark_or_java_names_what_to_install(
    missing: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from crm_winback.cli import main
    from crm_winback.engines import require as req

    if missing == "pyspark":
        monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import pyspark.sql raises ImportError
    else:
        need_engine(importlib.util.find_spec("pyspark") is not None, "PySpark")
        monkeypatch.setattr(req.shutil, "which", lambda name: None)
    orders = tmp_path / "orders.csv"
    orders.write_text("customer,date,amount\nA,2024-01-01,10\n")
    assert main(["score", str(orders), "--engine", "spark", "-o", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crm-winback: error: {expected}")
    assert err.count("\n") == 1 and not (tmp_path / "s.csv").exists()
