"""Open an export file of any supported kind as a DuckDB relation of text columns.

Supported: CSV (comma, semicolon, tab, pipe, or runs of whitespace), gzip-compressed CSV, Parquet, JSON
(an array of records) and NDJSON. Every column comes back as VARCHAR so that ids keep their leading zeros and
parsing of dates and money stays ours.

A CSV that DuckDB cannot read as it stands - UTF-16 (Excel "Unicode text"), a line that is not UTF-8, an
Excel ``sep=;`` line, title or blank lines above the header, a header ending in LF over rows ending in CRLF -
is first rewritten into a temporary UTF-8 copy (:mod:`.text`); a clean UTF-8 file is read in place. A named
pipe is read once. When DuckDB still fails past the sniffed head, the file is opened again "robustly"
(normalised, one thread) and read once more (:func:`reopen_robust`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import InputError
from .text import (
    FALLBACK,
    HEAD_BYTES,
    check_quotes_close,
    copy_pipe,
    long_csv_fields,
    normalise,
    odd_quotes,
    read_head,
    sniff,
    utf16_encoding,
)

_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "whitespace": "runs of whitespace"}
_MAX_LINE_MB = 2  # DuckDB's limit on one CSV row (its default max_line_size)


@dataclass
class Source:
    """A file opened for reading: how it was read, and the SQL that yields its rows."""

    path: Path  # the user's file, as named in messages
    kind: str  # csv | parquet | json
    headers: list[str]
    sql: str  # a table expression; every column VARCHAR, named as in the header
    encoding: str = "utf-8"
    delimiter: str | None = None
    compressed: bool = False
    notes: list[str] = field(default_factory=list)
    sample: list[list[str]] = field(default_factory=list)  # the first data rows (CSV only)
    read_path: Path | None = None  # what DuckDB reads, when not ``path``: a normalised copy or a pipe's data
    normalised: bool = False  # read_path is a UTF-8, LF-only copy that starts at the header line
    parallel: bool = True  # False when quoted fields hold line breaks (DuckDB's parallel reader cannot)
    robust: bool = False  # opened again after DuckDB failed on the file as it stood
    fallback_lines: int = 0  # lines that were not UTF-8 and were decoded as cp1252
    _tempfile: Path | None = None  # the normalised copy
    _pipe_copy: Path | None = None  # the data read once from a named pipe

    @property
    def data_path(self) -> Path:
        """The file DuckDB and the row locator read."""
        return self.read_path or self._pipe_copy or self.path

    @property
    def raw_path(self) -> Path:
        """The bytes as the user gave them: the file, or what was read once from a pipe."""
        return self._pipe_copy or self.path

    @property
    def read_compressed(self) -> bool:
        return self.compressed and not self.normalised

    def csv_table(self, types: dict[str, str]) -> str:
        """``read_csv`` over the data with every column's type given (no sniffing), for a delimited CSV."""
        assert self.delimiter is not None and self.delimiter != "whitespace"
        columns = ", ".join(f"{sql_string(h)}: '{types.get(h, 'VARCHAR')}'" for h in self.headers)
        extra = ", compression='gzip'" if self.read_compressed else ""
        extra += "" if self.parallel else ", parallel=false"
        return (
            f"read_csv({sql_string(str(self.data_path))}, header=true, delim={sql_string(self.delimiter)}, "
            f"quote='\"', escape='\"', columns={{{columns}}}, auto_detect=false, null_padding=true{extra})"
        )

    def describe(self) -> str:
        parts = [self.kind.upper()]
        if self.delimiter:
            parts.append(f"{_DELIM_NAMES.get(self.delimiter, repr(self.delimiter))}-separated")
        if self.compressed:
            parts.append("gzip")
        if self.kind == "csv":
            parts.append(self.encoding)
        return ", ".join(parts)

    def close(self) -> None:
        for attr in ("_tempfile", "_pipe_copy"):
            tmp = getattr(self, attr)
            if tmp is not None:
                tmp.unlink(missing_ok=True)
                setattr(self, attr, None)


