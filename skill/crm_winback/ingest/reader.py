"""Open an export file of any supported kind as a DuckDB relation of text columns.

Supported: CSV (comma, semicolon, tab, pipe, or runs of whitespace), gzip-compressed CSV, Parquet, JSON
(an array of records) and NDJSON. Text is read as UTF-8 (with or without BOM); files that are not valid UTF-8
are detected as cp1252 or latin-1 and transcoded, never read as mojibake. Every column comes back as VARCHAR
so that ids keep their leading zeros and parsing of dates and money stays ours.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import InputError

_HEAD_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "whitespace": "runs of whitespace"}


@dataclass
class Source:
    """A file opened for reading: how it was read, and the SQL that yields its rows."""

    path: Path
    kind: str  # csv | parquet | json
    headers: list[str]
    sql: str  # a table expression; every column VARCHAR, named as in the header
    encoding: str = "utf-8"
    delimiter: str | None = None
    compressed: bool = False
    notes: list[str] = field(default_factory=list)
    sample: list[list[str]] = field(default_factory=list)  # the first data rows (CSV only)
    _tempfile: Path | None = None

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
        if self._tempfile is not None:
            self._tempfile.unlink(missing_ok=True)
            self._tempfile = None


def sql_string(value: str) -> str:
    """Quote a string literal for DuckDB (for file paths in table functions, which take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_head(path: Path, compressed: bool) -> bytes:
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}); check that the file is complete") from None


def detect_encoding(head: bytes) -> str:
    """utf-8 when the bytes decode as UTF-8; cp1252 when they use its 0x80-0x9F characters; else latin-1."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if len(head) == _HEAD_BYTES and exc.start >= len(head) - 3:  # a character cut by the read window
            return "utf-8"
    if re.search(rb"[\x80-\x9f]", head):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def _detect_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the header and the next lines into the same number (> 1) of fields."""
    sample = [line for line in lines[:50] if line.strip()]
    if not sample:
        return None
    best: tuple[int, str] | None = None
    for delim in _DELIMITERS:
        counts = [len(row) for row in csv.reader(sample, delimiter=delim)]
        consistent = counts[0] > 1 and all(c == counts[0] for c in counts)
        if consistent and (best is None or counts[0] > best[0]):
            best = (counts[0], delim)
    if best:
        return best[1]
    counts = [len(line.split()) for line in sample]
    if counts[0] > 1 and all(c == counts[0] for c in counts):
        return "whitespace"
    return None


