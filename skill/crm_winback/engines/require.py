"""The optional engines, imported on demand: a missing one is one line naming what to install."""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

from ..errors import InputError

INSTALL = {
    "ibis": "pip install 'crm-segment-winback[warehouse]' (Ibis, for the summary SQL and the engines)",
    "pyspark": "pip install 'crm-segment-winback[spark]' (PySpark and Ibis; Spark also needs Java 17+)",
    "pyarrow": "pip install 'pyspark[connect]' (Spark Connect's client: pyarrow, pandas and grpcio)",
    "psycopg": "pip install 'crm-segment-winback[warehouse]' (psycopg, for PostgreSQL)",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (ibis, pyspark, ...) or raise one line saying what ``feature`` needs installed."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"{feature} needs {top}, which is not installed: {INSTALL.get(top, exc)}") from None


def require_java(feature: str) -> str:
    """The ``java`` command Spark starts, or one line saying how to get one."""
    found = shutil.which("java")
    if found is None:
        raise InputError(
            f"{feature} needs a Java runtime (17 or later) on PATH, which Spark runs in: install one, e.g. "
            "apt-get install default-jre-headless (Debian/Ubuntu) or brew install openjdk@17 (macOS)"
        )
    return found
