"""The summary expression on Spark: a local[2] session here, a cluster through Spark Connect (``--spark-remote``).

The expression is compiled to Spark SQL by Ibis and run with ``spark.sql`` on a temporary view of the orders,
so only the per-customer summary leaves the cluster. The session's time zone is pinned to ``--timezone``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .dialects import _pyspark_options, check_timezone
from .require import require, require_java
from .summary import customer_summary

FEATURE = "--engine spark"


def spark_session(tz: str = "UTC", remote: str | None = None) -> Any:
    """A Spark session pinned to ``tz``: Spark Connect at ``remote``, else local[2] (which needs Java)."""
    sql = require("pyspark.sql", FEATURE)
    tz = check_timezone(tz)
    builder = sql.SparkSession.builder.appName("crm-winback").config("spark.sql.session.timeZone", tz)
    if remote:
        return builder.remote(remote).getOrCreate()
    require_java(FEATURE)
    return (
        builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")  # the default 200 is for clusters: ~4x slower here
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )


def summary_on_spark(
    spark: Any, view: str, mapping: Mapping[str, str], as_of: dt.date, tz: str = "UTC"
) -> Any:
    """The summary of the table or view ``view`` as a Spark DataFrame (lazy: write or collect it)."""
    ibis = require("ibis", FEATURE)
    from ibis.backends.sql.datatypes import PySparkType

    spark.conf.set("spark.sql.session.timeZone", check_timezone(tz))
    fields = spark.table(view).schema.fields
    schema = {f.name: PySparkType.from_string(f.dataType.simpleString()) for f in fields}
    _pyspark_options(ibis)
    expr = customer_summary(ibis.table(schema, name=view), mapping, as_of, tz)
    return spark.sql(str(ibis.to_sql(expr, dialect="pyspark")))