def sql_string(value: str) -> str:
    """Quote a string literal for DuckDB (for file paths in table functions, which take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _detect_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the header and the next rows into the same number (> 1) of fields.

    When no delimiter is consistent on every row, the one that splits the header into the most fields and
    agrees with more than half of the rows: the odd rows are then named by the reader (or padded, when
    short), not blamed on the separator.
    """
    sample = [line for line in lines[:50] if line.strip()]
    if not sample:
        return None
    text = "\n".join(sample)
    best: tuple[int, str] | None = None
    mostly: tuple[int, str] | None = None
    for delim in _DELIMITERS:
        try:  # rows, not lines: a quoted field may hold a line break
            counts = [len(row) for row in csv.reader(io.StringIO(text), delimiter=delim) if row]
        except csv.Error:
            continue
        if len(counts) > 1 and len(lines) > 50:
            counts = counts[:-1]  # the last row may be cut short by the sample
        if not counts or counts[0] < 2:
            continue
        # every row alike; or every row one longer than the header (a delimiter after each row's last value)
        if all(c == counts[0] for c in counts) or (
            len(counts) > 1 and all(c == counts[0] + 1 for c in counts[1:])
        ):
            if best is None or counts[0] > best[0]:
                best = (counts[0], delim)
        elif sum(c == counts[0] for c in counts) > len(counts) / 2 and (
            mostly is None or counts[0] > mostly[0]
        ):
            mostly = (counts[0], delim)
    if best or mostly:
        return (best or mostly)[1]  # type: ignore[index]
    counts = [len(line.split()) for line in sample]
    if counts[0] > 1 and all(c == counts[0] for c in counts):
        return "whitespace"
    return None


