"""The summary expression on Spark: a local[2] session here, a cluster through Spark Connect (``--spark-remote``).

The expression is compiled to Spark SQL by Ibis and run with ``spark.sql`` on a temporary view of the orders,
so only the per-customer summary and the gap histogram leave Spark (written as Parquet to a local temporary
folder, or collected to Arrow from a cluster); scoring then runs locally on them, as ``score --summary`` does.
The session's time zone is pinned to ``--timezone``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .contract import ROLES
from .dialects import _pyspark_options, check_timezone
from .require import require, require_java
from .summary import check_mapping, latest_order_date, part_expression

FEATURE = "--engine spark"
VIEW = "crm_winback_orders"
# roles the local reader honours that the summary expression has no rule for: named in the result's notes
_NOT_APPLIED = {
    "status": "cancelled or refunded statuses",
    "cancelled_at": "cancellation dates",
    "currency": "currencies",
}


def spark_session(tz: str = "UTC", remote: str | None = None) -> Any:
    """A Spark session pinned to ``tz``: Spark Connect at ``remote``, else local[2] (which needs Java)."""
    sql = require("pyspark.sql", FEATURE)
    tz = check_timezone(tz)
    builder = sql.SparkSession.builder.appName("crm-winback").config("spark.sql.session.timeZone", tz)
    if remote:
        try:
            return _quiet(builder.remote(remote).getOrCreate())
        except ImportError as exc:  # PySpark's own: the Connect client's packages are missing
            raise InputError(
                f"--spark-remote {remote}: Spark Connect's client is not installed ({_first_line(exc)}); "
                "pip install 'pyspark[connect]'"
            ) from None
    require_java(FEATURE)
    session = (
        builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # progress bars would fill the CLI's stderr
        .config("spark.sql.shuffle.partitions", "4")  # the default 200 is for clusters: ~4x slower here
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")  # a failure is our one line, not the JVM's stack traces
    return _quiet(session)


def _quiet(session: Any) -> Any:
    """PySpark logs a failed query's error to stderr as JSON before raising it; the raised error is enough."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
    return session


def summary_on_spark(
    spark: Any,
    view: str,
    mapping: Mapping[str, str],
    as_of: dt.date,
    tz: str = "UTC",
    part: str = "summary",
    calibration_end: dt.date | None = None,
) -> Any:
    """The summary (``part`` "summary"), the gap histogram ("gaps") or the backtest part at ``calibration_end``
    ("backtest") of the table or view ``view`` as a Spark DataFrame (lazy: write or collect it)."""
    ibis = require("ibis", FEATURE)
    spark.conf.set("spark.sql.session.timeZone", check_timezone(tz))
    return spark.sql(
        _compiled(ibis, spark, view, lambda t: part_expression(t, part, mapping, as_of, tz, calibration_end))
    )


def _compiled(ibis: Any, spark: Any, view: str, build: Any) -> str:
    from ibis.backends.sql.datatypes import PySparkType

    fields = spark.table(view).schema.fields
    schema = {f.name: PySparkType.from_string(f.dataType.simpleString()) for f in fields}
    _pyspark_options(ibis)
    return str(ibis.to_sql(build(ibis.table(schema, name=view)), dialect="pyspark"))


@dataclass
class SparkSummary:
    """The two contract parts Spark built, as local Parquet files, and what was read to build them."""

    summary: Path
    gaps: Path
    as_of: dt.date
    as_of_given: bool
    mapping: dict[str, str]
    where: str  # "Spark local[2]" or the Spark Connect address
    source: str  # the path or table read
    notes: list[str] = field(default_factory=list)
    # builds the backtest part at a calibration end on the same Spark session, as a local Parquet file
    backtest: Callable[[dt.date], Path] | None = None


@contextlib.contextmanager
def spark_summary(
    source: str | None,
    table: str | None,
    column_map: Mapping[str, str],
    as_of: dt.date | None,
    tz: str = "UTC",
    remote: str | None = None,
    today: dt.date | None = None,
) -> Iterator[SparkSummary]:
    """Build the summary and the gap histogram of ORDERS (``source``: a CSV or Parquet file or a folder of
    Parquet files; or, on a cluster, the catalog table ``table``) on Spark, and yield them as local Parquet
    files, deleted afterwards. The mapping is ``column_map`` over the columns found by their usual names, as
    the local reader maps them; without ``as_of``, the latest order date is the as-of date, as locally."""
    tz = check_timezone(tz)
    if table and not remote:
        raise InputError(
            f"--table {table}: a table in a cluster's catalog needs --spark-remote sc://HOST:15002; to read "
            "files locally give the orders' path instead"
        )
    if bool(table) == bool(source):
        raise InputError(
            "--engine spark: give the orders FILE or folder, or --table NAME with --spark-remote, not both"
            if table
            else "--engine spark: no input; give the orders FILE (CSV or Parquet) or a folder of Parquet files"
        )
    if source and not remote and not Path(source).exists():
        raise InputError(f"{source}: file not found; check the path (relative paths start from {Path.cwd()})")
    spark = spark_session(tz, remote)
    pyspark_errors = require("pyspark.errors", FEATURE)
    what = table or source or ""
    try:
        _orders_view(spark, source, table)
        mapping, notes = resolve_mapping(spark.table(VIEW).columns, column_map, what)
        given = as_of is not None
        if as_of is None:
            as_of = _latest(spark, mapping, today or dt.date.today(), what)
        with tempfile.TemporaryDirectory(prefix="crm-winback-spark-") as tmp:
            parts = [
                _fetch(summary_on_spark(spark, VIEW, mapping, as_of, tz, part), Path(tmp) / part, remote)
                for part in ("summary", "gaps")
            ]
            if _empty(parts[0]):
                raise InputError(
                    f"{what}: no customer has a purchase on or before {as_of}; check --as-of and the --map of "
                    "customer and date"
                )
            found_as_of = as_of

            def backtest(end: dt.date) -> Path:
                frame = summary_on_spark(spark, VIEW, mapping, found_as_of, tz, "backtest", end)
                return _fetch(frame, Path(tmp) / "backtest", remote)

            yield SparkSummary(
                parts[0], parts[1], as_of, given, mapping, remote or "Spark local[2]", what, notes, backtest
            )
    except pyspark_errors.PySparkException as exc:
        raise InputError(f"{what}: {_spark_message(exc)}") from None


