"""Deletion requests: every `control/deletions*.csv` (user_id, requested_at, reason) as one table.
Every build excludes these users' events, whenever they were captured."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

DELETIONS_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("requested_at", pa.string()), ("reason", pa.string())]
)


def read_deletion_requests(control_dir: Path) -> pa.Table:
    """All deletion requests under $PREFLINE_HOME/control/deletions*.csv (user_id, requested_at, reason)."""
    rows: list[dict] = []
    for path in sorted(control_dir.glob("deletions*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("user_id"):
                    rows.append(
                        {
                            "user_id": row["user_id"].strip(),
                            "requested_at": (row.get("requested_at") or "").strip() or None,
                            "reason": (row.get("reason") or "").strip() or None,
                        }
                    )
    rows.sort(key=lambda r: (r["user_id"], r["requested_at"] or ""))
    return pa.Table.from_pylist(rows, schema=DELETIONS_SCHEMA)
