"""Read a per-customer summary file, its gap histogram and its backtest part (contract v1) into the tables
scoring and predictions read.

``crm-winback sql`` (or :func:`customer_summary`, :func:`gap_histogram` and :func:`backtest_summary` on any
engine) produces the parts; exported as Parquet or CSV they are scored here without the order lines. Scoring
reads ``customers`` (one row per customer, the median gap already computed) and ``customer_info`` (contacts and
consent), and a quality report whose repurchase cycle is the median of every gap, read off the histogram. With
predictions, the models' columns of the summary and the backtest part stay too, in the tables predict.service
reads instead of the purchase days.
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
from .contract import BACKTEST_COLUMNS, COLUMNS, CONTACT_COLUMNS, CONTRACT_VERSION, GAP_COLUMNS, Column

# what the summary cannot be scored without (the rest may be empty: no amounts, no contacts)
REQUIRED = ("customer_id", "first_order_date", "last_order_date", "orders", "purchase_days", "T")
# and what the models read besides (score --summary --predict)
MODEL_REQUIRED = ("x", "t_x", "litt")
BACKTEST_REQUIRED = (*REQUIRED, *MODEL_REQUIRED, "holdout_purchase_days")


def load_summary(
    summary: str | Path,
    gaps: str | Path | None,
    as_of: dt.date | None = None,
    backtest: str | Path | None = None,
    *,
    predict: bool = False,
    calibration_end: dt.date | None = None,
) -> Ingested:
    """The summary file and the gap histogram as an :class:`Ingested` that :func:`score` accepts.

    The as-of date is the summary's own (first_order_date + T, the same for every row); ``as_of``, when given,
    must agree with it. With ``predict`` the models' columns are kept, and the backtest part ``backtest`` is read
    and checked against the summary and the split the backtest chooses (``calibration_end``, or by rule); it
    is needed whenever the history is long enough for a backtest. Raises :class:`InputError` naming the file,
    column and row for unusable input.
    """
    path = Path(summary)
    if gaps is None:
        raise InputError(
            f"{path}: --summary needs --gaps FILE too: the shop's repurchase cycle is the median of every gap "
            "between purchase days over all customers, which per-customer medians cannot give; export it with "
            "crm-winback sql --part gaps"
        )
    if backtest is not None and not predict:
        raise InputError(
            f"--backtest {backtest}: the backtest part goes with --predict; add --predict or leave --backtest out"
        )
    gaps_path = Path(gaps)
    con = duckdb.connect()
    try:
        names = _load(con, path, "raw_summary", COLUMNS, "--summary")
        _load(con, gaps_path, "raw_gaps", GAP_COLUMNS, "--gaps")
        ingested = _ingested(con, path, gaps_path, names, as_of, predict)
        if predict:
            _load_backtest(ingested, None if backtest is None else Path(backtest), calibration_end)
        return ingested
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
    con: duckdb.DuckDBPyConnection,
    path: Path,
    gaps_path: Path,
    names: list[str],
    as_of: dt.date | None,
    predict: bool = False,
) -> Ingested:
    for name in REQUIRED + (MODEL_REQUIRED if predict else ()):
        row = first_row(con.execute(f'SELECT min(_row) FROM raw_summary WHERE "{name}" IS NULL'))
        if row is not None and row[0] is not None:
            needs = "the models need it (--predict)" if name in MODEL_REQUIRED else "every customer needs it"
            raise InputError(f"--summary {path}: row {row[0]}, column {name}: empty; {needs}")
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
    if predict:
        from ..predict.service import CONTRACT_SUMMARY_TABLE

        con.execute(
            f"""CREATE TABLE {CONTRACT_SUMMARY_TABLE} AS
                SELECT customer_id, first_order_date, last_order_date, orders, net_total, x, t_x, "T",
                       repeat_value, litt
                FROM raw_summary ORDER BY customer_id"""
        )
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


def backtest_end(
    summary: str | Path, gaps: str | Path, as_of: dt.date | None, calibration_end: dt.date | None
) -> dt.date | None:
    """The calibration end the backtest splits a summary's history at (``calibration_end`` when given, else by
    the rule), from the summary and its gap histogram; None when the history is too short for a backtest."""
    from ..predict.backtest import choose_split

    ingested = load_summary(summary, gaps, as_of)
    try:
        q = ingested.quality
        assert q.first_order_date is not None  # a summary without customers was refused
        split = choose_split(q.first_order_date, q.as_of, q.median_days_between_orders, calibration_end)
    finally:
        ingested.close()
    return None if isinstance(split, str) else split.calibration_end


def _load_backtest(ingested: Ingested, path: Path | None, calibration_end: dt.date | None) -> None:
    """Read and check the backtest part into the table predict.service reads, when the history allows a
    backtest; otherwise note that it is not needed."""
    from ..predict.backtest import choose_split
    from ..predict.service import CONTRACT_BACKTEST_TABLE

    q, con = ingested.quality, ingested.con
    assert q.first_order_date is not None  # a summary without customers was refused
    split = choose_split(q.first_order_date, q.as_of, q.median_days_between_orders, calibration_end)
    if isinstance(split, str):
        if path is not None:
            q.notes.append(f"--backtest {path.name} was not read: {split}")
        return
    end = split.calibration_end
    command = (
        f"crm-winback sql --part backtest --calibration-end {end} --as-of {q.as_of} with the --dialect, "
        "--table, --map and --timezone the summary was built with"
    )
    if path is None:
        chosen = (
            "you set with --calibration-end"
            if calibration_end
            else (
                f"the backtest chooses ({split.holdout_days} days held out: the last third of the history, at least "
                "90 days and two repurchase cycles)"
            )
        )
        raise InputError(
            f"--predict with --summary needs --backtest FILE: the backtest replays each customer's purchase days "
            f"after the calibration end, which a summary does not hold; the calibration end is {end}, which "
            f"{chosen}; run {command}, export the result and add --backtest FILE"
        )
    _load(con, path, "raw_backtest", BACKTEST_COLUMNS, "--backtest")
    where = f"--backtest {path}"
    for name in BACKTEST_REQUIRED:
        row = first_row(con.execute(f'SELECT min(_row) FROM raw_backtest WHERE "{name}" IS NULL'))
        if row is not None and row[0] is not None:
            raise InputError(f"{where}: row {row[0]}, column {name}: empty; every customer needs it")
    dup = first_row(
        con.execute(
            "SELECT customer_id, list_sort(list(_row))[2] FROM raw_backtest GROUP BY customer_id "
            "HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
        )
    )
    if dup is not None:
        raise InputError(
            f"{where}: row {dup[1]}: customer {dup[0]!r} appears twice; export one row per customer "
            "(the backtest query's result as it is)"
        )
    ends = con.execute(
        'SELECT DISTINCT first_order_date + CAST("T" AS INTEGER) AS d FROM raw_backtest ORDER BY d LIMIT 2'
    ).fetchall()
    if len(ends) > 1:
        raise InputError(
            f"{where}: first_order_date + T gives two calibration ends ({ends[0][0]} and {ends[1][0]}); export "
            "the result of one run of the backtest query"
        )
    built = ends[0][0] if ends else None
    if built != end:
        instead = (
            f" (or score with --calibration-end {built})" if built is not None and not calibration_end else ""
        )
        raise InputError(
            f"{where}: built at calibration end {built or 'unknown (no rows)'}, but the backtest splits at "
            f"{end}; run {command}{instead}"
        )
    cycles = first_row(con.execute("SELECT count(DISTINCT coalesce(cycle_days, -1)) FROM raw_backtest"))
    if cycles is not None and cycles[0] > 1:
        raise InputError(
            f"{where}: column cycle_days differs between rows (it is the shop's, the same on every row); export "
            "the backtest query's result as it is"
        )
    _check_against_summary(con, where, q.as_of, end)
    con.execute(
        f"CREATE TABLE {CONTRACT_BACKTEST_TABLE} AS SELECT * EXCLUDE (_row) FROM raw_backtest ORDER BY customer_id"
    )
    con.execute("DROP VIEW raw_backtest_in")
    con.execute("DROP TABLE raw_backtest")


def _check_against_summary(con: duckdb.DuckDBPyConnection, where: str, as_of: dt.date, end: dt.date) -> None:
    """The backtest part and the summary describe the same customers from the same table: every customer who
    had bought by the calibration end is in both, and the purchase days before and after it add up to the
    summary's."""
    same = "; export the summary and the backtest part from the same table, --map and --as-of"
    found = first_row(
        con.execute(
            """SELECT b._row, b.customer_id, s.customer_id IS NULL, b.x, b.holdout_purchase_days, s.purchase_days
               FROM raw_backtest b LEFT JOIN customers s USING (customer_id)
               WHERE s.customer_id IS NULL OR b.x + 1 + b.holdout_purchase_days <> s.purchase_days
                  OR b.first_order_date <> s.first_order_date
               ORDER BY b._row LIMIT 1"""
        )
    )
    if found is not None:
        row, customer, missing, x, later, days = found
        what = (
            "is not in the summary"
            if missing
            else f"has x {x} + 1 + holdout_purchase_days {later} purchase days, not the summary's {days}, or "
            "another first order date"
        )
        raise InputError(f"{where}: row {row}: customer {customer!r} {what}{same}")
    counts = first_row(
        con.execute(
            "SELECT (SELECT count(*) FROM raw_backtest), "
            "(SELECT count(*) FROM customers WHERE first_order_date <= $end)",
            {"end": end},
        )
    )
    assert counts is not None
    if counts[0] != counts[1]:
        raise InputError(
            f"{where}: holds {counts[0]:,} customers, but {counts[1]:,} in the summary had bought by the "
            f"calibration end {end}{same}"
        )
    bad = first_row(
        con.execute(
            """SELECT min(_row) FROM raw_backtest
               WHERE (holdout_purchase_days = 0) <> (first_holdout_day IS NULL)
                  OR first_holdout_day < 1 OR first_holdout_day > $days""",
            {"days": (as_of - end).days},
        )
    )
    if bad is not None and bad[0] is not None:
        raise InputError(
            f"{where}: row {bad[0]}, column first_holdout_day: must be empty when holdout_purchase_days is 0 and "
            f"else from 1 to {(as_of - end).days} (the days to the as-of date {as_of}){same}"
        )
