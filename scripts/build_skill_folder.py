#!/usr/bin/env python3
"""Build a skill-only folder (for ClawHub, or a plain copy into a skills directory).

    python3 scripts/build_skill_folder.py dist/crm-segment-winback

ClawHub publishes text files only and refuses a folder that holds ``.claude-plugin/plugin.json``, so the
repository itself cannot be published as it is. The folder built here has SKILL.md, the knowledge, the
templates, the scripts and the package source (so ``scripts/crm_winback_cli.py`` runs without an install), and
leaves out the plugin manifests, tests, benchmarks and the bundled CDNOW data (the installed CLI carries it).
The target folder must not exist yet, or be empty.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("SKILL.md", "README.md", "CHANGELOG.md", "pyproject.toml")
FOLDERS = ("knowledge", "prompts", "scripts", "skill", "examples/contexts")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".json", ".yaml", ".yml", ".j2", ".typed"}


def build(target: Path) -> list[Path]:
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"build_skill_folder: {target} is not empty; give a new folder")
    copied: list[Path] = []
    for name in FILES:
        copied.append(_copy(ROOT / name, target / name))
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                copied.append(_copy(path, target / path.relative_to(ROOT)))
    return copied


def _copy(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", type=Path, help="the folder to create, named crm-segment-winback")
    args = parser.parse_args()
    if args.target.name != "crm-segment-winback":
        print(
            "build_skill_folder: name the folder crm-segment-winback (the skill's name must match it)",
            file=sys.stderr,
        )
        return 2
    files = build(args.target)
    print(f"wrote {len(files)} files to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
