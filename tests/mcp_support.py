"""Helpers for the MCP server tests: a server rooted in a temporary folder, and sync calls into it."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from mcp import Client
from mcp.types import CallToolResult

from crm_winback.mcp_server.server import ServerConfig, build_server

from .paths import DATA

ORDERS = DATA / "mcp_orders.csv"
T = TypeVar("T")


def workspace(tmp_path: Path) -> Path:
    """A working folder holding a copy of the fixture, as a user's project would."""
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(ORDERS, work / "orders.csv")
    return work


def server_in(work: Path, **config: Any) -> Any:
    return build_server(ServerConfig(base_dir=work, **config))


def with_client(server: Any, body: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(server) as client:
            return await body(client)

    return anyio.run(main)


def call(server: Any, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
    return with_client(server, lambda c: c.call_tool(name, arguments or {}))


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert "Traceback" not in text and "Error executing tool" not in text, text
    assert "\n" not in text.strip(), f"a tool error is one line: {text!r}"
    return text
