"""Writing output files so that a reader never sees a half-written one, and never over an input.

Everything is written to a temporary file in the destination folder and renamed over the target only when
complete; on any failure the temporary file is removed and the previous file, if any, is left as it was. A
missing output folder is created only when the file is written, and removed again if that fails. A killed run
leaves its hidden temporary file behind: the next write into that folder removes it.

Text cells a spreadsheet would run as a formula are neutralised by one rule, :func:`neutralise`, with its SQL
twin :func:`neutralise_sql` for files DuckDB writes.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    import duckdb

TABLE_SUFFIXES = (".csv", ".parquet")
TEMP_PREFIX = ".crm-winback-"
# a temporary file whose writer cannot be told from its name is stale after this long
_STALE_SECONDS = 24 * 3600

# the input files of the running command: an output is never written over one of them
_INPUTS: ContextVar[tuple[Path, ...]] = ContextVar("crm_winback_inputs", default=())
# output folders the running command may create (its default output folder), when it writes a file there
_NEW_FOLDERS: ContextVar[tuple[Path, ...]] = ContextVar("crm_winback_new_folders", default=())


@contextmanager
def may_create(folder: str | Path) -> Iterator[None]:
    """Let writes in the block create ``folder`` (e.g. the default ``crm-winback-out``) when they write into it.

    The folder is made only when a file is written, so a refused command leaves no empty folder behind.
    """
    token = _NEW_FOLDERS.set((*_NEW_FOLDERS.get(), Path(folder)))
    try:
        yield
    finally:
        _NEW_FOLDERS.reset(token)


@contextmanager
def reading(*paths: str | Path | None) -> Iterator[None]:
    """Mark ``paths`` as inputs for the duration of the block: :func:`check_output` refuses to write over them."""
    found = tuple(Path(p) for p in paths if p is not None and str(p) != "")
    token = _INPUTS.set(_INPUTS.get() + found)
    try:
        yield
    finally:
        _INPUTS.reset(token)


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file: the same inode (hard links, symlinks) or the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(out: Path, option: str = "-o") -> None:
    """Refuse ``out`` when it is one of the command's input files (see :func:`reading`)."""
    for given in _INPUTS.get():
        if _same_file(out, given):
            raise InputError(
                f"{option} {out}: that is the input file {given}; the input is never overwritten - give "
                "another output file name"
            )


