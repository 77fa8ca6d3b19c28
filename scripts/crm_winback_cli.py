#!/usr/bin/env python3
"""Run the crm-winback CLI from the skill folder, for hosts that call scripts rather than tools.

Uses the installed package when there is one, else the source tree next to this script (``skill/``). The
dependencies (duckdb, pydantic, ...) must be installed either way; the message says how when they are not.
Run ``python3 scripts/crm_winback_cli.py --help`` first.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "skill"


def main() -> int:
    try:
        import crm_winback  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(SOURCE))
    try:
        from crm_winback.cli import exit_now
        from crm_winback.cli import main as cli_main

        code = cli_main(sys.argv[1:])
    except ModuleNotFoundError as exc:
        print(
            f"crm-winback: the Python package {exc.name!r} is missing; install the tool with "
            "'uv tool install crm-segment-winback' (or 'pip install -e .' in this folder)",
            file=sys.stderr,
        )
        return 1
    exit_now(code)


if __name__ == "__main__":
    sys.exit(main())
