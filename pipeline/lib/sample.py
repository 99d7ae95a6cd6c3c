"""The bundled sample `make run` builds: all 2,312 real HH-RLHF harmless-base pairs as pairwise
events plus ~3,000 generated events of every type, over three days, and deletion requests for a
few of the generated users."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from pipeline.lib.generate import write_landing
from pipeline.lib.hh_rlhf import hh_events

START = date(2026, 11, 1)
DAYS = 3
GENERATED_PER_DAY = 1_000
SEED = 7
EVALSETS = Path(__file__).resolve().parents[2] / "data" / "evalsets"
HH_FILE = "import-hh-rlhf.jsonl.gz"


def _write_jsonl_gz(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data, mtime=0))  # no timestamp: the same sample, the same bytes


def copy_evalsets(target: Path, source: Path = EVALSETS) -> list[str]:
    """Copy bundled benchmark prompt files (*.jsonl, *.jsonl.gz, in any subfolder) flat into
    ``target``; a file in a subfolder is named after it (mt-bench/question.jsonl ->
    mt-bench-question.jsonl). Nothing to copy when the bundle is absent."""
    if not source.is_dir():
        return []
    copied = []
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz"))):
        name = "-".join(path.relative_to(source).parts)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)
        copied.append(name)
    return copied


def write_sample(home: Path) -> dict[str, Any]:
    """Write the sample into home/landing/<day>/, home/control/deletions.csv and home/evalsets/."""
    home = Path(home)
    generated = write_landing(home / "landing", n=GENERATED_PER_DAY, days=DAYS, start=START, seed=SEED,
                              control_dir=home / "control")
    hh, hh_counts = hh_events(DAYS, START)
    for day, events in hh.items():
        _write_jsonl_gz(home / "landing" / day / HH_FILE, events)
    return {
        "days": sorted(set(generated["days"]) | set(hh)),
        "generated_records": generated["records"],
        "generated_malformed": generated["malformed"],
        "hh_rlhf": hh_counts,
        "deleted_users": generated["deleted_users"],
        "evalsets": copy_evalsets(home / "evalsets"),
    }
