"""The import graph between crm_winback's packages: the core never imports the doors, and no two packages
import each other (STYLE.md: one direction)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import crm_winback

ROOT = Path(crm_winback.__file__).parent
DOORS = {"cli", "mcp_server", "__main__"}
# Known pairs still to untangle: segments/api.py orchestrates like the top-level api (which saves snapshots
# through segments.store), and `python -m crm_winback.mcp_server` reuses the CLI's `mcp` arguments.
KNOWN = {("api", "segments"), ("cli", "mcp_server")}


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        source = parts[0].removesuffix(".py")
        module = ["crm_winback", *(p.removesuffix(".py") for p in parts)]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) and not isinstance(node, ast.Import):
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif node.level:
                base = module[: len(module) - node.level]
                names = [".".join([*base, node.module]) if node.module else ".".join(base)]
                if not node.module:
                    names = [f"{names[0]}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            for name in names:
                bits = name.split(".")
                if bits[0] == "crm_winback" and len(bits) > 1 and bits[1] != source:
                    edges[source].add(bits[1])
    return edges


def test_the_core_never_imports_the_cli_or_the_server() -> None:
    edges = _edges()
    assert {(s, t) for s, ts in edges.items() if s not in DOORS for t in ts if t in DOORS} == set()


def test_no_two_packages_import_each_other() -> None:
    edges = _edges()
    pairs = {tuple(sorted((a, b))) for a, ts in edges.items() for b in ts if a in edges.get(b, set())}
    assert pairs <= KNOWN, pairs - KNOWN
    # the two this round untangled stay untangled
    assert "scoring" not in edges["predict"] and "segments" not in edges["ingest"]
