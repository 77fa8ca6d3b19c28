"""``python -m crm_winback.mcp_server``: the stdio server without loading the rest of the CLI."""

from __future__ import annotations

import argparse
import sys

from ..cli.mcp import add_arguments, run
from ..errors import CrmError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_winback.mcp_server", description=run.__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args())
    except CrmError as exc:
        print(f"crm-winback mcp: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
