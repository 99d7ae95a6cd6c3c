"""Raw feedback capture: read a day's landing files, validate every record against the
event contract, and split them into events, responses and quarantine (Arrow tables).

Files are read in name order and streamed (lines, CSV rows, Parquet batches), and rows are
flushed to Arrow every BATCH_ROWS records, so memory stays bounded by a batch, not a day.
A record id is md5(day|file|line): the same landing folder always gives the same ids.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lib.events import ContractError, validate_record
from pipeline.lib.hashing import canonical_json, md5_hex

BATCH_ROWS = 50_000
NESTED_FIELDS = ("prompt", "responses", "label", "annotator", "tags")
CSV_BOOLEANS = {"true": True, "false": False}
SUPPORTED = (".jsonl", ".jsonl.gz", ".parquet", ".csv")

EVENTS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("partition_date", pa.date32()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
        ("user_id", pa.string()),
        ("consent_training", pa.bool_()),
        ("prompt_json", pa.string()),
        ("label_json", pa.string()),
        ("label_preferred", pa.string()),
        ("label_tie", pa.bool_()),
        ("label_score", pa.int32()),
        ("label_thumb", pa.string()),
        ("label_edited_content", pa.string()),
        ("label_discarded", pa.string()),
        ("annotator_kind", pa.string()),
        ("annotator_id", pa.string()),
        ("annotator_saw_model_draft", pa.bool_()),
        ("policy_version", pa.string()),
        ("category", pa.string()),
        ("language", pa.string()),
        ("tags_json", pa.string()),
        ("schema_version", pa.int32()),
        ("content_hash", pa.string()),
    ]
)

RESPONSES_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("partition_date", pa.date32()),
        ("position", pa.int32()),
        ("response_id", pa.string()),
        ("content", pa.string()),
        ("model", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("partition_date", pa.date32()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("event_id", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_record", pa.string()),
    ]
)


@dataclass
class FileStats:
    file: str
    records: int = 0
    events: int = 0
    quarantined: int = 0


@dataclass
class CaptureResult:
    events: pa.Table
    responses: pa.Table
    quarantine: pa.Table
    files: list[FileStats] = field(default_factory=list)


class _Collector:
    """Column buffers flushed to Arrow tables every BATCH_ROWS rows."""

    def __init__(self, day: str) -> None:
        self.day = day
        self.tables: dict[str, list[pa.Table]] = {"events": [], "responses": [], "quarantine": []}
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[str, list[dict]] = {"events": [], "responses": [], "quarantine": []}

    def record_id(self, rel: str, line: int) -> str:
        return md5_hex(f"{self.day}|{rel}|{line}")

    def add(self, rel: str, line: int, raw: str | None, obj: Any, stats: FileStats) -> None:
        rid = self.record_id(rel, line)
        try:
            row, responses = validate_record(obj)
        except ContractError as exc:
            event_id = obj.get("event_id") if isinstance(obj, dict) and isinstance(obj.get("event_id"), str) else None
            self.quarantine(rel, line, exc.reason, exc.detail, raw if raw is not None else _safe_dump(obj),
                            stats, event_id)
            return
        stats.records += 1
        stats.events += 1
        tags = row.pop("tags")
        prompt, label = row.pop("prompt"), row.pop("label")
        self.rows["events"].append(
            {
                "record_id": rid,
                "partition_date": self.day,
                "source_file": rel,
                "source_line": line,
                **row,
                "prompt_json": canonical_json(prompt),
                "label_json": canonical_json(label),
                "tags_json": canonical_json(tags) if tags is not None else None,
                "content_hash": md5_hex(canonical_json(obj)),
            }
        )
        for r in responses:
            self.rows["responses"].append({"record_id": rid, "partition_date": self.day, **r})
        self._maybe_flush()

    def quarantine(self, rel: str, line: int, reason: str, detail: str, raw: str, stats: FileStats,
                   event_id: str | None = None) -> None:
        """Every quarantined row is one ledger entry: a bad record, or a file that could not be read."""
        stats.records += 1
        stats.quarantined += 1
        self.rows["quarantine"].append(
            {
                "record_id": self.record_id(rel, line),
                "partition_date": self.day,
                "source_file": rel,
                "source_line": line,
                "event_id": event_id,
                "reason": reason,
                "detail": detail,
                "raw_record": raw,
            }
        )
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.rows["events"]) + len(self.rows["quarantine"]) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        from datetime import date

        day = date.fromisoformat(self.day)
        for name, schema in (("events", EVENTS_SCHEMA), ("responses", RESPONSES_SCHEMA),
                             ("quarantine", QUARANTINE_SCHEMA)):
            rows = self.rows[name]
            if rows:
                for r in rows:
                    r["partition_date"] = day
                self.tables[name].append(pa.Table.from_pylist(rows, schema=schema))
        self._reset()

    def result(self, files: list[FileStats]) -> CaptureResult:
        self.flush()

        def concat(name: str, schema: pa.Schema) -> pa.Table:
            parts = self.tables[name]
            return pa.concat_tables(parts) if parts else schema.empty_table()

        return CaptureResult(concat("events", EVENTS_SCHEMA), concat("responses", RESPONSES_SCHEMA),
                             concat("quarantine", QUARANTINE_SCHEMA), files)


def _safe_dump(obj: Any) -> str:
    try:
        return orjson.dumps(obj, default=str).decode()
    except TypeError:
        return repr(obj)


def _decode_line(raw: bytes) -> tuple[str, str | None]:
    """(text, problem): invalid UTF-8 is kept readable with replacement characters."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", errors="replace"), f"invalid UTF-8 at byte {exc.start}"


