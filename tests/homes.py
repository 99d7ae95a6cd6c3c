"""Point PREFLINE_HOME and DAGSTER_HOME at one folder for a block (module-scoped builds)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def pointed_at(home: Path) -> Iterator[Path]:
    """PREFLINE_HOME and DAGSTER_HOME point at ``home`` for the block; the old values come back after."""
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    os.environ["PREFLINE_HOME"], os.environ["DAGSTER_HOME"] = str(home), str(home / "dagster")
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
