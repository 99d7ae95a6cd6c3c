"""The bundled sample `make run` builds: the real HH-RLHF harmless-base pairs as pairwise
events, mixed with generated events of the types HH-RLHF lacks, over three days."""

from __future__ import annotations

import gzip
import io
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


def write_sample(home: Path) -> dict[str, Any]:
    landing = home / "landing"
    summary = write_landing(landing, n=GENERATED_PER_DAY, days=DAYS, start=START, seed=SEED,
                            control_dir=home / "control")
    hh = hh_events(DAYS, START)
    for day, events in hh.items():
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
        (landing / day).mkdir(parents=True, exist_ok=True)
        (landing / day / "import-hh-rlhf.jsonl.gz").write_bytes(buf.getvalue())
    if EVALSETS.is_dir():
        target = home / "evalsets"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(EVALSETS.glob("*.jsonl*")):
            shutil.copyfile(path, target / path.name)
    return {
        "days": sorted(summary["days"]),
        "generated_events_per_day": GENERATED_PER_DAY,
        "hh_rlhf_pairs": sum(len(v) for v in hh.values()),
        "deleted_users": summary["deleted_users"],
    }
