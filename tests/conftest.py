"""Shared fixtures: each end-to-end build gets its own PREFLINE_HOME under pytest's tmp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import __main__

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

# The suite runs on both cores (pytest-xdist, one worker per core, a test file per worker). An
# xdist worker's __main__ has no __file__, and pyspark's connect module, which GX tries to import
# when pyspark is installed, then takes the worker for a doctest run and exits it. GX's pyspark
# shim is imported once with a __file__ in place (it keeps what it found), then the __file__ is
# taken away again: multiprocessing's spawn (parallel capture) re-runs __main__.__file__.
if not hasattr(__main__, "__file__"):
    __main__.__file__ = __file__
    try:
        import great_expectations.compatibility.pyspark  # noqa: F401
    finally:
        del __main__.__file__


@pytest.fixture
def prefline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PREFLINE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    yield home