def resolve_mapping(
    columns: list[str], column_map: Mapping[str, str], what: str
) -> tuple[dict[str, str], list[str]]:
    """The roles of the orders' columns as the local reader finds them (``--map`` first, then the usual
    names), kept to the roles the summary expression uses; the notes name the found roles it cannot apply."""
    from ..ingest.mapping import detect_layout, map_columns

    found = map_columns(list(columns), column_map, detect_layout(columns), what)
    if "amount" not in column_map and ("quantity" in column_map or "unit_price" in column_map):
        found.pop("amount", None)
    if "amount" in found:  # an order's value is its amount: quantity and price found beside it are not needed
        for role in ("quantity", "unit_price"):
            if role not in column_map:
                found.pop(role, None)
    notes = [
        f"column {found[role]} ({role}) is not applied on Spark: {_NOT_APPLIED[role]} are not excluded; filter "
        "the orders in a view first, or score the file without --engine spark"
        for role in _NOT_APPLIED
        if role in found
    ]
    mapping = {role: col for role, col in found.items() if role in ROLES}
    return check_mapping(mapping, list(columns), what), notes


def _orders_view(spark: Any, source: str | None, table: str | None) -> None:
    """ORDERS as the temporary view VIEW: a catalog table, a folder of Parquet files, a Parquet or CSV file."""
    if table:
        frame = spark.table(table)
    else:
        assert source is not None
        name = source.lower().rstrip("/")
        if name.endswith(".parquet") or (not name.endswith((".csv", ".csv.gz")) and Path(source).is_dir()):
            frame = spark.read.parquet(source)
        elif name.endswith((".csv", ".csv.gz")):
            # every column as text: the summary casts each role (typed inference would strip ids' leading zeros)
            frame = spark.read.option("header", True).csv(source)
        else:
            raise InputError(
                f"{source}: --engine spark reads a CSV or Parquet file or a folder of Parquet files; convert the "
                "export, or score it without --engine spark (the local reader takes more formats)"
            )
    frame.createOrReplaceTempView(VIEW)


def _latest(spark: Any, mapping: Mapping[str, str], today: dt.date, what: str) -> dt.date:
    ibis = require("ibis", FEATURE)
    found = spark.sql(_compiled(ibis, spark, VIEW, lambda t: latest_order_date(t, mapping, today))).collect()
    latest = found[0][0] if found else None
    if latest is None:
        raise InputError(
            f"{what}: no order has both a customer and a date on or before {today}; check the --map of "
            "customer and date"
        )
    return latest if type(latest) is dt.date else latest.date()


def _fetch(frame: Any, folder: Path, remote: str | None) -> Path:
    """A small Spark result as one local Parquet file: written by local[2] directly; from a cluster, whose
    file system is not this machine's, collected to Arrow and written here."""
    if remote:
        pq = require("pyarrow.parquet", "--spark-remote")
        folder.mkdir()
        path = folder / "part.parquet"
        pq.write_table(frame.toArrow(), str(path))
        return path
    frame.coalesce(1).write.parquet(str(folder))
    files = sorted(folder.glob("*.parquet"))
    assert len(files) == 1, files
    return files[0]


def _empty(parquet: Path) -> bool:
    import duckdb

    from ..ingest.reader import sql_string
    from ..workdb import first_row

    con = duckdb.connect()
    try:
        found = first_row(con.execute(f"SELECT count(*) FROM read_parquet({sql_string(str(parquet))})"))
    finally:
        con.close()
    return found is None or found[0] == 0


def _spark_message(exc: Any) -> str:
    """Spark's error in one line; a value Spark cannot cast (ANSI mode: never a silent NULL) with the fix."""
    text = _first_line(exc)
    if exc.getCondition() == "CAST_INVALID_INPUT":
        text = text.split(" because it is malformed")[0]
        return (
            f"Spark cannot read it: {text}; write dates as YYYY-MM-DD (a time may follow) and amounts as plain "
            "numbers, or score the file without --engine spark (the local reader takes other formats)"
        )
    return f"Spark could not build the summary: {text}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
