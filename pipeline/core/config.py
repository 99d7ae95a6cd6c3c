"""prefline settings: the project's prefline.yaml, overridden by the deployment's file."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import paths


def _deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def override_file() -> Path:
    return Path(os.environ.get("PREFLINE_CONFIG", paths.home() / "prefline.yaml"))


def load_config() -> dict[str, Any]:
    """Defaults merged with the deployment override; read fresh each call (cheap, and a
    long-lived process such as `dagster dev` must see edits)."""
    with open(paths.DEFAULT_CONFIG_FILE, encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    override = override_file()
    if override.exists():
        with open(override, encoding="utf-8") as fh:
            config = _deep_merge(config, yaml.safe_load(fh) or {})
    return config
