"""Deletion requests: record them, find the published versions that hold a user's rows, and
republish a version without the rows of deleted users (a successor version; the old folder
is left for the operator to remove)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.hashing import content_id, md5_hex
from pipeline.final_preference_set.candidate_files import row_counts, trl_suite
from pipeline.final_preference_set.card_plots import write_figures
from pipeline.final_preference_set.publish import DATA_FILES, Candidate, latest_version, publish, write_parquet

DELETIONS_FILE = "deletions.csv"
FIELDS = ["user_id", "requested_at", "reason"]


def record_deletion(control_dir: Path, user_id: str, reason: str | None, now: datetime | None = None) -> dict[str, str]:
    control_dir.mkdir(parents=True, exist_ok=True)
    path = control_dir / DELETIONS_FILE
    row = {
        "user_id": user_id,
        "requested_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "reason": reason or "",
    }
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)
    return row


def deleted_users(control_dir: Path) -> set[str]:
    users: set[str] = set()
    for path in sorted(control_dir.glob("deletions*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            users.update(r["user_id"].strip() for r in csv.DictReader(fh) if r.get("user_id"))
    return users


def _user_records(con: duckdb.DuckDBPyConnection, users: set[str]) -> set[str]:
    if not users:
        return set()
    rows = con.execute(
        "select record_id from raw_feedback_events where user_id in (select unnest(?))", [sorted(users)]
    ).fetchall()
    return {r[0] for r in rows}


def versions_with_users(con: duckdb.DuckDBPyConnection, datasets_root: Path, users: set[str]) -> dict[str, int]:
    """Published versions holding rows built from these users' events, with the row count."""
    records = _user_records(con, users)
    out: dict[str, int] = {}
    for lineage in sorted(datasets_root.glob("*/lineage.parquet")):
        ids = pq.read_table(lineage, columns=["row_id", "record_id"]).to_pydict()
        hit = {row for row, rec in zip(ids["row_id"], ids["record_id"]) if rec in records}
        if hit:
            out[lineage.parent.name] = len(hit)
    return out


def _append_deletions(rejected: pa.Table, lineage: pa.Table, records: list[str], version: str) -> pa.Table:
    if not records:
        return rejected
    wanted = set(records)
    seen: dict[str, dict] = {}
    for row in lineage.select(["record_id", "event_id", "partition_date", "source_file", "source_line"]).to_pylist():
        if row["record_id"] in wanted and row["record_id"] not in seen:
            seen[row["record_id"]] = row
    extra = [{**seen[r], "place": "rejected", "stage": "republish", "reason": "deletion",
              "detail": f"removed when {version} was republished without deleted users"} for r in records]
    table = pa.concat_tables([rejected, pa.Table.from_pylist(extra, schema=rejected.schema)])
    return table.sort_by([("partition_date", "ascending"), ("source_file", "ascending"),
                          ("source_line", "ascending"), ("record_id", "ascending")])


def audit_successor(con: duckdb.DuckDBPyConnection, folder: Path, users: set[str],
                    now: str) -> dict[str, dict[str, Any]]:
    """A successor's own checks, recorded like the candidate's: its rows still meet the TRL
    suite, none is built from a deleted user's events, and something is left to publish."""
    suite = trl_suite(folder)
    records = _user_records(con, users)
    lineage = pq.read_table(folder / "lineage.parquet", columns=["record_id"]).column("record_id").to_pylist()
    left = sum(1 for r in lineage if r in records)
    counts = row_counts(folder)
    rows = sum(counts.values())

    def record(passed: bool, summary: str, **numbers: Any) -> dict[str, Any]:
        return {"status": "passed" if passed else "failed", "run_id": None, "evaluated_at": now,
                "summary": summary, **numbers}

    return {
        "candidate_suite": record(suite.success, suite.summary()),
        "consent_and_deletions": record(left == 0, f"{left} lineage rows from deleted users", observed=left,
                                        threshold=0, direction="max"),
        "gate_published_rows": record(rows > 0, f"published_rows: {rows} rows ({counts})", observed=rows,
                                      threshold=1, direction="min"),
    }


def republish_without(con: duckdb.DuckDBPyConnection, datasets_root: Path, version: str, users: set[str]) -> dict[str, Any]:
    """Write a successor of ``version`` without any row built from these users' events. It is
    built in the staging area, audited by `audit_successor` and published like any candidate;
    a successor that fails its checks stays in staging (PublishRefused)."""
    source = datasets_root / version
    records = _user_records(con, users)
    lineage = pq.read_table(source / "lineage.parquet")
    lin = lineage.to_pydict()
    drop_rows = {row for row, rec in zip(lin["row_id"], lin["record_id"]) if rec in records}
    staging = datasets_root.parent / "_staging"
    work = staging / f".republish-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    hashes, removed = {}, {}
    for name in DATA_FILES:
        table = pq.read_table(source / f"{name}.parquet")
        if name in ("train", "test"):
            keep = [pid not in drop_rows for pid in table.column("pair_id").to_pylist()]
        elif name == "kto":
            keep = [kid not in drop_rows for kid in table.column("kto_id").to_pylist()]
        elif name == "lineage":
            keep = [rid not in drop_rows for rid in table.column("row_id").to_pylist()]
        else:
            # The ledger keeps conservation: removed rows' events are recorded as dropped for
            # deletion, with no detail that names the user.
            keep = [rec not in records for rec in table.column("record_id").to_pylist()]
            removed_records = sorted({rec for row, rec in zip(lin["row_id"], lin["record_id"]) if row in drop_rows})
            table = _append_deletions(table.filter(keep), lineage, removed_records, version)
            keep = [True] * table.num_rows
        removed[name] = keep.count(False)
        hashes[name] = write_parquet(table.filter(keep), work / f"{name}.parquet")
    manifest = json.loads((source / "manifest.json").read_text())
    successor = content_id({"files": hashes, "config": manifest.get("config"), "successor_of": version})[:16]
    # The figures are redrawn from the successor's own rows (the label mix is the parent's,
    # less the removed rows' share, which the card's republish note states).
    mix = manifest.get("stats", {}).get("label_source_mix", {})
    figures = write_figures(work, [(version, mix), (successor, mix)])
    manifest.update(
        version_id=successor,
        parent_version=version,
        files=hashes,
        figures={name: md5_hex((work / name).read_bytes()) for name in figures},
        republished={"from": version, "without_deleted_users": len(users), "rows_removed": removed,
                     "parent_checks": manifest.pop("checks", {})},
    )
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    card = (source / "README.md").read_text().replace(version, successor)
    card += (f"\n## Republished\n\nSuccessor of {version} without the rows of users who asked for deletion "
             f"({sum(removed.values())} rows removed across files).\n")
    (work / "README.md").write_text(card)
    candidate = Candidate(successor, staging / successor)
    shutil.rmtree(candidate.path, ignore_errors=True)
    os.replace(work, candidate.path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    checks = audit_successor(con, candidate.path, users, now)
    target = publish(candidate, datasets_root, checks, published_at=now,
                     move_latest=latest_version(datasets_root) == version,
                     note={"successor_of": version, "reason": "without_deleted"})
    return {"successor": successor, "rows_removed": removed, "path": str(target), "checks": checks}
