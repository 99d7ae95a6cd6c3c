"""Where a prefline deployment keeps its files: everything lives under PREFLINE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = PROJECT_ROOT / "pipeline"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "prefline.yaml"


def suite_file(name: str) -> Path:
    """A GX suite lives in the expectations/ folder of the stage that owns its asset."""
    found = sorted(PACKAGE_DIR.glob(f"*/expectations/{name}.json"))
    if len(found) != 1:
        raise FileNotFoundError(f"{len(found)} suites named {name}.json under {PACKAGE_DIR}/*/expectations/")
    return found[0]


def home() -> Path:
    """PREFLINE_HOME, defaulting to a git-ignored folder in the checkout."""
    return Path(os.environ.get("PREFLINE_HOME", PROJECT_ROOT / ".prefline_home")).resolve()


def landing_dir() -> Path:
    return home() / "landing"


def control_dir() -> Path:
    return home() / "control"


def evalsets_dir() -> Path:
    return home() / "evalsets"


def warehouse_path() -> Path:
    return home() / "warehouse.duckdb"


def datasets_dir() -> Path:
    return home() / "datasets" / "preference_pairs"


def staging_dir() -> Path:
    """Candidates are built here, audited, and only then renamed into datasets_dir()."""
    return home() / "datasets" / "_staging"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", home() / "dagster")).resolve()


def gx_docs_dir() -> Path:
    return home() / "docs" / "gx"
