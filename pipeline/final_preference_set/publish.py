"""Write-audit-publish of preference-set versions.

A candidate is written to the staging area under its version id; checks run on it there;
`publish` then renames it into the datasets folder and points LATEST at it. Version folders
are never modified after publishing, and LATEST only ever names a complete folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.hashing import content_id, md5_file, md5_hex
from pipeline.final_preference_set.card_plots import write_figures

DATA_FILES = ("train", "test", "kto", "lineage", "rejected")
LATEST = "LATEST"
CANDIDATE_POINTER = "CANDIDATE"
# Append-only record of when each version was published and by which run. Kept beside the
# versions rather than in them, so a version's own files stay byte-identical across rebuilds.
PUBLICATIONS = "publications.jsonl"

# Fixed writer settings: the same rows always give the same bytes.
_PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=True,
    write_statistics=True,
    row_group_size=64 * 1024,
    data_page_version="2.0",
)


@dataclass(frozen=True)
class Candidate:
    version_id: str
    path: Path


def write_parquet(data: pa.Table | pa.RecordBatchReader, path: Path) -> str:
    """Write a table, or a stream of record batches one row group at a time, with the fixed
    settings; returns the md5 of the file's bytes."""
    if isinstance(data, pa.Table):
        pq.write_table(data.replace_schema_metadata(None), path, **_PARQUET_OPTIONS)
    else:
        options = dict(_PARQUET_OPTIONS)
        row_group_size = options.pop("row_group_size")
        schema = data.schema.remove_metadata()
        with pq.ParquetWriter(path, schema, **options) as writer:
            # Row groups of exactly row_group_size rows, whatever batches the stream yields,
            # so the bytes match writing the whole table at once.
            pending: list[pa.RecordBatch] = []
            rows, groups = 0, 0
            for batch in data:
                pending.append(batch)
                rows += batch.num_rows
                while rows >= row_group_size:
                    table = pa.Table.from_batches(pending, schema)
                    writer.write_table(table.slice(0, row_group_size), row_group_size=row_group_size)
                    rest = table.slice(row_group_size)
                    pending, rows = rest.to_batches(), rest.num_rows
                    groups += 1
            if rows or not groups:  # an empty table is one empty row group, as write_table makes it
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=row_group_size)
    return md5_file(path)


# Config sections that say how a version is computed, not what it holds: the engine and its
# limits. They are recorded in the manifest but kept out of the version id, so the same inputs
# and settings give the same id on DuckDB and on Spark.
ENGINE_SECTIONS = ("warehouse",)


def version_id(file_hashes: dict[str, str], config: dict[str, Any]) -> str:
    """Content id of the published rows plus the config that built them (without ENGINE_SECTIONS)."""
    what = {key: value for key, value in config.items() if key not in ENGINE_SECTIONS}
    return content_id({"files": file_hashes, "config": what})[:16]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_candidate(
    staging_root: Path,
    tables: Mapping[str, pa.Table | pa.RecordBatchReader],
    config: dict[str, Any],
    manifest: dict[str, Any],
    card: str,
    label_history: list[tuple[str, dict[str, Any]]] | None = None,
) -> Candidate:
    """Build the candidate aside and rename it into ``staging_root/<version>``.
    ``label_history``: (version, label-source mix) of earlier versions, oldest first, for the
    label-source figure; this candidate's own mix is added last."""
    staging_root.mkdir(parents=True, exist_ok=True)
    work = staging_root / f".build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    hashes = {name: write_parquet(tables[name], work / f"{name}.parquet") for name in DATA_FILES}
    vid = version_id(hashes, config)
    history = list(label_history or []) + [(vid, manifest.get("stats", {}).get("label_source_mix", {}))]
    figures = write_figures(work, history)
    # Figures are listed like the data files (md5 of the bytes) but apart from them: they are
    # drawn from those files and do not enter the version id.
    full_manifest = {"version_id": vid, **manifest, "files": hashes, "config": config,
                     "figures": {name: md5_hex((work / name).read_bytes()) for name in figures}}
    (work / "manifest.json").write_text(json.dumps(full_manifest, indent=2, sort_keys=True) + "\n")
    (work / "README.md").write_text(card.replace("{{VERSION_ID}}", vid), encoding="utf-8")
    target = staging_root / vid
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    _atomic_write_text(staging_root / CANDIDATE_POINTER, vid + "\n")
    return Candidate(vid, target)


