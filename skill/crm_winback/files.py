"""Writing output files so that a reader never sees a half-written one.

Everything is written to a temporary file in the destination folder and renamed over the target only when
complete; on any failure the temporary file is removed and the previous file, if any, is left as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    import duckdb

TABLE_SUFFIXES = (".csv", ".parquet")


def check_output(path: str | Path, suffixes: Sequence[str] | None = None, option: str = "-o") -> Path:
    """The output path, after checking its folder exists and (when given) its extension is one of ``suffixes``."""
    out = Path(path)
    if suffixes is not None and out.suffix.lower() not in suffixes:
        raise InputError(f"{option} {out}: use a {' or '.join(suffixes)} file name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{option} {out}: the folder {folder} does not exist; create it first")
    return out


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    The temporary file's name holds the writer's process id, so a later run can tell the leftovers of a
    killed run (its process is gone) from a file another run is still writing, and removes them.
    """
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temp_files(folder)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix, dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_TEMP_PREFIX = ".crm-winback-"
# .crm-winback-<pid>-<8 random characters><suffix>; before process ids were in the name: no <pid>-
_TEMP_NAME = re.compile(r"\.crm-winback-(?:(\d+)-)?[a-z0-9_]{8}(\.[A-Za-z0-9]+)?")
_UNOWNED_TEMP_AGE = 24 * 3600  # seconds after which a temporary file whose writer cannot be told is stale


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files that killed runs left in ``folder``; return what was removed."""
    removed: list[Path] = []
    try:
        found = [p for p in folder.iterdir() if p.name.startswith(_TEMP_PREFIX)]
    except OSError:
        return removed
    for temp in found:
        match = _TEMP_NAME.fullmatch(temp.name)
        if match is None or temp.is_symlink() or not temp.is_file():
            continue
        pid = int(match.group(1)) if match.group(1) else None
        stale = False
        if pid is not None and os.name == "posix":
            stale = pid != os.getpid() and not _running(pid)
        else:
            with suppress(OSError):
                stale = time.time() - temp.stat().st_mtime > _UNOWNED_TEMP_AGE
        if stale:
            with suppress(OSError):
                temp.unlink()
                removed.append(temp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal, only the check that the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to another user, or the check is not allowed
        return True
    return True


def write_text(path: str | Path, text: str, option: str = "-o") -> Path:
    out = check_output(path, option=option)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return out


def copy_query(
    con: duckdb.DuckDBPyConnection,
    select_sql: str,
    path: str | Path,
    option: str = "-o",
    text_values: Mapping[str, Collection[str]] | None = None,
) -> Path:
    """Write the rows of ``select_sql`` to a .csv (with header) or .parquet file, atomically.

    ``text_values`` lists every value some text columns can hold (codes and names): a column whose values
    never need quoting is written without checking each row. CSV rows keep the order of ``select_sql`` where
    DuckDB keeps it (see :func:`crm_winback.workdb.in_order`).
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
    with atomic_path(out) as tmp:
        con.execute(f"COPY ({query}) TO {sql_string(str(tmp))} {fmt}")
    return out


# types whose text is never empty and never holds a comma, a quote or a line break
_PLAIN_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT", "FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"}
)  # fmt: skip


def csv_lines_sql(
    con: duckdb.DuckDBPyConnection, select_sql: str, text_values: Mapping[str, Collection[str]] | None = None
) -> str:
    """``select_sql`` as one column of finished CSV lines, named by the finished header line.

    Written with COPY's quoting off, this gives the bytes DuckDB's CSV writer gives (RFC 4180: a field that is
    empty or holds a comma, a double quote or a line break is quoted, its quotes doubled; NULL is nothing), at
    ~25% less CPU: DuckDB builds the lines vectorised, the writer only copies them. Numbers, dates and
    booleans are written as they are; text fields are checked for quoting, except columns whose
    ``text_values`` need none.
    """
    from .ingest.reader import sql_ident

    plain = {name for name, values in (text_values or {}).items() if all(csv_field(v) == v for v in values)}
    columns = con.execute(f"DESCRIBE {select_sql}").fetchall()
    fields = []
    for name, type_, *_ in columns:
        text = f"CAST({sql_ident(name)} AS VARCHAR)"
        if type_ in _PLAIN_TYPES or type_.startswith("DECIMAL") or name in plain:
            fields.append(text)
        else:
            fields.append(
                f"""CASE WHEN {text} = '' OR contains({text}, ',') OR contains({text}, '"')"""
                f" OR contains({text}, chr(10)) OR contains({text}, chr(13))"
                f""" THEN '"' || replace({text}, '"', '""') || '"' ELSE {text} END"""
            )
    line = ", ',', ".join(fields)
    header = ",".join(csv_field(str(c[0])) for c in columns)
    return f"SELECT concat({line}) AS {sql_ident(header)} FROM ({select_sql})"


def csv_field(text: str) -> str:
    """One CSV field, quoted as DuckDB's CSV writer quotes it."""
    if text == "" or any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
