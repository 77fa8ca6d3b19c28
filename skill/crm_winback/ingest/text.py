"""The raw text of a CSV export: sniffing the first megabyte, decoding line by line, rewriting.

Decoding is per line: UTF-8 first, and only a line that is not UTF-8 falls back to cp1252 (latin-1 for the five
bytes cp1252 leaves undefined), so one stray byte never turns every correct accent into mojibake. A file DuckDB
cannot read as it stands (UTF-16, lines above the header, mixed line endings, a line that is not UTF-8) is
rewritten into a temporary UTF-8 copy with LF line endings that starts at the header (:func:`normalise`).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import select
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from ..errors import InputError

HEAD_BYTES = 1 << 20  # what is sniffed: the first megabyte
PIPE_WAIT_SECONDS = 3.0  # how long a named pipe may stay silent before we stop waiting for its writer
FALLBACK = "cp1252"


_FIELD_LIMIT_LOCK = threading.Lock()


@contextmanager
def long_csv_fields() -> Iterator[None]:
    """Let Python's csv module read fields of any length (a long Shopify note) while sniffing an export.

    The limit is process-wide, so it is raised only for the block and then put back: other readers (the
    suppression file, for one) keep refusing over-long cells.
    """
    with _FIELD_LIMIT_LOCK:
        old = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            yield
        finally:
            csv.field_size_limit(old)


def open_binary(path: Path, compressed: bool) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if compressed else open(path, "rb")


def read_head(path: Path, compressed: bool) -> bytes:
    try:
        with open_binary(path, compressed) as fh:
            return fh.read(HEAD_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}); check that the file is complete") from None


def decode_line(raw: bytes) -> tuple[str, bool]:
    """One line's text, and whether it needed the cp1252 fallback (it is not UTF-8)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        try:
            return raw.decode(FALLBACK), True
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            return raw.decode("latin-1"), True


def utf16_encoding(head: bytes) -> str | None:
    """'utf-16' for a UTF-16 BOM, 'utf-16-le'/'-be' for BOM-less UTF-16 text (every other byte NUL)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4000]
    if len(sample) >= 8 and b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return None


def copy_pipe(p: Path) -> Path:
    """Read a named pipe (or ``<(...)``) once into a temporary file; refuse when nothing writes to it."""
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(int(PIPE_WAIT_SECONDS * 1000)):
            raise InputError(
                f"{p}: is a named pipe and nothing wrote to it within {PIPE_WAIT_SECONDS:g} seconds; "
                "give the export file itself, or start the program that writes to the pipe"
            )
        os.set_blocking(fd, True)
        out_fd, name = tempfile.mkstemp(prefix="crm-winback-pipe-")
        with os.fdopen(out_fd, "wb") as dst:
            while chunk := os.read(fd, 1 << 20):
                dst.write(chunk)
        return Path(name)
    finally:
        os.close(fd)


@dataclass
class Head:
    """What the first megabyte says about a CSV."""

    lines: list[str]  # decoded, without line endings; the last (possibly cut) line dropped
    utf16: str | None
    fallback: bool  # a line of the head is not UTF-8
    mixed_endings: bool  # both CRLF and bare LF end lines


def sniff(head: bytes) -> Head:
    """The head's lines, decoded, and what they say about the encoding and the line endings."""
    utf16 = utf16_encoding(head)
    full = len(head) == HEAD_BYTES
    fallback = False
    if utf16:
        cut = head[: len(head) - (len(head) % 2)]
        text = cut.decode(utf16, errors="replace")
        raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        crlf = bare = 0
    else:
        crlf = head.count(b"\r\n")
        bare = head.count(b"\n") - crlf
        # a file with CR alone ends its lines like old Mac Excel
        parts = head.split(b"\r") if crlf == 0 and bare == 0 else head.split(b"\n")
        if full and len(parts) > 1:
            parts = parts[:-1]  # the last line may be cut by the read window (even inside a character)
        raw_lines = []
        for part in parts:
            line, fell_back = decode_line(part.rstrip(b"\r"))
            raw_lines.append(line)
            fallback = fallback or fell_back
    if utf16 and full and len(raw_lines) > 1:
        raw_lines = raw_lines[:-1]
    if raw_lines:
        raw_lines[0] = raw_lines[0].lstrip("\ufeff")
    return Head(raw_lines, utf16, fallback, crlf > 0 and bare > 0)


def odd_quotes(path: Path) -> bool:
    """Whether the file holds an odd number of double quotes (one pass over the bytes, ~0.2 s per GB)."""
    odd = False
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(16 << 20), b""):
            odd ^= chunk.count(b'"') % 2 == 1
    return odd


def check_quotes_close(p: Path, text: IO[str], delimiter: str) -> None:
    """Refuse text (the data rows) where a quote opens a value and never closes: it swallows every row after."""
    rows = 0
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        for _ in reader:
            rows += 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise InputError(
                f'{p}: row {rows + 1}: a quote (") opens a value that never closes, so every row after it would '
                'be read as part of that value; remove the stray quote or double it ("")'
            ) from None


def normalise(data: Path, compressed: bool, utf16: str | None, skip: int) -> tuple[Path, int, int]:
    """A UTF-8 copy with LF line endings from the header line on; (path, cp1252 lines, non-ASCII UTF-8 lines)."""
    fd, name = tempfile.mkstemp(prefix="crm-winback-", suffix=".csv")
    fallback = utf8 = 0
    try:
        with open_binary(data, compressed) as src, os.fdopen(fd, "wb") as dst:
            if utf16:
                text = io.TextIOWrapper(src, encoding=utf16, errors="replace", newline="")
                for number, line in enumerate(text):
                    if number >= skip:
                        dst.write(line.rstrip("\r\n").lstrip("\ufeff").encode("utf-8") + b"\n")
            else:
                for number, raw in enumerate(_binary_lines(src)):
                    if number < skip:
                        continue
                    raw = raw.rstrip(b"\r\n")
                    if number == 0:
                        raw = raw.removeprefix(b"\xef\xbb\xbf")
                    if not raw.isascii():
                        line, fell_back = decode_line(raw)
                        if fell_back:
                            fallback += 1
                            raw = line.encode("utf-8")
                        else:
                            utf8 += 1
                    dst.write(raw + b"\n")
    except (OSError, EOFError) as exc:
        Path(name).unlink(missing_ok=True)
        raise InputError(f"{data}: cannot be read ({exc}); check that the file is complete") from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), fallback, utf8


def _binary_lines(src: IO[bytes]) -> Iterator[bytes]:
    """Lines ending in LF (or CRLF); a file with CR alone (old Mac Excel) is split on CR."""
    first = src.read(HEAD_BYTES)
    if b"\n" not in first and b"\r" in first:
        yield from (first + src.read()).split(b"\r")
        return
    carry = b""
    for chunk in itertools.chain((first,), iter(lambda: src.read(1 << 20), b"")):
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        yield from lines
    if carry:
        yield carry