class PublishRefused(RuntimeError):
    """A candidate without passing evidence for every blocking check, or one that changed on
    disk after it was audited."""


# A check counts as evidence to publish only with one of these statuses.
PUBLISHABLE = ("passed", "accepted")


def file_digests(folder: Path) -> dict[str, str]:
    """md5 of every file of a candidate folder, by name: what its checks audited."""
    return {p.name: md5_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def verify_candidate(candidate: Candidate) -> list[str]:
    """Problems that make the files on disk differ from the candidate that was written: the
    data files' digests against its manifest, and the version id against both."""
    manifest_path = candidate.path / "manifest.json"
    if not manifest_path.exists():
        return [f"{candidate.path} has no manifest.json"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    recorded = manifest.get("files", {})
    for name in DATA_FILES:
        path = candidate.path / f"{name}.parquet"
        if not path.exists():
            problems.append(f"{name}.parquet is missing")
        elif md5_file(path) != recorded.get(name):
            problems.append(f"{name}.parquet differs from the digest in its manifest")
    if manifest.get("version_id") != candidate.version_id:
        problems.append(f"its manifest names version {manifest.get('version_id')}")
    elif not problems and version_id(recorded, manifest.get("config", {})) != candidate.version_id:
        problems.append("its files and config do not hash to its version id")
    return problems


def current_candidate(staging_root: Path) -> Candidate:
    pointer = staging_root / CANDIDATE_POINTER
    if not pointer.exists():
        raise FileNotFoundError(f"no candidate in {staging_root}: build the candidate first")
    vid = pointer.read_text().strip()
    return Candidate(vid, staging_root / vid)


def latest_version(datasets_root: Path) -> str | None:
    pointer = datasets_root / LATEST
    return pointer.read_text().strip() if pointer.exists() else None


def read_manifest(datasets_root: Path, version: str) -> dict[str, Any]:
    with open(datasets_root / version / "manifest.json", encoding="utf-8") as fh:
        return json.load(fh)


def publish(
    candidate: Candidate,
    datasets_root: Path,
    checks: dict[str, Any],
    run_id: str | None = None,
    published_at: str | None = None,
    move_latest: bool = True,
    note: dict[str, Any] | None = None,
) -> Path:
    """Move an audited candidate into place and point LATEST at it (unless ``move_latest`` is
    false; ``note`` is added to its publication record). ``checks``: the recorded
    result of every blocking check on it (name -> {"status", ...}); anything but passed or
    accepted, or no checks at all, refuses.

    Publishing a version that already exists (the same inputs and config rebuilt) keeps the
    existing folder untouched and only moves LATEST.
    """
    if not checks:
        raise PublishRefused(f"candidate {candidate.version_id} has no recorded checks")
    unpassed = sorted(name for name, result in checks.items() if result.get("status") not in PUBLISHABLE)
    if unpassed:
        raise PublishRefused(f"candidate {candidate.version_id} has checks that did not pass: {', '.join(unpassed)}")
    datasets_root.mkdir(parents=True, exist_ok=True)
    target = datasets_root / candidate.version_id
    if not target.exists():
        manifest_path = candidate.path / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["checks"] = checks
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(candidate.path, target)
    else:
        shutil.rmtree(candidate.path, ignore_errors=True)
    previous = latest_version(datasets_root)
    if move_latest:
        _atomic_write_text(datasets_root / LATEST, candidate.version_id + "\n")
    record = {"version": candidate.version_id, "previous_latest": previous, "run_id": run_id,
              "published_at": published_at, "moved_latest": move_latest, **(note or {})}
    with open(datasets_root / PUBLICATIONS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
    return target


def publications(datasets_root: Path) -> list[dict[str, Any]]:
    path = datasets_root / PUBLICATIONS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
