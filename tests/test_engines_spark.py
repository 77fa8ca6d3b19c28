"""The Ibis summary through Spark local[2] equals today's local DuckDB SQL on CDNOW and Online Retail.

Skipped only where PySpark or Java is absent and CI is not set; on CI (.ci/run installs both) that fails.
One Spark session serves the module (it starts in ~15 s).
"""

from __future__ import annotations

import importlib.util
import shutil
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
