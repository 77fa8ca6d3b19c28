"""``crm-winback mcp``: serve the tools to an agent over stdio (Claude Code, OpenClaw, any MCP client)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_OUT_DIR = "crm-winback-out"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "mcp",
        help="run the MCP tool server over stdio (for Claude Code, OpenClaw and other agents)",
        description="Serve crm-winback's tools over MCP on stdin/stdout. The server reads files only inside the "
        "working folder and each --allow-dir, and writes only into --out-dir.",
        epilog="Examples: crm-winback mcp\n"
        "          crm-winback mcp --allow-dir ~/exports --out-dir ./crm-winback-out\n"
        "          claude mcp add --transport stdio crm-winback -- crm-winback mcp",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder the server may read files from (repeatable); the working folder always is",
    )
    p.add_argument(
        "--out-dir",
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help=f"the only folder the server writes to (default: ./{DEFAULT_OUT_DIR}, created on first write)",
    )
    p.add_argument(
        "--max-input-mb",
        type=int,
        default=None,
        metavar="MB",
        help="refuse input files larger than this (default: 2048)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the crm-winback MCP server over stdio."""
    # Imported here: the SDK is slow to import and no other command needs it.
    from ..errors import InputError
    from ..mcp_server.server import ServerConfig, build_server

    allow = [Path(d).expanduser() for d in args.allow_dir]
    for folder in allow:
        if not folder.is_dir():
            raise InputError(f"--allow-dir {folder}: no such folder; create it or fix the path")
    config = ServerConfig(out_dir=Path(args.out_dir).expanduser(), allow_dirs=allow)
    if args.max_input_mb is not None:
        if args.max_input_mb < 1:
            raise InputError("--max-input-mb: give a whole number of megabytes, 1 or more")
        config.max_input_mb = args.max_input_mb
    build_server(config).run("stdio")
    return 0
