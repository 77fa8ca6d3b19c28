"""Which files the server may read and where it may write.

Reads are allowed inside the working folder, any ``--allow-dir`` and the output folder; writes only into the
output folder. The customer store (a DuckDB file) follows the same rule: ``store.duckdb`` in the output folder
by default; tools that only read it may open a store anywhere they may read. A path with ``..``, an absolute
path outside those folders, or a symlink that leads out is refused. Messages name the path the caller gave and
the fix; they never quote a file's contents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

DEFAULT_MAX_INPUT_MB = 2048
DEFAULT_STORE = "store.duckdb"
STORE_SUFFIXES = (".duckdb", ".db")
# What Linux allows (PATH_MAX, NAME_MAX); macOS and Windows allow less, never more.
MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255
_SHOWN_CHARS = 300


def escaped(ch: str) -> str:
    """A control or invisible character as an escape (a NUL byte, a line break, a right-to-left override)."""
    return f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch


def shown(text: str) -> str:
    """A caller's path or name as a message may quote it: invisible characters escaped, cut to 300 characters."""
    out = "".join(escaped(ch) for ch in text)
    return out if len(out) <= _SHOWN_CHARS else f"{out[: _SHOWN_CHARS - 3]}... ({len(text):,} characters)"


def check_path_text(text: str, what: str) -> None:
    """Refuse a path no file system can hold, with the reason: a NUL byte, or a path or name over the limits."""
    if "\x00" in text:
        raise InputError(
            f"{what} {shown(text)}: the path contains a NUL byte (character {text.index(chr(0)) + 1}), which no "
            "file name can hold; give the path as it is on disk"
        )
    if len(text) > MAX_PATH_CHARS:
        raise InputError(
            f"{what}: the path is {len(text):,} characters; the limit is {MAX_PATH_CHARS:,}; give the path of "
            "the file as it is on disk"
        )
    for part in Path(text).parts:
        size = len(part.encode("utf-8", errors="surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise InputError(
                f"{what} {shown(text)}: one folder or file name in the path is {size:,} bytes; the limit is "
                f"{MAX_NAME_BYTES}; give the path of the file as it is on disk"
            )


@dataclass
class PathPolicy:
    base_dir: Path
    out_dir: Path
    allow_dirs: Sequence[Path] = field(default_factory=tuple)
    max_input_bytes: int = DEFAULT_MAX_INPUT_MB * 1024 * 1024

    def __post_init__(self) -> None:
        self.base_dir = self.base_dir.resolve()
        out = self.out_dir if self.out_dir.is_absolute() else self.base_dir / self.out_dir
        self.out_dir = out.resolve()
        self.allow_dirs = tuple(d.resolve() for d in self.allow_dirs)

    @property
    def read_roots(self) -> tuple[Path, ...]:
        return (self.base_dir, *self.allow_dirs, self.out_dir)

    def _roots_text(self) -> str:
        return ", ".join(str(r) for r in dict.fromkeys(self.read_roots))

    def input_file(self, text: str, what: str = "path") -> Path:
        """Resolve a file the caller wants read; refuse anything outside the allowed folders."""
        if not text or not text.strip():
            raise InputError(f"{what}: empty; give a file path relative to {self.base_dir}")
        check_path_text(text, what)
        given = Path(text.strip()).expanduser()
        if ".." in given.parts:
            raise InputError(
                f"{what} {shown(text)}: paths with '..' are refused; give a path inside {self._roots_text()}"
            )
        candidate = given if given.is_absolute() else self.base_dir / given
        real = _resolve(candidate, text, what)
        if not _inside_any(real, self.read_roots):
            if _inside_any(candidate, self.read_roots):
                raise InputError(
                    f"{what} {shown(text)}: a symbolic link that leads outside the allowed folders; copy the file itself "
                    f"into {self.base_dir} or restart the server with --allow-dir FOLDER"
                )
            raise InputError(
                f"{what} {shown(text)}: outside the folders this server may read ({self._roots_text()}); move the file "
                "there or restart the server with --allow-dir FOLDER"
            )
        if not real.exists():
            raise InputError(
                f"{what} {shown(text)}: no such file (relative paths start at {self.base_dir}); check the name"
            )
        if real.is_dir():
            raise InputError(f"{what} {shown(text)}: a folder, not a file; give the file inside it")
        if not real.is_file():
            raise InputError(
                f"{what} {shown(text)}: not a regular file (a named pipe, socket or device); save the export as a "
                "file and give that"
            )
        size = real.stat().st_size
        if size > self.max_input_bytes:
            raise InputError(
                f"{what} {shown(text)}: {size / 1024 / 1024:,.0f} MB is over this server's limit of "
                f"{self.max_input_bytes / 1024 / 1024:,.0f} MB; restart it with a larger --max-input-mb or run "
                "the crm-winback CLI on the file"
            )
        return real

    def output_file(
        self, name: str, suffixes: Sequence[str], what: str = "output_name", inputs: Sequence[Path] = ()
    ) -> Path:
        """A file in the output folder (created on first use) named ``name``; bare file names only.

        ``inputs`` are the files the call reads: an output never replaces one of them.
        """
        check_path_text(name, what)
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
            raise InputError(
                f"{what} {shown(name)}: holds a control or invisible character; give a plain file name such as "
                "scores.csv"
            )
        if not name or Path(name).name != name or name.startswith(".") or "\\" in name:
            raise InputError(
                f"{what} {shown(name)!r}: give a plain file name such as scores.csv; files are always written to "
                f"{self.out_dir}"
            )
        if Path(name).suffix.lower() not in suffixes:
            raise InputError(f"{what} {shown(name)}: use one of {', '.join(suffixes)} as the file extension")
        target = self.out_dir / name
        refuse_overwrite(target, inputs, what, name)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise InputError(
                f"{what} {shown(name)}: exists in {self.out_dir} and is not a plain file; pick another name"
            )
        return target

    def new_output_file(self, name: str, suffixes: Sequence[str], what: str = "output_name") -> Path:
        """Like :meth:`output_file`, but never an existing file: ``brief.md``, then ``brief-2.md``, ..."""
        target = self.output_file(name, suffixes, what)
        stem, suffix = target.stem, target.suffix
        n = 1
        while target.exists() or target.is_symlink():
            n += 1
            target = self.out_dir / f"{stem}-{n}{suffix}"
        return target

    def store_file(self, text: str | None, write: bool, what: str = "db_path") -> Path:
        """The customer store: ``store.duckdb`` in the output folder unless ``text`` names another one.

        A store a tool writes to must lie in the output folder; one it only reads may lie in any folder this
        server reads, and must exist.
        """
        label = text if text is not None else DEFAULT_STORE
        if text is None:
            candidate = self.out_dir / DEFAULT_STORE
        else:
            if not text.strip():
                raise InputError(f"{what}: empty; leave it out to use {self.out_dir / DEFAULT_STORE}")
            check_path_text(text, what)
            given = Path(text.strip()).expanduser()
            if ".." in given.parts:
                raise InputError(
                    f"{what} {shown(label)}: paths with '..' are refused; give a path inside {self._roots_text()}"
                )
            if given.suffix.lower() not in STORE_SUFFIXES:
                raise InputError(
                    f"{what} {shown(label)}: a customer store is a DuckDB file ending in .duckdb (or .db); leave {what} out to "
                    f"use {self.out_dir / DEFAULT_STORE}"
                )
            candidate = given if given.is_absolute() else self.base_dir / given
        real = _resolve(candidate, label, what)
        roots = (self.out_dir,) if write else self.read_roots
        if not _inside_any(real, roots):
            if _inside_any(candidate, roots):
                raise InputError(
                    f"{what} {shown(label)}: a symbolic link that leads outside the allowed folders; give the store "
                    "file itself"
                )
            if write and _inside_any(real, self.read_roots):
                raise InputError(
                    f"{what} {shown(label)}: this tool writes to the store and the server writes only into "
                    f"{self.out_dir}; leave {what} out to use {DEFAULT_STORE} there, or give a path inside it"
                )
            raise InputError(
                f"{what} {shown(label)}: outside the folders this server may read ({self._roots_text()}); leave "
                f"{what} out to use {self.out_dir / DEFAULT_STORE}"
            )
        if real.is_dir():
            raise InputError(
                f"{what} {shown(label)}: a folder, not a store file; give the .duckdb file inside it"
            )
        if real.exists() and not real.is_file():
            raise InputError(f"{what} {shown(label)}: not a regular file (a named pipe, socket or device)")
        if write:
            real.parent.mkdir(parents=True, exist_ok=True)
        elif not real.exists():
            raise InputError(
                f"no customer store at {real} yet; save a snapshot first with save_snapshot (it creates "
                f"{DEFAULT_STORE} in {self.out_dir})"
            )
        return real


def refuse_overwrite(target: Path, inputs: Sequence[Path], what: str, name: str) -> None:
    """Refuse an output that would replace a file the same call reads (its input is never written over)."""
    for source in inputs:
        if target.resolve() == source.resolve():
            raise InputError(
                f"{what} {shown(name)}: is the input file {shown(str(source))}; pick another name (an input is "
                "never written over)"
            )


def _resolve(candidate: Path, text: str, what: str) -> Path:
    try:
        return candidate.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before Python 3.13)
        raise InputError(
            f"{what} {shown(text)}: a symbolic link that leads to itself; give the file itself"
        ) from None


def _inside_any(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)
