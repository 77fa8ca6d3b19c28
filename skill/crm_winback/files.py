"""Writing output files so that a reader never sees a half-written one.

Everything is written to a temporary file in the destination folder and renamed over the target only when
complete; on any failure the temporary file is removed and the previous file, if any, is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds."""
    fd, tmp = tempfile.mkstemp(
        prefix=".crm-winback-", suffix=path.suffix, dir=path.parent if str(path.parent) else "."
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, option: str = "-o") -> Path:
    out = check_output(path, option=option)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return out


def copy_query(con: duckdb.DuckDBPyConnection, select_sql: str, path: str | Path, option: str = "-o") -> Path:
    """Write the rows of ``select_sql`` to a .csv (with header) or .parquet file, atomically."""
    from .ingest.reader import sql_string  # here, not at the top: write_text must not load DuckDB

    out = check_output(path, TABLE_SUFFIXES, option)
    fmt = "(FORMAT parquet)" if out.suffix.lower() == ".parquet" else "(FORMAT csv, HEADER true)"
    with atomic_path(out) as tmp:
        con.execute(f"COPY ({select_sql}) TO {sql_string(str(tmp))} {fmt}")
    return out
