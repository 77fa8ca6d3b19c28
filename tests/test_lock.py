"""requirements.lock and pyproject.toml agree, and the environment running the suite is the locked one.

README's set-up command and .ci/run install requirements.lock; scripts/lock.py refreshes it. The run against
the newest versions the ranges allow (.ci/run's first step) sets CRM_UNLOCKED=1 to skip the last check.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .paths import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def _pins() -> list[tuple[str, Version, Marker | None, int]]:
    """(name, version, marker, number of hashes) for every pin in the lock."""
    pins: list[tuple[str, Version, Marker | None, int]] = []
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins.append((canonicalize_name(name), Version(version), Marker(marker) if marker else None, 0))
        elif line.strip().startswith("--hash=sha256:") and pins:
            name, version, marker, hashes = pins[-1]
            pins[-1] = (name, version, marker, hashes + 1)
    return pins


def _applies(marker: Marker | None) -> bool:
    return marker is None or marker.evaluate()


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    locked = [*extras["dev"], *extras["warehouse"], *extras["spark"]]  # what scripts/lock.py compiles
    return [Requirement(r) for r in [*project["dependencies"], *locked]]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = [(name, version) for name, version, marker, _ in _pins() if _applies(marker)]
    pinned = dict(pins)
    assert len(pinned) == len(pins), "a package is pinned twice for this platform"
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pinned, (
            f"{name} is in pyproject.toml but not in requirements.lock; run scripts/lock.py"
        )
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {name}=={pinned[name]} outside pyproject's {requirement.specifier}; "
            "run scripts/lock.py"
        )


def test_every_pin_carries_hashes() -> None:
    pins = _pins()
    assert len(pins) > 30
    assert all(hashes >= 1 for _, _, _, hashes in pins), [name for name, _, _, h in pins if not h]


@pytest.mark.skipif(bool(os.environ.get("CRM_UNLOCKED")), reason="the run against the newest versions")
def test_the_suite_runs_on_the_locked_versions() -> None:
    wrong = []
    for name, version, marker, _ in _pins():
        if not _applies(marker):
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} missing")
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert not wrong, (
        "not the locked environment: " + ", ".join(wrong) + "; install with README's set-up command"
    )
