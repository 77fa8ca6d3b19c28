"""The per-customer summary on one machine: the local DuckDB SQL, the Ibis expression on DuckDB, and the same
expression through Spark local[2]; wall and CPU-seconds each (the driver's, plus Spark's JVM for Spark).

    .venv/bin/python bench/bench_spark.py bench/out/orders_10m.csv [--as-of YYYY-MM-DD] [--skip-spark]

The orders file is one of bench/generate.py's (customer_id, order_date, amount columns). It is read once into
DuckDB as a typed table; each engine then builds the summary from that table (Spark from a Parquet copy), and
the three summaries are compared (customers, orders, net total to the cent). Not a timed test: run it on a quiet
machine, one round per engine, and report what it printed. Spark's CPU-seconds include its JVM's (read from
/proc, so on Linux).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from crm_winback.engines.duckdb_engine import summary_on_duckdb
from crm_winback.ingest import IngestOptions, load_orders

MAPPING = {"customer": "customer_id", "date": "order_date", "amount": "amount"}


def cpu_seconds() -> float:
    """This process's CPU-seconds and its finished children's (Spark's JVM is a child of the driver)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def jvm_seconds(spark) -> float:  # type: ignore[no-untyped-def]
    """CPU-seconds of Spark's JVM so far (it runs until the driver ends, so RUSAGE_CHILDREN misses it): user +
    system of the process and its waited-for children, from /proc (Linux)."""
    pid = spark.sparkContext._gateway.proc.pid
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def timed(label: str, work, extra=lambda: 0.0):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), cpu_seconds() + extra()
    result = work()
    spent = cpu_seconds() + extra() - cpu
    print(f"| {label} | {time.perf_counter() - wall:.2f} s | {spent:.2f} CPU-s |", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--as-of", type=dt.date.fromisoformat)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    print("| engine | wall | CPU |\n|---|---:|---:|")

    def local() -> tuple[int, int, float]:
        ingested = load_orders(args.path, IngestOptions(as_of=args.as_of))
        try:
            row = ingested.con.execute(
                "SELECT count(*), sum(orders), round(sum(net_total), 2) FROM customers"
            )
            return row.fetchone()  # type: ignore[return-value]
        finally:
            ingested.close()

    want = timed("local DuckDB SQL (ingest included)", local)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE orders AS SELECT customer_id::VARCHAR AS customer_id, order_date::DATE AS order_date, "
        "amount::DECIMAL(18, 4) AS amount FROM read_csv($p)",
        {"p": str(args.path)},
    )
    as_of = args.as_of or con.execute("SELECT max(order_date) FROM orders").fetchone()[0]  # type: ignore[index]
    totals = "SELECT count(*), sum(orders), round(sum(net_total), 2) FROM s"

    def ibis_duckdb() -> tuple[int, int, float]:
        con.register("s", summary_on_duckdb(con, "orders", MAPPING, as_of))
        return con.execute(totals).fetchone()  # type: ignore[return-value]

    print(f"local: {want}; Ibis on DuckDB: {timed('Ibis expression on DuckDB', ibis_duckdb)}")
    if args.skip_spark:
        return
    from crm_winback.engines.spark import spark_session, summary_on_spark

    with tempfile.TemporaryDirectory() as tmp:
        parquet = os.path.join(tmp, "orders.parquet")
        con.execute(f"COPY orders TO '{parquet}' (FORMAT parquet)")
        spark = timed("Spark local[2] start", lambda: spark_session("UTC"))
        try:

            def on_spark() -> tuple[int, int, float]:
                spark.read.parquet(parquet).createOrReplaceTempView("orders")
                out = os.path.join(tmp, "summary")
                summary_on_spark(spark, "orders", MAPPING, as_of).write.parquet(out)
                return duckdb.execute(
                    f"SELECT count(*), sum(orders), round(sum(net_total), 2) FROM read_parquet('{out}/*.parquet')"
                ).fetchone()  # type: ignore[return-value]

            label = "Ibis expression on Spark local[2] (the JVM's CPU included)"
            print(f"Spark: {timed(label, on_spark, lambda: jvm_seconds(spark))}")
        finally:
            spark.stop()


if __name__ == "__main__":
    main()
