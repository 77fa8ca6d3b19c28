"""Refresh requirements.lock, the exact versions (with hashes) the repository's own commands install.

    .venv/bin/python scripts/lock.py            # rewrite requirements.lock from pyproject.toml
    .venv/bin/python scripts/lock.py --check    # exit 1 when requirements.lock is out of date

Users who `pip install crm-segment-winback` get the ranges in pyproject.toml; README's set-up command and
.ci/run install this lock, so a fresh clone runs the suite with the versions it last passed with. The lock is
compiled by uv (installed into the venv on first use) for every platform (`--universal`) from the runtime
dependencies and the `dev`, `warehouse` and `spark` extras (CI tests the engines). After refreshing, run the tests and commit the lock with the change that
needed it.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
# The oldest Python pyproject.toml allows: the lock must install there, and universal markers cover the rest.
PYTHON = "3.11"


def _uv() -> list[str]:
    try:
        import uv  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=True)
    return [sys.executable, "-m", "uv"]


def compile_lock(output: Path) -> None:
    command = [
        *_uv(), "pip", "compile", "pyproject.toml", "--extra", "dev", "--extra", "warehouse", "--extra", "spark", "--universal", "--python-version", PYTHON,
        "--generate-hashes", "--quiet", "--no-header", "--output-file", str(output),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the lock is out of date")
    args = parser.parse_args()
    if not args.check:
        compile_lock(LOCK)
        print(f"wrote {LOCK.name}; run the tests, then commit it")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "requirements.lock"
        compile_lock(fresh)
        if filecmp.cmp(fresh, LOCK, shallow=False):
            print(f"{LOCK.name} is up to date")
            return 0
    print(
        f"{LOCK.name} is out of date: newer releases exist; run scripts/lock.py and the tests",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