def _looks_like_data(fields: list[str]) -> bool:
    """A first line made mostly of numbers and dates is data, not a header."""
    numeric = sum(bool(re.fullmatch(r"[-+$€£(]?[\d.,:/ -]+\)?", f.strip())) for f in fields if f.strip())
    return numeric >= max(1, len([f for f in fields if f.strip()]) // 2 + 1)


class ReadAgain(Exception):
    """DuckDB failed on a CSV as it stood: open it again with :func:`reopen_robust` and retry once."""


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "whitespace":
        return line.split()
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def open_source(path: str | os.PathLike[str]) -> Source:
    """Sniff ``path`` and return a :class:`Source`. Raises :class:`InputError` for anything unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; check the path (relative paths start from {Path.cwd()})")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the export file inside it")
    mode = p.stat().st_mode
    pipe_copy = None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        pipe_copy = copy_pipe(p)
    elif not stat.S_ISREG(mode):
        raise InputError(f"{p}: is not a regular file (a socket or a device); give the export file itself")
    try:
        return _open(p, pipe_copy, robust=False)
    except BaseException:
        if pipe_copy is not None:
            pipe_copy.unlink(missing_ok=True)
        raise


def reopen_robust(source: Source) -> Source:
    """The same file again, normalised and read by one thread: after DuckDB failed on it as it stood."""
    pipe_copy, source._pipe_copy = source._pipe_copy, None
    source.close()
    try:
        return _open(source.path, pipe_copy, robust=True)
    except BaseException:
        if pipe_copy is not None:
            pipe_copy.unlink(missing_ok=True)
        raise


def _open(p: Path, pipe_copy: Path | None, robust: bool) -> Source:
    data = pipe_copy or p
    if data.stat().st_size == 0:
        what = "the pipe gave no data" if pipe_copy else "the file is empty"
        raise InputError(f"{p}: {what}; export the orders again")
    with open(data, "rb") as fh:
        magic = fh.read(4)
    suffixes = [s.lower() for s in p.suffixes]
    if magic == b"PAR1" or suffixes[-1:] == [".parquet"]:
        source = _open_parquet(p, data)
    else:
        compressed = magic[:2] == b"\x1f\x8b"
        head = read_head(data, compressed)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped:
            raise InputError(f"{p}: the file holds no data; export the orders again")
        is_json_suffix = any(s in (".json", ".ndjson", ".jsonl") for s in suffixes)
        if (stripped[:1] in (b"[", b"{") or is_json_suffix) and utf16_encoding(head) is None:
            source = _open_json(p, data, stripped[:1])
        else:
            with long_csv_fields():
                source = _open_csv(p, data, head, compressed, robust)
    source._pipe_copy = pipe_copy
    return source


def _open_parquet(p: Path, data: Path) -> Source:
    con = duckdb.connect()
    try:
        cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(data))})").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{p}: not a readable Parquet file ({_first_line(exc)})") from None
    finally:
        con.close()
    headers = [c[0] for c in cols]
    select_list = ", ".join(f"CAST({sql_ident(h)} AS VARCHAR) AS {sql_ident(h)}" for h in headers)
    return Source(p, "parquet", headers, f"(SELECT {select_list} FROM read_parquet({sql_string(str(data))}))")


def _open_json(p: Path, data: Path, first: bytes) -> Source:
    fmt = "array" if first == b"[" else "newline_delimited"
    reader = f"read_json({sql_string(str(data))}, format='{fmt}', sample_size=-1)"
    con = duckdb.connect()
    try:
        cols = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as exc:
        raise InputError(
            f"{p}: not readable as JSON records ({_first_line(exc)}); "
            "give an array of objects or one object per line"
        ) from None
    finally:
        con.close()
    headers = [c[0] for c in cols]
    if headers == ["json"]:
        raise InputError(f"{p}: JSON records must be objects with named fields; got plain values")
    select_list = ", ".join(f"CAST({sql_ident(h)} AS VARCHAR) AS {sql_ident(h)}" for h in headers)
    kind_note = "JSON array" if fmt == "array" else "NDJSON"
    return Source(p, "json", headers, f"(SELECT {select_list} FROM {reader})", notes=[kind_note])


def _find_header(lines: list[str]) -> tuple[int, str | None, int]:
    """(index of the header line, delimiter, lines skipped above it for a ``sep=`` line, titles or blanks).

    Above the header only blank lines and titles are skipped: a line that names at most one thing under
    every separator ("Orders report", or "Orders report,,," as Excel saves it).
    """
    start, forced = 0, None
    if lines:
        m = re.fullmatch(r'\s*"?sep=(.)"?[,;\t|]*\s*', lines[0], flags=re.IGNORECASE)
        if m:
            start, forced = 1, m.group(1)
    for i in range(start, min(start + 30, len(lines))):
        if not lines[i].strip():
            continue
        delimiter = forced or _detect_delimiter(lines[i:])
        if delimiter is not None and len([f for f in _split(lines[i], delimiter) if f.strip()]) >= 2:
            return i, delimiter, i
        if any(len([f for f in _split(lines[i], d) if f.strip()]) > 1 for d in _DELIMITERS):
            return i, delimiter, i  # not a title: the header is here, whatever its separator says
    first = next((i for i in range(start, len(lines)) if lines[i].strip()), start)
    return first, forced or _detect_delimiter(lines[first:]), first


def _open_csv(p: Path, data: Path, head: bytes, compressed: bool, robust: bool) -> Source:
    sniffed = sniff(head)
    lines = sniffed.lines
    at, delimiter, skipped = _find_header(lines)
    body = lines[at + 1 :]
    if delimiter is None:
        if len([ln for ln in lines if ln.strip()]) <= 1:
            raise InputError(f"{p}: only a header line and no rows; export the orders again")
        raise InputError(
            f"{p}: cannot tell the column separator (tried comma, semicolon, tab, pipe, spaces); "
            "save it as a comma-separated CSV with a header row"
        )
    first = lines[at]
    headers = [h.strip() for h in _split(first, delimiter)]
    if _looks_like_data(headers):
        raise InputError(
            f"{p}: the first line looks like data, not a header ({first.strip()[:60]!r}); "
            "add a header row naming the columns (e.g. customer_id,date,amount)"
        )
    if not any(ln.strip() for ln in body):
        if len(head) == HEAD_BYTES:
            raise InputError(
                f"{p}: row 1 is longer than {HEAD_BYTES >> 20} MB: a field holds a whole document, or a "
                'quote (") opened in that row is never closed; check that row of the export'
            )
        raise InputError(f"{p}: only a header line and no rows; export the orders again")
    # Excel writes a header cell for every column it saved, named or not: name the empty ones.
    headers = [h or f"column {i + 1}" for i, h in enumerate(headers)]
    dupes = sorted({h for h in headers if headers.count(h) > 1})
    if dupes:
        raise InputError(f"{p}: the header repeats column names {dupes}; rename them so each is unique")
    sample: list[list[str]] = []
    line_breaks = False
    if delimiter != "whitespace":
        try:
            sample = list(csv.reader(io.StringIO("\n".join(body[:2000])), delimiter=delimiter))
        except csv.Error:
            sample = []
        line_breaks = any("\n" in f for row in sample for f in row)
        sample = [row for row in sample if row]
        if sample and all(len(row) == len(headers) + 1 and not row[-1].strip() for row in sample):
            headers.append(f"column {len(headers) + 1}")  # each row ends with a delimiter the header lacks
        if line_breaks and len(head) < HEAD_BYTES:
            check_quotes_close(p, io.StringIO("\n".join(body) + "\n"), delimiter)
    source = Source(p, "csv", headers, "", delimiter=delimiter, compressed=compressed, sample=sample)
    source.robust = robust
    source.parallel = not (line_breaks or robust)
    if robust or sniffed.utf16 or sniffed.fallback or skipped or sniffed.mixed_endings:
        tmp, fallback_lines, utf8_lines = normalise(data, compressed, sniffed.utf16, skipped)
        source.read_path, source._tempfile, source.normalised = tmp, tmp, True
        source.fallback_lines = fallback_lines
        if sniffed.utf16:
            source.encoding = "utf-16"
        elif fallback_lines:
            lines_word = "line" if fallback_lines == 1 else "lines"
            source.encoding = (
                FALLBACK if not utf8_lines else f"utf-8 ({fallback_lines:,} {lines_word} {FALLBACK})"
            )
        if skipped:
            what = "line" if skipped == 1 else "lines"
            source.notes.append(f"skipped {skipped} {what} above the header (title, blank or sep= lines)")
    if delimiter != "whitespace" and len(head) == HEAD_BYTES and not source.read_compressed:
        _check_file_quotes_close(source)
    if delimiter == "whitespace":
        comp = ", compression='gzip'" if source.read_compressed else ""
        raw = (
            f"read_csv({sql_string(str(source.data_path))}, header=false, skip=1, delim='\\x1f', quote='', "
            f"escape='', columns={{'line': 'VARCHAR'}}, auto_detect=false{comp})"
        )
        parts = ", ".join(f"_f[{i + 1}] AS {sql_ident(h)}" for i, h in enumerate(headers))
        source.sql = (
            f"(SELECT {parts} FROM (SELECT regexp_split_to_array(trim(line, ' \t\r'), '\\s+') AS _f "
            f"FROM {raw} WHERE trim(line, ' \t\r') <> ''))"
        )
    else:
        source.sql = source.csv_table({})
    return source


def _check_file_quotes_close(source: Source) -> None:
    """Refuse a file (past its head) where a quote never closes; DuckDB would read every later row as one value.

    A well-formed CSV holds an even number of double quotes (each value's pair, and doubled quotes inside): only
    an odd count costs the row-by-row search.
    """
    if not odd_quotes(source.data_path):
        return
    with open(source.data_path, encoding="utf-8", errors="replace", newline="") as text:
        next(csv.reader(text, delimiter=source.delimiter or ","), None)  # the header
        check_quotes_close(source.path, text, source.delimiter or ",")


def describe_read_error(source: Source, exc: BaseException) -> str:
    """DuckDB's failure to read a CSV, as one line that names the row and the likely cause."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    row = f"row {int(line.group(1)) - 1}" if line else "a row"
    if "Maximum line size" in text:
        size = re.search(r"Actual Size:\s*(\d+)", text)
        mb = f" ({int(size.group(1)) / (1 << 20):.0f} MB)" if size else ""
        return (
            f"{source.path}: {row} is longer than {_MAX_LINE_MB} MB{mb}: a field holds a whole document, or a "
            'quote (") opened in that row is never closed; check that row of the export'
        )
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        return (
            f"{source.path}: {row} has {columns.group(2)} fields where the header has {columns.group(1)}: a "
            f"{_DELIM_NAMES.get(source.delimiter or '', 'separator')} or a quote inside a value is not quoted; "
            "check that row of the export"
        )
    return (
        f"{source.path}: could not be read as {source.describe()} ({_first_line(exc)[:200]}); "
        "check that it is an unmodified export"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
