"""The ``crm-winback`` command line: a thin door onto crm_winback.api.

Each command group lives in its own module with ``register(subparsers)``. Errors from the core become one
line on stderr and an exit code: 0 ok, 1 failure, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import CrmError

COMMAND_MODULES = ["score", "mcp", "brief", "segments"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"crm-winback: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="crm-winback",
        description="Score order exports into RFM segments, lifecycle stages and churn risk; build winback briefs.",
        epilog="Example: crm-winback score orders.csv -o scores.csv",
    )
    parser.add_argument("--version", action="version", version=f"crm-winback {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
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
