"""Read a per-customer summary file and its gap histogram (contract v1) into the tables scoring reads.

``crm-winback sql`` (or :func:`customer_summary` and :func:`gap_histogram` on any engine) produces both parts;
exported as Parquet or CSV they are scored here without the order lines. Scoring reads ``customers`` (one row
per customer, the median gap already computed) and ``customer_info`` (contacts and consent), and a quality
report whose repurchase cycle is the median of every gap, read off the histogram.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from ..errors import InputError
from ..ingest import Ingested
from ..ingest.quality import assess_confidence
from ..ingest.reader import Source, sql_string
from ..models.quality import QualityReport
from ..workdb import first_row, median_of_counts
from .contract import COLUMNS, CONTACT_COLUMNS, CONTRACT_VERSION, GAP_COLUMNS, Column

# what the summary cannot be scored without (the rest may be empty: no amounts, no contacts)
REQUIRED = ("customer_id", "first_order_date", "last_order_date", "orders", "purchase_days", "T")


def load_summary(summary: str | Path, gaps: str | Path | None, as_of: dt.date | None = None) -> Ingested:
    """The summary file and the gap histogram as an :class:`Ingested` that :func:`score` accepts.

    The as-of date is the summary's own (first_order_date + T, the same for every row); ``as_of``, when given,
    must agree with it. Raises :class:`InputError` naming the file, column and row for unusable input.
    """
    path = Path(summary)
    if gaps is None:
        raise InputError(
            f"{path}: --summary needs --gaps FILE too: the shop's repurchase cycle is the median of every gap "
            "between purchase days over all customers, which per-customer medians cannot give; export it with "
            "crm-winback sql --part gaps"
        )
    gaps_path = Path(gaps)
    con = duckdb.connect()
    try:
        names = _load(con, path, "raw_summary", COLUMNS, "--summary")
        _load(con, gaps_path, "raw_gaps", GAP_COLUMNS, "--gaps")
        return _ingested(con, path, gaps_path, names, as_of)
    except BaseException:
        con.close()
        raise


def _reader(path: Path, option: str) -> str:
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file; give the exported Parquet or CSV file")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({sql_string(str(path))})"
    if name.endswith((".csv", ".csv.gz")):
        return f"read_csv({sql_string(str(path))}, header = true, all_varchar = true)"
    raise InputError(f"{option} {path}: not a .parquet or .csv file; export the query's result as one")


def _load(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, columns: tuple[Column, ...], option: str
) -> list[str]:
    """``table``: the file's contract columns in their contract types, with each row's number (``_row``)."""
    reader = _reader(path, option)
    try:
        found = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    except duckdb.Error as exc:
        raise InputError(f"{option} {path}: cannot be read ({str(exc).splitlines()[0]})") from None
    missing = [c.name for c in columns if c.name not in found]
    if missing:
        raise InputError(
            f"{option} {path}: no column {missing[0]}; the file must hold the contract v{CONTRACT_VERSION} "
            f"columns {', '.join(c.name for c in columns)} (crm-winback sql writes them)"
        )
    con.execute(f"CREATE TEMP VIEW {table}_in AS SELECT *, row_number() OVER () AS _row FROM {reader}")
    for c in columns:
        bad = first_row(
            con.execute(
                f'SELECT _row, CAST("{c.name}" AS VARCHAR) FROM {table}_in WHERE "{c.name}" IS NOT NULL '
                f'AND TRY_CAST("{c.name}" AS {c.sql_type}) IS NULL ORDER BY _row LIMIT 1'
            )
        )
        if bad is not None:
            raise InputError(
                f"{option} {path}: row {bad[0]}, column {c.name}: {bad[1]!r} is not a {c.sql_type}; "
                "export the summary query's result without changing its columns' types"
            )
    select = ", ".join(f'CAST("{c.name}" AS {c.sql_type}) AS "{c.name}"' for c in columns)
    con.execute(f"CREATE TABLE {table} AS SELECT _row, {select} FROM {table}_in")
    return found


def _ingested(
    con: duckdb.DuckDBPyConnection, path: Path, gaps_path: Path, names: list[str], as_of: dt.date | None
) -> Ingested:
    for name in REQUIRED:
        row = first_row(con.execute(f'SELECT min(_row) FROM raw_summary WHERE "{name}" IS NULL'))
        if row is not None and row[0] is not None:
            raise InputError(f"--summary {path}: row {row[0]}, column {name}: empty; every customer needs it")
    dup = first_row(
        con.execute(
            "SELECT customer_id, list_sort(list(_row))[2] FROM raw_summary GROUP BY customer_id "
            "HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
        )
    )
    if dup is not None:
        raise InputError(
            f"--summary {path}: row {dup[1]}: customer {dup[0]!r} appears twice; export one row per customer "
            "(the summary query's result as it is)"
        )
    dates = con.execute(
        'SELECT DISTINCT first_order_date + CAST("T" AS INTEGER) AS d FROM raw_summary ORDER BY d LIMIT 2'
    ).fetchall()
    if not dates:
        raise InputError(f"--summary {path}: no customers; run the summary query on the orders and export it")
    if len(dates) > 1:
        raise InputError(
            f"--summary {path}: first_order_date + T gives two as-of dates ({dates[0][0]} and {dates[1][0]}); "
            "export the result of one run of the summary query"
        )
    found_as_of = dates[0][0]
    if as_of is not None and as_of != found_as_of:
        raise InputError(
            f"--as-of {as_of}: the summary was built as of {found_as_of} (first_order_date + T); "
            "leave --as-of out, or build the summary again with crm-winback sql --as-of"
        )
    bad = first_row(
        con.execute(
            "SELECT min(_row) FROM raw_gaps WHERE gap_days IS NULL OR gap_days < 1 OR n IS NULL OR n < 1"
        )
    )
    if bad is not None and bad[0] is not None:
        raise InputError(
            f"--gaps {gaps_path}: row {bad[0]}: gap_days and n must be whole numbers of 1 or more; "
            "export the gap histogram query's result as it is"
        )
    counts = first_row(
        con.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM raw_gaps), "
            "(SELECT coalesce(sum(purchase_days - 1), 0) FROM raw_summary)"
        )
    )
    assert counts is not None
    if int(counts[0]) != int(counts[1]):
        raise InputError(
            f"--gaps {gaps_path}: holds {int(counts[0]):,} gaps, but the summary's customers have "
            f"{int(counts[1]):,} (purchase_days - 1 summed); export both parts from the same table, --map "
            "and --as-of"
        )
    monetary = first_row(con.execute("SELECT count(gross_total) > 0 FROM raw_summary"))
    assert monetary is not None
    has_money = bool(monetary[0])
    con.execute(
        """CREATE TABLE customers AS
           SELECT customer_id, first_order_date, last_order_date, orders, purchase_days,
                  median_days_between, CAST(gross_total AS DOUBLE) AS gross_total,
                  CAST(net_total AS DOUBLE) AS net_total
           FROM raw_summary ORDER BY customer_id"""
    )
    con.execute(
        f"CREATE TABLE customer_info AS SELECT customer_id, {', '.join(CONTACT_COLUMNS)} FROM raw_summary"
    )
    filled = first_row(
        con.execute(f"SELECT {', '.join(f'count({c})' for c in CONTACT_COLUMNS)} FROM raw_summary")
    )
    assert filled is not None
    mapping = {name: name for name, count in zip(CONTACT_COLUMNS, filled, strict=True) if count}
    con.execute("CREATE TABLE gap_histogram AS SELECT gap_days, sum(n) AS n FROM raw_gaps GROUP BY gap_days")
    totals = first_row(
        con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE orders > 1), sum(orders), min(first_order_date),
                       max(last_order_date), sum(gross_total), sum(net_total),
                       ({median_of_counts("gap_histogram", "gap_days", "n")})
                FROM customers"""
        )
    )
    assert totals is not None
    customers, repeat, orders, first, last, gross, net, median_gap = totals
    con.execute("DROP VIEW raw_summary_in")
    con.execute("DROP VIEW raw_gaps_in")
    con.execute("DROP TABLE raw_summary")
    con.execute("DROP TABLE raw_gaps")
    history = (found_as_of - first).days
    level, reasons = assess_confidence(int(customers), history, int(repeat))
    consent: dict[str, str] = {
        name: f"{name} (summary)" for name in ("email_consent", "sms_consent") if name in mapping
    }
    kind = "parquet" if path.name.lower().endswith(".parquet") else "csv"
    quality = QualityReport(
        file=str(path),
        file_format=f"{kind} summary (contract v{CONTRACT_VERSION}) with gap histogram {gaps_path.name}",
        layout="summary",
        layout_label=f"per-customer summary (contract v{CONTRACT_VERSION})",
        mapping=mapping,
        date_format="DATE",
        date_format_reason="typed columns of the summary contract",
        money_format="DECIMAL(18, 4)" if has_money else None,
        currency=None,
        monetary_available=has_money,
        rows_read=int(customers),
        rows_used=int(customers),
        exclusions=[],
        customer_ids_found=int(customers),
        customers=int(customers),
        orders=int(orders),
        first_order_date=first,
        last_order_date=last,
        history_days=history,
        as_of=found_as_of,
        as_of_reason="the summary's own: first_order_date + T",
        gross_revenue=round(float(gross), 2) if has_money and gross is not None else None,
        refunds=None,
        returns=None,
        net_revenue=round(float(net), 2) if has_money and net is not None else None,
        one_time_buyer_share=round(1 - int(repeat) / int(customers), 4),
        repeat_customers=int(repeat),
        median_days_between_orders=float(median_gap) if median_gap is not None else None,
        consent_columns=consent,
        notes=[
            "scored from a per-customer summary: rows were checked and excluded where it was built, "
            "so no exclusions are listed here"
        ],
        confidence=level,
        confidence_reasons=reasons,
    )
    source = Source(path=path, kind=kind, headers=names, sql="customers")
    return Ingested(con, source, quality, found_as_of, has_money, False, mapping, False)
