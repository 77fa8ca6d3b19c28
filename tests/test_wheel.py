"""A wheel built from the repository works from any directory: knowledge/, prompts/ and the example ship in it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .paths import ROOT


@pytest.mark.slow
def test_wheel_installs_and_scores_the_bundled_example(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("crm_segment_winback-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "crm_winback/knowledge/rfm_segments.yaml",
        "crm_winback/examples/cdnow/CDNOW_master.txt",
        "crm_winback/py.typed",
        "crm_winback/prompts/brief.md.j2",
        "crm_winback/examples/contexts/coffee-subscription.yaml",
        "crm_winback/cli/__init__.py",
    ):
        assert required in names, required
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # Dependencies come from this environment (no network needed); the package itself only from the wheel.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [str(env_dir / "bin" / "crm-winback"), "score", "--example", "cdnow", "-o", "s.csv"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Champions" in proc.stdout
    located = subprocess.run(
        [str(py), "-c", "import crm_winback; print(crm_winback.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in located  # the installed copy ran, not the source tree
    assert (elsewhere / "s.csv").read_text().count("\n") == 23571
    # templates and knowledge for the brief come from the installed package too
    context = ROOT / "examples" / "contexts" / "dtc-skincare-notes.yaml"
    proc = subprocess.run(
        [str(env_dir / "bin" / "crm-winback"), "brief", "--context", str(context), "-o", "b.md"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        (elsewhere / "b.md")
        .read_text()
        .startswith("<!-- crm-winback:brief -->\n# CRM segment & winback brief")
    )