def check_output(path: str | Path, suffixes: Sequence[str] | None = None, option: str = "-o") -> Path:
    """The output path, after checking it is a file name (with one of ``suffixes`` when given), not an input
    file, and that its folder exists (or may be created when the file is written: see :func:`may_create`)."""
    out = Path(path)
    if "\x00" in str(out):
        raise InputError(f"{option} {str(out)!r}: holds a NUL character; give a plain file path")
    if out.is_dir():
        example = out / f"scores{suffixes[0] if suffixes else '.txt'}"
        raise InputError(f"{option} {out}: is a folder; give a file path such as {example}")
    if suffixes is not None and out.suffix.lower() not in suffixes:
        raise InputError(f"{option} {out}: use a {' or '.join(suffixes)} file name")
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise InputError(
            f"{option} {out}: {folder} is a file, not a folder; give a path in an existing folder"
        )
    if folder not in _NEW_FOLDERS.get() and not folder.is_dir():
        raise InputError(f"{option} {out}: the folder {folder} does not exist; create it first")
    if out.exists() and not out.is_file():
        raise InputError(f"{option} {out}: exists and is not a regular file; give another file name")
    check_not_input(out, option)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the hidden temporary files that killed runs left in ``folder``; return what was removed.

    A temporary file is named ``.crm-winback-<pid>-...``: it is stale when that process is gone (a file named
    without a pid, by an older version, when it is a day old). Files of running writers are left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.glob(TEMP_PREFIX + "*"))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", entry.name)
        try:
            if not entry.is_file() or entry.is_symlink():
                continue
            stale = not _alive(int(match.group(1))) if match else now - entry.stat().st_mtime > _STALE_SECONDS
            if stale:
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    return removed


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    A missing folder is created here, at write time, and removed again when the block fails.
    """
    folder = path.parent if str(path.parent) else Path(".")
    created = [p for p in [folder, *folder.parents] if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(folder)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix, dir=folder)
        os.close(fd)
    except OSError as exc:
        _remove_folders(created)
        raise _cannot_write(path, exc) from None
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        _remove_folders(created)
        raise


def _remove_folders(created: list[Path]) -> None:
    """Remove the folders a failed write made, deepest first (they hold nothing then)."""
    for made in created:
        try:
            made.rmdir()
        except OSError:
            break


def _cannot_write(path: Path, exc: OSError | Exception) -> InputError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
    return InputError(f"{path}: cannot be written ({reason}); check the folder's permissions and free space")


def write_text(path: str | Path, text: str, option: str = "-o") -> Path:
    out = check_output(path, option=option)
    with atomic_path(out) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:  # a full disk
            raise _cannot_write(out, exc) from None
    return out


def copy_query(
    con: duckdb.DuckDBPyConnection,
    select_sql: str,
    path: str | Path,
    option: str = "-o",
    text_values: Mapping[str, Collection[str]] | None = None,
) -> Path:
    """Write the rows of ``select_sql`` to a .csv (with header) or .parquet file, atomically.

    CSV text cells are neutralised (:func:`neutralise_sql`); Parquet keeps values as they are (typed cells are
    never run as formulas). ``text_values`` lists every value some text columns can hold (codes and names): a
    column whose values never need quoting or neutralising is written without checking each row. CSV rows keep
    the order of ``select_sql`` where DuckDB keeps it (see :func:`crm_winback.workdb.in_order`).
    """
    from .ingest.reader import sql_string  # here, not at the top: write_text must not load DuckDB

    out = check_output(path, TABLE_SUFFIXES, option)
    if out.suffix.lower() == ".parquet":
        query, fmt = select_sql, "(FORMAT parquet)"
    else:
        query, fmt = (
            csv_lines_sql(con, select_sql, text_values),
            "(FORMAT csv, HEADER true, QUOTE '', ESCAPE '')",
        )
    import duckdb

    with atomic_path(out) as tmp:
        try:
            con.execute(f"COPY ({query}) TO {sql_string(str(tmp))} {fmt}")
        except duckdb.IOException as exc:  # a full disk
            raise _cannot_write(out, exc) from None
    return out


# types whose text is never empty, never holds a comma, a quote or a line break, and is never a formula
# (a negative number is a plain value: see neutralise)
_PLAIN_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT", "FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"}
)  # fmt: skip

# OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets
_FORMULA_START = r"[=+@\t\r-]"
# ... unless it is a plain value a spreadsheet reads as data, which importers need unchanged: a number
# (-5.00, +3, 1e-3), a lone sign, a phone number in international form (+44 7700 900123, +1 (415) 555-0100)
# or an email address that starts with + or - (+eve@shop.test). None of these can call a function or point at
# a cell. The patterns use only ASCII classes, so Python's re and DuckDB's RE2 read them alike (a test runs
# both over the same cells).
_PLAIN_VALUE = (
    r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
    r"|[+-]"
    r"|\+[0-9]([0-9 .()-]*[0-9])?"
    r"|[+-][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)
_START_RE = re.compile(_FORMULA_START)
_PLAIN_RE = re.compile(_PLAIN_VALUE)


def neutralise(text: str) -> str:
    """The cell ``text`` made inert in a spreadsheet: a leading apostrophe when it would start a formula.

    Plain values are never changed: numbers, international phone numbers and email addresses stay as they are,
    so a file imported into Klaviyo or Mailchimp keeps working (``+eve@shop.test``, ``+447700900123``,
    ``-5.00``); ``=HYPERLINK(...)``, ``@SUM(A1)``, ``+1+1``, ``-2+3`` and tab- or CR-led cells get the apostrophe.
    """
    if _START_RE.match(text) and not _PLAIN_RE.fullmatch(text):
        return "'" + text
    return text


def neutralise_sql(expr: str) -> str:
    """:func:`neutralise` as a DuckDB expression over the VARCHAR ``expr`` (NULL stays NULL)."""
    from .ingest.reader import sql_string

    start, plain = sql_string("^" + _FORMULA_START), sql_string(_PLAIN_VALUE)
    return (
        f"CASE WHEN regexp_matches({expr}, {start}) AND NOT regexp_full_match({expr}, {plain})"
        f" THEN concat(chr(39), {expr}) ELSE {expr} END"
    )


def csv_lines_sql(
    con: duckdb.DuckDBPyConnection, select_sql: str, text_values: Mapping[str, Collection[str]] | None = None
) -> str:
    """``select_sql`` as one column of finished CSV lines, named by the finished header line.

    Written with COPY's quoting off, this gives the bytes DuckDB's CSV writer gives (RFC 4180: a field that is
    empty or holds a comma, a double quote or a line break is quoted, its quotes doubled; NULL is nothing), at
    ~25% less CPU: DuckDB builds the lines vectorised, the writer only copies them - except that text cells a
    spreadsheet would run as formulas are neutralised first (:func:`neutralise`). Numbers, dates and booleans
    are written as they are; text fields are checked, except columns whose ``text_values`` need nothing.
    """
    from .ingest.reader import sql_ident

    plain = {name for name, values in (text_values or {}).items() if all(csv_cell(v) == v for v in values)}
    columns = con.execute(f"DESCRIBE {select_sql}").fetchall()
    inner, fields = [], []
    for name, type_, *_ in columns:
        col = sql_ident(name)
        if type_ in _PLAIN_TYPES or type_.startswith("DECIMAL") or name in plain:
            inner.append(col)
            fields.append(f"CAST({col} AS VARCHAR)")
        else:  # neutralised once in the inner query, then quoted
            inner.append(f"{neutralise_sql(f'CAST({col} AS VARCHAR)')} AS {col}")
            fields.append(
                f"""CASE WHEN {col} = '' OR contains({col}, ',') OR contains({col}, '"')"""
                f" OR contains({col}, chr(10)) OR contains({col}, chr(13))"
                f""" THEN '"' || replace({col}, '"', '""') || '"' ELSE {col} END"""
            )
    line = ", ',', ".join(fields)
    header = ",".join(csv_cell(str(c[0])) for c in columns)
    return (
        f"SELECT concat({line}) AS {sql_ident(header)} FROM (SELECT {', '.join(inner)} FROM ({select_sql}))"
    )


def csv_field(text: str) -> str:
    """One CSV field, quoted as DuckDB's CSV writer quotes it."""
    if text == "" or any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_cell(text: str) -> str:
    """One CSV field as our files write it: neutralised (:func:`neutralise`), then quoted (:func:`csv_field`)."""
    return csv_field(neutralise(text))
