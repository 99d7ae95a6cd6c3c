"""Crashes and concurrency: a build killed with SIGKILL at any point and run again gives the
version an uninterrupted build gives; no half-written version is ever visible; LATEST only
names complete versions; a second concurrent build fails cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
DAYS = ("2026-11-01", "2026-11-02")
COMPLETE = {"train.parquet", "test.parquet", "kto.parquet", "lineage.parquet", "rejected.parquet",
            "manifest.json", "README.md"}


def _home(root: Path, name: str) -> Path:
    from pipeline.synth.generate import write_landing

    home = root / name
    write_landing(home / "landing", n=300, days=2, start=date.fromisoformat(DAYS[0]), seed=5)
    return home


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PREFLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "PATH": f"{BIN}:{os.environ['PATH']}"}


def _build(home: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "prefline"), "build", "--all"], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _assert_only_complete_versions(home: Path) -> None:
    root = home / "datasets" / "preference_pairs"
    if not root.exists():
        return
    for folder in root.iterdir():
        if folder.is_dir():
            assert COMPLETE <= {p.name for p in folder.iterdir()}, f"half-written version {folder}"
    latest = root / "LATEST"
    if latest.exists():
        assert (root / latest.read_text().strip() / "manifest.json").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    home = _home(root, "reference")
    start = time.monotonic()
    proc = _build(home)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    version = (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    return root, version, time.monotonic() - start


@pytest.mark.parametrize("fraction", [0.35, 0.8, 0.95])
def test_killed_build_reruns_to_the_same_version(reference, fraction):
    root, version, duration = reference
    home = _home(root, f"killed-{fraction}")
    proc = _build(home)
    time.sleep(duration * fraction)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    _assert_only_complete_versions(home)
    rerun = _build(home)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-3000:]
    _assert_only_complete_versions(home)
    assert (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip() == version


def test_a_second_concurrent_build_fails_cleanly(reference):
    root, version, _ = reference
    home = _home(root, "concurrent")
    first = _build(home)
    time.sleep(3)
    second = _build(home)
    _, err2 = second.communicate(timeout=600)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1[-3000:]
    assert second.returncode == 3 and "another prefline build is running" in err2
    assert (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip() == version
