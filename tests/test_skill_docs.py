"""SKILL.md and the install manifests cannot drift from the code.

Every MCP tool and CLI command is named in SKILL.md and everything SKILL.md names exists; the frontmatter
suits the Agent Skills spec, Claude Code and OpenClaw at once; the reference validator (skills-ref) accepts a
copy of the folder named crm-segment-winback; the plugin files start the server this package ships.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from crm_winback.cli import build_parser

from .mcp_support import server_in, with_client
from .paths import ROOT

SKILL = ROOT / "SKILL.md"
TEXT = SKILL.read_text(encoding="utf-8")
FRONT, BODY = re.match(r"^---\n(.*?)\n---\n(.*)$", TEXT, re.S).groups()  # type: ignore[union-attr]
META = yaml.safe_load(FRONT)
TOOL_VERBS = r"(?:get|profile|score|predict|build|preview|plan|check|lookup|list|define|export|save|compare)"
# The seed's example prompts: the description must carry their words so hosts pick the skill for them.
SEED_PROMPTS = {
    "Help me define our CRM segments for a DTC skincare brand": ("define", "CRM", "segments", "DTC"),
    "Build a winback strategy for customers who haven't purchased in 90 days": ("winback strategy", "purchased", "90"),
    "Create a lifecycle campaign calendar for new customers, VIPs, and lapsed buyers": (
        "lifecycle campaign calendar", "new customers", "VIPs", "lapsed buyers",
    ),
    "What SMS and email sequence should we use to reactivate churned subscribers?": (
        "SMS", "email", "sequence", "reactivate", "churned", "subscribers",
    ),
}  # fmt: skip


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _tool_names(tmp_path: Path) -> set[str]:
    return {t.name for t in with_client(server_in(tmp_path), lambda c: c.list_tools()).tools}


# --- frontmatter ------------------------------------------------------------------------------------------


def test_frontmatter_name_description_license_compatibility() -> None:
    assert META["name"] == "crm-segment-winback"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", META["name"]) and len(META["name"]) <= 64
    description = META["description"]
    assert 0 < len(description) < 1024
    assert "<" not in description and ">" not in description
    assert re.search(r'^description: ".*"$', FRONT, re.M), "the description must be quoted"
    assert META["license"] == "MIT-0"
    assert 0 < len(META["compatibility"]) <= 500
    assert set(META) <= {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


@pytest.mark.parametrize("prompt", SEED_PROMPTS)
def test_description_carries_the_words_of_each_seed_prompt(prompt: str) -> None:
    description = META["description"].lower()
    missing = [w for w in SEED_PROMPTS[prompt] if w.lower() not in description]
    assert not missing, f"{prompt!r}: the description lacks {missing}"


def test_openclaw_metadata_is_block_style_with_the_cli_and_a_uv_install() -> None:
    openclaw = META["metadata"]["openclaw"]
    assert openclaw["requires"]["bins"] == ["crm-winback"]
    [install] = openclaw["install"]
    assert (install["kind"], install["package"], install["bins"]) == (
        "uv",
        "crm-segment-winback",
        ["crm-winback"],
    )
    meta_block = FRONT[FRONT.index("metadata:") :]
    # strictyaml (skills-ref) rejects flow style; quoted strings may hold brackets, so drop them first.
    assert not re.search(r"[\[{]", re.sub(r'"[^"]*"', "", meta_block)), "write metadata in block style"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "crm-winback" in scripts["scripts"] and scripts["name"] == install["package"]


def test_body_is_under_500_lines() -> None:
    assert len(BODY.splitlines()) < 500


# --- tools, commands and files named in the body ----------------------------------------------------------


def test_every_mcp_tool_is_in_skill_md_and_every_tool_named_there_exists(tmp_path: Path) -> None:
    tools = _tool_names(tmp_path)
    named = set(re.findall(rf"`({TOOL_VERBS}_[a-z_]+)`", BODY))
    reference = set(re.findall(r"`([a-z_]+)`", re.search(r"- MCP tools: (.*?)\n- ", BODY, re.S).group(1)))  # type: ignore[union-attr]
    assert reference == tools, "the Reference list of MCP tools differs from the server's tools"
    assert named - tools == set(), f"SKILL.md names tools that do not exist: {named - tools}"


def test_every_cli_command_is_in_skill_md_and_every_command_named_there_exists() -> None:
    commands = _subcommands(build_parser())
    named = set(re.findall(r"crm-winback ([a-z][a-z-]*)", BODY))
    assert named - set(commands) == set(), (
        f"SKILL.md names commands that do not exist: {named - set(commands)}"
    )
    assert set(commands) - named == set(), f"commands missing from SKILL.md: {set(commands) - named}"
    for name, sub in commands.items():
        for phrase in re.findall(rf"crm-winback {name} ([a-z][a-z-]*)", BODY):
            nested = _subcommands(sub)
            if nested:
                assert phrase in nested, f"crm-winback {name} {phrase}: no such subcommand"


def test_every_command_has_help_and_an_example() -> None:
    parser = build_parser()
    for name, sub in _subcommands(parser).items():
        assert sub.description, name
        for nested_name, nested in _subcommands(sub).items() or {name: sub}.items():
            assert "Example" in (nested.epilog or ""), f"{name} {nested_name} has no example"


def test_every_file_skill_md_points_to_exists() -> None:
    paths = set(re.findall(r"`((?:knowledge|scripts|prompts|examples)/[^`\s]+)`", BODY))
    assert paths, "SKILL.md should point to its files"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"SKILL.md points to missing files: {missing}"


def test_every_knowledge_file_is_in_the_table_or_deliberately_left_out() -> None:
    internal = {"audience.yaml", "confidence.yaml", "order_status.yaml", "prebuilt_segments.yaml"}
    listed = set(re.findall(r"`knowledge/([a-z_]+\.yaml)`", BODY))
    assert {p.name for p in (ROOT / "knowledge").glob("*.yaml")} - internal == listed


def test_the_script_runs_the_cli_from_the_skill_folder() -> None:
    out = subprocess.run(
        [os.environ.get("PYTHON", shutil.which("python3") or "python3"), "scripts/crm_winback_cli.py", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Either the CLI's help (dependencies present) or one line saying how to install them.
    assert (out.returncode == 0 and "usage: crm-winback" in out.stdout) or (
        out.returncode == 1 and "uv tool install crm-segment-winback" in out.stderr
    ), out


# --- hosts: Claude Code plugin, OpenClaw, skills-ref --------------------------------------------------------


def test_claude_code_plugin_manifests_start_the_packaged_server() -> None:
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    market = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())
    servers = json.loads((ROOT / ".mcp.json").read_text())["mcpServers"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (
        plugin["name"] == META["name"]
        and plugin["skills"] == "./"
        and plugin["version"] == project["version"]
    )
    assert (ROOT / plugin["mcpServers"]).resolve() == (ROOT / ".mcp.json").resolve()
    assert [p["name"] for p in market["plugins"]] == [plugin["name"]] and market["plugins"][0][
        "source"
    ] == "./"
    [server] = servers.values()
    assert "${CLAUDE_PLUGIN_ROOT}" in server["args"]
    assert server["args"][-2:] == ["crm-winback", "mcp"] and "crm-winback" in project["scripts"]


def _skills_ref() -> str:
    for candidate in (
        os.environ.get("SKILLS_REF"),
        shutil.which("agentskills"),
        "/tmp/skills-venv/bin/agentskills",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip(
        "skills-ref is not installed: pip install skills-ref (its command is agentskills), or set SKILLS_REF"
    )


def test_skills_ref_validates_a_copy_named_after_the_skill(tmp_path: Path) -> None:
    validator = _skills_ref()
    folder = tmp_path / "crm-segment-winback"
    folder.mkdir()
    shutil.copy(SKILL, folder / "SKILL.md")
    for sub in ("knowledge", "scripts"):
        shutil.copytree(ROOT / sub, folder / sub, ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([validator, "validate", str(folder)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    wrong = tmp_path / "wrong-name"
    folder.rename(wrong)
    assert (
        subprocess.run([validator, "validate", str(wrong)], capture_output=True, timeout=60).returncode != 0
    )


def test_the_skill_only_folder_has_no_plugin_manifest_and_runs_from_source(tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "crm-segment-winback"
    script = ROOT / "scripts" / "build_skill_folder.py"
    subprocess.run([sys.executable, str(script), str(target)], check=True, capture_output=True)
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert "SKILL.md" in files and "knowledge/rfm_segments.yaml" in files and "prompts/brief.md.j2" in files
    assert "skill/crm_winback/cli/__init__.py" in files
    assert not any(f.startswith((".claude-plugin", "tests/", "bench/")) for f in files)
    assert all(
        Path(f).suffix in {".md", ".py", ".toml", ".json", ".yaml", ".yml", ".j2", ".typed"} for f in files
    )
    proc = subprocess.run(
        [sys.executable, str(target / "scripts" / "crm_winback_cli.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and "crm-winback" in proc.stdout, proc.stderr
    # the copied source tree works on its own: its package finds its own knowledge and templates
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import crm_winback; "
        "from crm_winback.resources import resource_dir; from crm_winback.cli import main; "
        "assert crm_winback.__file__.startswith(sys.argv[1]), crm_winback.__file__; "
        "assert str(resource_dir('knowledge')).startswith(sys.argv[2]); sys.exit(main(['schema', 'context']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target / "skill"), str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"title": "crm-winback context"' in proc.stdout