def _read_jsonl(stream: io.BufferedIOBase, rel: str, col: _Collector, stats: FileStats) -> None:
    line = 0
    try:
        for raw in stream:
            line += 1
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            text, problem = _decode_line(raw)
            if problem:
                col.quarantine(rel, line, "encoding_invalid", problem, text, stats)
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                reason_detail = "NUL byte in record" if b"\x00" in raw else str(exc)
                col.quarantine(rel, line, "json_invalid", reason_detail, text, stats)
                continue
            col.add(rel, line, text, obj, stats)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        col.quarantine(rel, line + 1, "file_truncated", f"file ends early after line {line}: {exc}", "", stats)


def _csv_value(name: str, value: str) -> Any:
    if value == "":
        return None
    if name in NESTED_FIELDS:
        return orjson.loads(value)
    if name == "consent_training":
        lowered = value.strip().lower()
        return CSV_BOOLEANS.get(lowered, value)
    if name == "schema_version":
        return int(value) if value.strip().lstrip("-").isdigit() else value
    return value


def _read_csv(path: Path, rel: str, col: _Collector, stats: FileStats) -> None:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        for row_number, row in enumerate(reader, start=1):
            raw = ",".join("" if v is None else str(v) for v in row.values())
            try:
                obj = {k: _csv_value(k, v) for k, v in row.items() if k is not None and v is not None}
            except orjson.JSONDecodeError as exc:
                col.quarantine(rel, row_number, "json_invalid", f"a nested field is not JSON: {exc}", raw, stats)
                continue
            if None in row:
                col.quarantine(rel, row_number, "schema:row", "more values than header columns", raw, stats)
                continue
            col.add(rel, row_number, raw, {k: v for k, v in obj.items() if v is not None}, stats)


def _parquet_value(name: str, value: Any) -> Any:
    if name in NESTED_FIELDS and isinstance(value, str):
        return orjson.loads(value)
    return value


def _read_parquet(path: Path, rel: str, col: _Collector, stats: FileStats) -> None:
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
    except Exception as exc:  # noqa: BLE001 - any reader error means the file is unreadable
        col.quarantine(rel, 0, "file_unreadable", f"not a readable Parquet file: {exc}", "", stats)
        return
    missing = [f for f in ("event_id", "event_type", "prompt", "responses", "label") if f not in names]
    if missing:
        col.quarantine(rel, 0, "file_unreadable",
                       f"Parquet schema lacks the event contract's columns: {', '.join(missing)}",
                       ", ".join(sorted(names)), stats)
        return
    row_number = 0
    for batch in pf.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            row_number += 1
            try:
                obj = {k: _parquet_value(k, v) for k, v in row.items() if v is not None}
            except orjson.JSONDecodeError as exc:
                col.quarantine(rel, row_number, "json_invalid", f"a nested field is not JSON: {exc}",
                               _safe_dump(row), stats)
                continue
            col.add(rel, row_number, None, obj, stats)


def landing_files(day_dir: Path) -> list[Path]:
    return sorted(p for p in day_dir.iterdir() if p.is_file() and not p.name.startswith("."))


def capture_file(path: Path, day: str | None = None, rel: str | None = None, col: _Collector | None = None) -> CaptureResult:
    """Capture one landing file (also what `prefline validate FILE` runs)."""
    own = col is None
    col = col or _Collector(day or "1970-01-01")
    rel = rel or path.name
    stats = FileStats(rel)
    name = path.name.lower()
    if name.endswith(".jsonl.gz"):
        with gzip.open(path, "rb") as fh:
            _read_jsonl(fh, rel, col, stats)
    elif name.endswith(".jsonl"):
        with open(path, "rb") as fh:
            _read_jsonl(fh, rel, col, stats)
    elif name.endswith(".csv"):
        _read_csv(path, rel, col, stats)
    elif name.endswith(".parquet"):
        _read_parquet(path, rel, col, stats)
    else:
        col.quarantine(rel, 0, "file_format_unknown",
                       f"landing files must end in {', '.join(SUPPORTED)}", "", stats)
    return col.result([stats]) if own else CaptureResult(None, None, None, [stats])  # type: ignore[arg-type]


def capture_day(landing_root: Path, day: str) -> CaptureResult:
    """Capture every file in landing_root/<day>/ (an absent folder is an empty day)."""
    col = _Collector(day)
    files: list[FileStats] = []
    day_dir = landing_root / day
    if day_dir.is_dir():
        for path in landing_files(day_dir):
            files.extend(capture_file(path, day, f"{day}/{path.name}", col).files)
    return col.result(files)


def iter_records(path: Path) -> Iterator[dict]:
    """Decoded JSON objects of a jsonl(.gz) file, for tools that read landing files."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for raw in fh:
            if raw.strip():
                yield orjson.loads(raw)
