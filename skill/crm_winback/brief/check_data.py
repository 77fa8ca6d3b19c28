"""The document's own data, as ``crm-winback check`` reads it: what the product rendered versus what was written.

Every document the product renders ends with a data digest: a short hash of each line, outside tables, that holds
a number or a segment noun (the lines the checks read; about 900 characters for a brief built from orders).
A line whose hash is in the digest is one the product wrote, so its numbers are the document's data, together with
every table cell. Any other line (the narrative written into the slots, or a rendered line someone changed) is
prose, checked against that data. A document without a digest has only its tables as data.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

DIGEST_PREFIX = "<!-- crm-winback:data "
# A number as written in prose: optional currency, digits with thousands separators, decimals, optional percent.
NUMBER_RE = re.compile(
    r"(?<![\w.])(?:(?P<cur>[$€£])\s?)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<pct>\s?%|\s?percent\b)?(?P<tail>[A-Za-z]*)"
)
CODE_BEFORE = re.compile(r"(\b[A-Z]\d*|[A-Z]{2,})[-–]$")
DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CURRENCY_WORDS = re.compile(r"^\s*(usd|eur|gbp|dollars?|euros?|pounds?)\b", re.IGNORECASE)


def _hash(line: str) -> str:
    return hashlib.blake2b(line.strip().encode("utf-8"), digest_size=3).hexdigest()


def _is_table(line: str) -> bool:
    return line.lstrip().startswith("|")


def _hashed(line: str) -> bool:
    """Lines the checks read against the data (a number, or a word that names a segment), outside tables."""
    if _is_table(line) or line.startswith(DIGEST_PREFIX):
        return False
    if any(c.isdigit() for c in line):
        return True
    from .library import load_library  # the segment nouns are knowledge (red_flags.yaml)

    low = line.lower()
    return any(re.search(rf"\b{re.escape(n)}\b", low) for n in load_library().red_flags.segments.nouns)


def data_digest(markdown: str) -> str:
    """The digest line that marks the lines of ``markdown`` as rendered by the product (appended by ``render``)."""
    hashes = sorted({_hash(line) for line in markdown.splitlines() if _hashed(line)})
    return f"{DIGEST_PREFIX}{' '.join(hashes)} -->"


@dataclass(frozen=True)
class Mention:
    """A number written in a line: its value, decimals as written, and whether it is a percentage or money."""

    text: str
    value: Decimal
    quantum: Decimal  # the precision as written: 1 for "81%", 0.1 for "80.9%", 100 for "7.2k"
    percent: bool
    money: bool
    start: int


@dataclass
class DocumentData:
    """Which lines are prose, the numbers the data holds, and the segments the tables name with their sizes."""

    prose: list[int]  # 1-based line numbers
    has_digest: bool
    values: set[Decimal] = field(default_factory=set)  # plain numbers and amounts
    percents: set[Decimal] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    sizes: dict[str, set[Decimal]] = field(default_factory=dict)  # segment name (lower case) -> sizes stated
    names: dict[str, str] = field(default_factory=dict)  # lower case -> as the table writes it


def mentions(line: str) -> list[Mention]:
    """The numbers in ``line`` (dates and numbers glued to letters, such as R4 or 48h, are left out)."""
    out = []
    masked = DATE_RE.sub(lambda m: " " * len(m.group(0)), line)
    for m in NUMBER_RE.finditer(masked):
        if CODE_BEFORE.search(masked[max(0, m.start() - 12) : m.start()]):
            continue  # part of a code such as R4-5 or MBG/CNBD-2
        if m.group("tail") and m.group("tail").lower() not in ("x", "k", "m"):
            continue  # 48h, 1st, 3rd, 2xl: a label rather than a quantity
        num = m.group("num").replace(",", "")
        try:
            value = Decimal(num)
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            continue
        scale = Decimal({"k": 1000, "m": 1_000_000}.get((m.group("tail") or "").lower(), 1))
        decimals = len(num.split(".")[1]) if "." in num else 0
        out.append(
            Mention(
                text=m.group(0).strip(),
                value=value * scale,
                quantum=Decimal(1).scaleb(-decimals) * scale,
                percent=bool(m.group("pct")),
                money=bool(m.group("cur")) or bool(CURRENCY_WORDS.match(masked[m.end() :])),
                start=m.start(),
            )
        )
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_document(lines: list[str], name_headers: list[str], size_header: str) -> DocumentData:
    """Split ``lines`` into data and prose, and collect the data's numbers, dates and segment sizes.

    A percentage is sourced only by a percentage, any other number only by a number that is not one.
    """
    digest = next((line for line in lines if line.startswith(DIGEST_PREFIX)), None)
    known = set(digest[len(DIGEST_PREFIX) :].split()) if digest else set()
    data_lines, prose = [], []
    for i, line in enumerate(lines, 1):
        if not line.strip() or line.startswith(DIGEST_PREFIX) or line.lstrip().startswith("<!--"):
            continue
        if _is_table(line) or _hash(line) in known:
            data_lines.append(line)
        else:
            prose.append(i)
    doc = DocumentData(prose=prose, has_digest=digest is not None)
    for line in data_lines:
        doc.dates.update(DATE_RE.findall(line))
        for m in mentions(line):
            (doc.percents if m.percent else doc.values).add(abs(m.value))
    _table_sizes(lines, doc, name_headers, size_header)
    return doc


def _table_sizes(lines: list[str], doc: DocumentData, name_headers: list[str], size_header: str) -> None:
    """Each table whose name column is a segment or stage: its names, and their sizes from the customers column."""
    for i, line in enumerate(lines[:-1]):
        if not (_is_table(line) and lines[i + 1].lstrip().startswith("|-")):
            continue
        header = [c.lower() for c in _cells(line)]
        name_col = next((k for k, h in enumerate(header) if h in name_headers), None)
        if name_col is None:
            continue
        size_col = next((k for k, h in enumerate(header) if h == size_header), None)
        for body in lines[i + 2 :]:
            if not _is_table(body):
                break
            cells = _cells(body)
            if name_col >= len(cells) or not cells[name_col] or cells[name_col] == "-":
                continue
            doc.names.setdefault(cells[name_col].lower(), cells[name_col])
            sizes = doc.sizes.setdefault(cells[name_col].lower(), set())
            if size_col is not None and size_col < len(cells):
                found = mentions(cells[size_col])
                if found and not found[0].percent:
                    sizes.add(found[0].value)


def matches(mention: Mention, values: set[Decimal]) -> bool:
    """Whether ``mention`` is one of ``values`` as written: equal, or equal once rounded to its decimals."""
    target = abs(mention.value)
    return target in values or any(abs(v - target) <= mention.quantum / 2 for v in values)


class Lookup:
    """``matches`` against a fixed set of values, in log time (a line may hold thousands of numbers)."""

    def __init__(self, values: set[Decimal]) -> None:
        self.values = values
        self.ordered = sorted(values)

    def __contains__(self, mention: Mention) -> bool:
        target, half = abs(mention.value), mention.quantum / 2
        if target in self.values:
            return True
        k = bisect.bisect_left(self.ordered, target - half)
        return k < len(self.ordered) and self.ordered[k] <= target + half
