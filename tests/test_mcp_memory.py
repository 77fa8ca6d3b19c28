"""1,000 sequential calls in one session leave the server's memory footprint flat."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from mcp import Client

from .mcp_support import server_in, with_client, workspace

STATM = Path("/proc/self/statm")


def _rss_bytes() -> int:
    import os

    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not STATM.exists(), reason="needs /proc/self/statm (Linux) to read the resident size")
def test_a_thousand_calls_do_not_grow_memory(tmp_path: Path) -> None:
    server = server_in(workspace(tmp_path))

    async def calls(client: Client) -> list[int]:
        scored = await client.call_tool("score_customers", {"file": "orders.csv"})
        args = {"scores_file": scored.structured_content["scores_file"], "limit": 2}  # type: ignore[index]
        samples = []
        for i in range(1200):
            result = await client.call_tool("preview_customers", args)
            assert not result.is_error
            if i in (199, 1199):  # after a warm-up of 200 calls, then after 1,000 more
                gc.collect()
                samples.append(_rss_bytes())
        return samples

    warm, end = with_client(server, calls)
    assert end - warm < 8 * 1024 * 1024, f"grew by {(end - warm) / 1e6:.1f} MB over 1,000 calls"