def _looks_like_data(fields: list[str]) -> bool:
    """A first line made mostly of numbers and dates is data, not a header."""
    numeric = sum(bool(re.fullmatch(r"[-+$€£(]?[\d.,:/ -]+\)?", f.strip())) for f in fields if f.strip())
    return numeric >= max(1, len([f for f in fields if f.strip()]) // 2 + 1)


class NotUtf8Error(Exception):
    """Raised by readers when bytes past the sniffed head turn out not to be UTF-8."""


def detect_file_encoding(path: Path, compressed: bool) -> str:
    """The encoding of the whole file (the head alone said UTF-8 but a later byte is not)."""
    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        data = fh.read()
    return detect_encoding(data)


def open_source(path: str | os.PathLike[str], encoding: str | None = None) -> Source:
    """Sniff ``path`` and return a :class:`Source`. Raises :class:`InputError` for anything unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; check the path (relative paths start from {Path.cwd()})")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the export file inside it")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty; export the orders again")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    suffixes = [s.lower() for s in p.suffixes]
    if magic == b"PAR1" or suffixes[-1:] == [".parquet"]:
        return _open_parquet(p)
    compressed = magic[:2] == b"\x1f\x8b"
    head = _read_head(p, compressed)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise InputError(f"{p}: the file holds no data; export the orders again")
    is_json_suffix = any(s in (".json", ".ndjson", ".jsonl") for s in suffixes)
    if stripped[:1] in (b"[", b"{") or is_json_suffix:
        return _open_json(p, stripped[:1])
    return _open_csv(p, head, compressed, encoding)


def _open_parquet(p: Path) -> Source:
    con = duckdb.connect()
    try:
        cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(p))})").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{p}: not a readable Parquet file ({_first_line(exc)})") from None
    finally:
        con.close()
    headers = [c[0] for c in cols]
    select = ", ".join(f"CAST({sql_ident(h)} AS VARCHAR) AS {sql_ident(h)}" for h in headers)
    return Source(p, "parquet", headers, f"(SELECT {select} FROM read_parquet({sql_string(str(p))}))")


def _open_json(p: Path, first: bytes) -> Source:
    fmt = "array" if first == b"[" else "newline_delimited"
    reader = f"read_json({sql_string(str(p))}, format='{fmt}', sample_size=-1)"
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
    select = ", ".join(f"CAST({sql_ident(h)} AS VARCHAR) AS {sql_ident(h)}" for h in headers)
    kind_note = "JSON array" if fmt == "array" else "NDJSON"
    return Source(p, "json", headers, f"(SELECT {select} FROM {reader})", notes=[kind_note])


def _open_csv(p: Path, head: bytes, compressed: bool, encoding: str | None = None) -> Source:
    encoding = encoding or detect_encoding(head)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) == _HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut by the read window
    delimiter = _detect_delimiter(lines)
    if delimiter is None:
        if len([ln for ln in lines if ln.strip()]) <= 1:
            raise InputError(f"{p}: only a header line and no rows; export the orders again")
        raise InputError(
            f"{p}: cannot tell the column separator (tried comma, semicolon, tab, pipe, spaces); "
            "save it as a comma-separated CSV with a header row"
        )
    first = lines[0]
    headers = first.split() if delimiter == "whitespace" else next(csv.reader([first], delimiter=delimiter))
    headers = [h.strip() for h in headers]
    if _looks_like_data(headers):
        raise InputError(
            f"{p}: the first line looks like data, not a header ({first.strip()[:60]!r}); "
            "add a header row naming the columns (e.g. customer_id,date,amount)"
        )
    if len([ln for ln in lines if ln.strip()]) <= 1:
        raise InputError(f"{p}: only a header line and no rows; export the orders again")
    dupes = sorted({h for h in headers if headers.count(h) > 1})
    if dupes:
        raise InputError(f"{p}: the header repeats column names {dupes}; rename them so each is unique")
    read_path, tmp = p, None
    duck_encoding = encoding
    if encoding == "cp1252":
        tmp = _transcode_to_utf8(p, compressed, encoding)
        read_path, duck_encoding, compressed_read = tmp, "utf-8", False
    else:
        compressed_read = compressed
    comp = ", compression='gzip'" if compressed_read else ""
    enc = ", encoding='latin-1'" if duck_encoding == "latin-1" else ""
    if delimiter == "whitespace":
        raw = (
            f"read_csv({sql_string(str(read_path))}, header=false, skip=1, delim='\\x1f', quote='', "
            f"escape='', columns={{'line': 'VARCHAR'}}, auto_detect=false{comp}{enc})"
        )
        parts = ", ".join(f"_f[{i + 1}] AS {sql_ident(h)}" for i, h in enumerate(headers))
        sql = (
            f"(SELECT {parts} FROM (SELECT regexp_split_to_array(trim(line, ' \t\r'), '\\s+') AS _f "
            f"FROM {raw} WHERE trim(line, ' \t\r') <> ''))"
        )
    else:
        columns = ", ".join(f"{sql_string(h)}: 'VARCHAR'" for h in headers)  # all given: no sniffing
        sql = (
            f"read_csv({sql_string(str(read_path))}, header=true, delim={sql_string(delimiter)}, "
            f"quote='\"', escape='\"', columns={{{columns}}}, auto_detect=false, null_padding=true{comp}{enc})"
        )
    source = Source(p, "csv", headers, sql, encoding=encoding, delimiter=delimiter, compressed=compressed)
    source._tempfile = tmp
    if delimiter != "whitespace":
        source.sample = list(csv.reader(lines[1:2001], delimiter=delimiter))
    if encoding != "utf-8":
        source.notes.append(f"text is not UTF-8; read as {encoding}")
    return source


def _transcode_to_utf8(p: Path, compressed: bool, encoding: str) -> Path:
    """DuckDB reads UTF-8 and latin-1 only; cp1252 goes through a temporary UTF-8 copy."""
    opener = gzip.open if compressed else open
    fd, name = tempfile.mkstemp(prefix="crm-winback-", suffix=".csv")
    with opener(p, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        reader = io.TextIOWrapper(src, encoding=encoding, errors="strict", newline="")
        try:
            for chunk in iter(lambda: reader.read(1 << 20), ""):
                dst.write(chunk)
        except UnicodeDecodeError as exc:
            Path(name).unlink(missing_ok=True)
            raise InputError(
                f"{p}: mixes text encodings (byte {exc.start} is not {encoding}); re-export the file as UTF-8"
            ) from None
    return Path(name)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
