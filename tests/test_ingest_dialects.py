"""The same orders written in any dialect an export tool uses must give the same scores as the plain file.

Each example draws a set of orders and a dialect - separator, decimal comma, thousands separators, currency
marks, quoting, encoding (UTF-8, UTF-8 with BOM, cp1252, UTF-16), line endings, date style, blank or title
lines above the header, a ``sep=`` line - writes both files and compares the quality numbers and the
per-customer scores file row by row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_winback.api import score_file
from crm_winback.ingest import IngestOptions

from .paths import TODAY

# cp1252 can write all of these; the addresses differ in case only (one customer each)
CUSTOMERS = ("Zoë", "José", "Renée", "A-17", "1001", "ana@x.com", "Ana@X.com", "Bob Smith", "o'brien@y.org")
ANCHOR = ("Zoë", dt.date(2024, 3, 28), Decimal("12.34"))  # a day above 12 tells d/m from m/d


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal_comma: bool
    thousands: bool
    currency: str  # "", "$" (before) or "€" (after)
    quote_all: bool
    encoding: str
    crlf: bool
    date_style: str
    preamble: str  # "", "blank", "title" or "sep"


def _dialects() -> st.SearchStrategy[Dialect]:
    return st.builds(
        Dialect,
        delimiter=st.sampled_from([",", ";", "\t", "|"]),
        decimal_comma=st.booleans(),
        thousands=st.booleans(),
        currency=st.sampled_from(["", "$", "€"]),
        quote_all=st.booleans(),
        encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
        crlf=st.booleans(),
        date_style=st.sampled_from(["iso", "iso_time", "dmy", "mdy", "compact", "dotted"]),
        preamble=st.sampled_from(["", "", "blank", "title", "sep"]),
    )


_orders = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2024, 12, 31)),
        st.integers(min_value=1, max_value=500_000).map(lambda cents: Decimal(cents) / 100),
    ),
    min_size=1,
    max_size=25,
)


def _date(day: dt.date, style: str) -> str:
    return {
        "iso": day.isoformat(),
        "iso_time": f"{day.isoformat()} 14:05:09 -0500",
        "dmy": f"{day.day:02d}/{day.month:02d}/{day.year}",
        "mdy": f"{day.month}/{day.day}/{day.year}",
        "compact": day.strftime("%Y%m%d"),
        "dotted": f"{day.day:02d}.{day.month:02d}.{day.year}",
    }[style]


def _amount(value: Decimal, d: Dialect) -> str:
    text = f"{value:,.2f}" if d.thousands else f"{value:.2f}"
    if d.decimal_comma:
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    if d.currency == "$":
        return "$" + text
    return text + " €" if d.currency == "€" else text


def _write(path: Path, rows: list[tuple[str, dt.date, Decimal]], d: Dialect | None) -> None:
    buf = io.StringIO()
    quoting = csv.QUOTE_ALL if d is not None and d.quote_all else csv.QUOTE_MINIMAL
    newline = "\r\n" if d is not None and d.crlf else "\n"
    writer = csv.writer(buf, delimiter=d.delimiter if d else ",", quoting=quoting, lineterminator=newline)
    if d is not None and d.preamble == "sep":
        buf.write(f"sep={d.delimiter}{newline}")
    elif d is not None and d.preamble == "blank":
        buf.write(newline * 2)
    elif d is not None and d.preamble == "title":
        writer.writerow(["Orders export"] + [""] * 3)
    writer.writerow(["order_id", "customer", "date", "amount"])
    for number, (customer, day, value) in enumerate(rows, start=1):
        if d is None:
            writer.writerow([number, customer, day.isoformat(), f"{value:.2f}"])
        else:
            writer.writerow([number, customer, _date(day, d.date_style), _amount(value, d)])
    path.write_bytes(buf.getvalue().encode(d.encoding if d else "utf-8"))


def _score(path: Path, out: Path) -> tuple[tuple[object, ...], list[str]]:
    result, _ = score_file(path, IngestOptions(today=TODAY), output=out)
    q = result.quality
    numbers = (q.customers, q.orders, q.net_revenue, q.first_order_date, q.last_order_date, q.rows_read)
    return numbers, out.read_text(encoding="utf-8").splitlines()


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(orders=_orders, dialect=_dialects())
def test_any_dialect_scores_like_the_plain_file(
    orders: list[tuple[str, dt.date, Decimal]], dialect: Dialect
) -> None:
    rows = [ANCHOR, *orders]
    with tempfile.TemporaryDirectory(prefix="crm-dialect-") as tmp:
        folder = Path(tmp)
        _write(folder / "plain.csv", rows, None)
        _write(folder / "dialect.csv", rows, dialect)
        plain = _score(folder / "plain.csv", folder / "plain-scores.csv")
        other = _score(folder / "dialect.csv", folder / "dialect-scores.csv")
    assert other == plain, dialect
    net = sum((value for _, _, value in rows), Decimal(0))
    assert plain[0][2] == float(net)  # the plain file itself is read right: net revenue is the sum
