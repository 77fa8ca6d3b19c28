"""The ``crm-winback`` command line: a thin door onto crm_winback.api.

Each command group lives in its own module with ``register(subparsers)``. Errors from the core become one
line on stderr and an exit code: 0 ok, 1 failure, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# One BLAS thread, set before NumPy loads (a user's own setting wins): the models' matrix products are small and
# scipy's optimizer steps tiny, and OpenBLAS's idle threads spin between them. On two cores they doubled the
# fits' CPU-seconds (CDNOW's backtest fits 2.36 -> 0.84 CPU-s with one thread, the same parameters).
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def _keep_freed_blocks() -> None:
    """Let glibc keep freed blocks up to 4 MB in the heap (and up to 64 MB free at its top).

    By default it hands every freed block over 128 KB back to the system and maps the next one afresh, so the
    fits' NumPy temporaries page-fault on every likelihood evaluation: 0.6 of CDNOW's 0.8 system CPU-seconds in
    ``score --predict``. Larger blocks (a column of millions of customers) still go back at once: kept, they
    raised the 10M-line peak by 0.4 GB at 32 MB. A user's own MALLOC_* setting wins; other C libraries (musl,
    macOS) are left alone.
    """
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, 4 << 20)
    mallopt(m_trim_threshold, 64 << 20)


from .. import __version__  # noqa: E402
from ..errors import CrmError  # noqa: E402
from ..files import reading  # noqa: E402

# module -> the commands it registers. A command loads only its own module, so ``crm-winback mcp`` starts
# without importing DuckDB, Jinja2 or NumPy; ``--help`` loads them all. A test keeps this table true.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "score": ("profile", "score"),
    "brief": ("brief", "ltv-plan", "programme", "priority", "check", "schema"),
    "calendar": ("calendar",),
    "segments": ("segments", "snapshot", "export", "cohorts"),
    "predict": ("predict", "validate"),
    "report": ("report",),
    "products": ("products",),
    "monthly": ("monthly",),
    "mcp": ("mcp",),
    "sql": ("sql",),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"crm-winback: {message} (see --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for ``command`` alone when it is given and known."""
    parser = _Parser(
        prog="crm-winback",
        description="Score order exports into RFM segments, lifecycle stages and churn risk; build winback briefs.",
        epilog="Example: crm-winback score orders.csv -o scores.csv",
    )
    parser.add_argument("--version", action="version", version=f"crm-winback {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules = [m for m, commands in COMMAND_MODULES.items() if command in commands] or list(COMMAND_MODULES)
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((w for w in words if not w.startswith("-")), None))
    args = parser.parse_args(words)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with reading(*_input_paths(args)):
            return int(args.handler(args) or 0)
    except CrmError as exc:
        print(f"crm-winback: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("crm-winback: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except MemoryError:
        print(
            "crm-winback: error: out of memory; try a smaller file or a machine with more memory",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        print(
            f"crm-winback: internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "please report it with the command you ran",
            file=sys.stderr,
        )
        return 1


def _input_paths(args: argparse.Namespace) -> list[str]:
    """Every existing file named by an argument other than ``-o``: no command writes its output over one."""
    found = []
    for name, value in vars(args).items():
        if name != "output" and isinstance(value, str) and value and "\x00" not in value:
            try:
                if os.path.isfile(value):
                    found.append(value)
            except (OSError, ValueError):
                continue
    return found


def run() -> NoReturn:
    """The ``crm-winback`` console script."""
    _keep_freed_blocks()
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Flush the standard streams and exit without the interpreter's teardown.

    Unloading pydantic's schemas and DuckDB at exit takes ~0.1 s, a tenth of scoring 100k order lines. When
    main() has returned, every output file is written and renamed and every database connection closed (the
    code closes them in ``finally`` blocks), so only the standard streams are left to flush.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (crm-winback ... | head) or a full disk: nothing more to say
        code = code or 1
    os._exit(code)
