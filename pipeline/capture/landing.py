"""Raw feedback capture: read a day's landing files, validate every record against the event
contract, and split them into events, responses and quarantine (Arrow tables).

Reading is streamed: jsonl lines, CSV records and Parquet row batches go one at a time through
the validator, and rows are turned into Arrow every `batch_rows` records (or 64 MiB of input),
so Python holds at most one batch of rows. `iter_capture_batches` hands those batches out for
callers that write as they go; `capture_day` concatenates them. A large day is validated in
one worker process per core (plain jsonl files cut into parts at line ends, other files
whole), and its batches come back in file and line order: the same rows as one process gives.

What ends where:
- Files are read in name order; hidden files (names starting with ".", such as uploads in
  progress) and folders are not landing files. Any other extension is one quarantine row
  `file_format_unknown` at line 0.
- A record is one non-blank jsonl line (blank lines are not records), one CSV data row (row 1
  is the first row after the header; quoted fields may span lines) or one Parquet row (1-based).
- record_id = md5(day|file|line) with file relative to the landing root ("<day>/<name>"), so
  the same landing folder always gives the same ids.
- Bad records are kept verbatim in quarantine: `encoding_invalid` (invalid UTF-8, the text kept
  with replacement characters), `json_invalid` (including a raw NUL byte, named in the detail),
  `record_not_object`, `schema:<field>` from the contract, and `schema:record` for a record over
  `max_record_bytes` (64 MiB by default: a 20 MB record is captured; beyond the limit the line
  is skipped in 1 MiB chunks and its first 64 KiB kept, so one runaway line cannot exhaust memory),
  and `created_at_future` for an event created after the end of the day following its landing
  day (however old an event is, it lands on the day it arrived).
- A file that cannot be read at all (not Parquet, a Parquet schema without the contract's
  columns, not gzip) is one `file_unreadable` row at line 0. A gzip that ends early keeps the
  records before the break and quarantines the break as `file_truncated` at the next line; a
  file that breaks later in another way (corrupt gzip or Parquet data, a row the csv module
  rejects) is `file_unreadable` at the line after the last one read. A CSV quote left open runs
  to the end of the file as one record, quarantined with all that text.
- Duplicate event ids are captured as they come; filtering judges redeliveries and conflicts.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import itertools
import multiprocessing
import os
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.capture.contract import (
    EVENT_COLUMNS,
    NESTED_FIELDS,
    REQUIRED_FIELDS,
    ContractError,
    validate_values,
)
from pipeline.capture.contract_fast import validate_json, validate_object

BATCH_ROWS = 50_000
BATCH_INPUT_BYTES = 64 << 20
MAX_RECORD_BYTES = 64 << 20
PARQUET_BATCH_ROWS = 10_000
KEPT_PREFIX_BYTES = 64 << 10
SKIP_CHUNK_BYTES = 1 << 20
# Parallel capture: a day of at least PARALLEL_MIN_BYTES of landing files is validated in up
# to MAX_WORKERS processes, plain jsonl files in parts of about SPAN_BYTES.
PARALLEL_MIN_BYTES = 16 << 20
MAX_WORKERS = 2
SPAN_BYTES = 32 << 20
SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".csv")
# "fast": jsonl records go undecoded to contract_fast.validate_json (msgspec), CSV and Parquet
# rows to validate_object; "reference": orjson.loads + events.validate_values. Both give the
# same rows (tests/test_events_fast.py).
VALIDATORS = ("fast", "reference")
CSV_BOOLEANS = {"true": True, "false": False}
UTF8_BOM = b"\xef\xbb\xbf"
CREATED_AT = EVENT_COLUMNS.index("created_at")
# An event lands on the day it arrives, often long after it was created (a late delivery, an
# export of old annotations); one created after the end of the day following its landing day
# can only come from a wrong clock or folder, and is quarantined as `created_at_future`.
FUTURE_TOLERANCE = timedelta(days=2)

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

# A landing item: (line, decoded record or None, raw input kept for quarantine, reason, detail).
# reason None means the record still has to meet the contract; with no decoded record, the
# raw bytes are a JSON record still to decode.
Item = tuple[int, Any, Any, "str | None", "str | None"]


@dataclass
class FileStats:
    """Per landing file: records read = events + quarantined."""

    file: str
    records: int = 0
    events: int = 0
    quarantined: int = 0


@dataclass
class CaptureBatch:
    """Up to one batch of rows; `files` are the files finished since the previous batch."""

    events: pa.Table
    responses: pa.Table
    quarantine: pa.Table
    files: list[FileStats]


@dataclass
class CaptureResult:
    events: pa.Table
    responses: pa.Table
    quarantine: pa.Table
    files: list[FileStats] = field(default_factory=list)


def _verbatim(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw
    return orjson.dumps(raw, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _table(record_ids: pa.Array, rows: list[tuple], schema: pa.Schema, day: date) -> pa.Table:
    """`rows` hold the columns after record_id and partition_date, in schema order."""
    fields = list(schema)[2:]
    columns = zip(*rows) if rows else [()] * len(fields)
    arrays = [record_ids, pa.repeat(pa.scalar(day, pa.date32()), len(record_ids))]
    arrays += [pa.array(col, f.type) for col, f in zip(columns, fields)]
    return pa.Table.from_arrays(arrays, schema=schema)


class _BatchBuilder:
    """Row tuples of one batch, turned into Arrow tables when the batch is full."""

    def __init__(self, day: str, batch_rows: int) -> None:
        self.day = day
        self.date = date.fromisoformat(day)
        self.future = datetime.combine(self.date, time(), UTC) + FUTURE_TOLERANCE
        self.batch_rows = batch_rows
        self.finished: list[FileStats] = []
        self._clear()

    def _clear(self) -> None:
        self.event_ids: list[str] = []
        self.events: list[tuple] = []
        self.responses_per_event: list[int] = []
        self.responses: list[tuple] = []
        self.quarantine_ids: list[str] = []
        self.quarantine: list[tuple] = []
        self.rows = 0
        self.input_bytes = 0

    def full(self) -> bool:
        return self.rows >= self.batch_rows or self.input_bytes >= BATCH_INPUT_BYTES

    def take(self) -> CaptureBatch:
        event_ids = pa.array(self.event_ids, pa.string())
        # Each response row belongs to the event before it: repeat the event ids, not per row.
        owners = np.repeat(np.arange(len(self.event_ids)), self.responses_per_event)
        batch = CaptureBatch(
            _table(event_ids, self.events, EVENTS_SCHEMA, self.date),
            _table(event_ids.take(owners), self.responses, RESPONSES_SCHEMA, self.date),
            _table(pa.array(self.quarantine_ids, pa.string()), self.quarantine, QUARANTINE_SCHEMA, self.date),
            self.finished,
        )
        self.finished = []
        self._clear()
        return batch


def _capture_items(items: Iterable[Item], day: str, rel: str, stats: FileStats, out: _BatchBuilder,
                   validator: str = "fast") -> Iterator[None]:
    """Validate one file's items into `out`; yields whenever the batch is full."""
    validate = validate_object if validator == "fast" else validate_values
    md5 = hashlib.md5
    id_prefix = f"{day}|{rel}|"
    for line, obj, raw, reason, detail in items:
        record_id = md5(f"{id_prefix}{line}".encode(), usedforsecurity=False).hexdigest()
        stats.records += 1
        out.rows += 1
        if type(raw) is bytes or type(raw) is str:
            out.input_bytes += len(raw)
        if reason is None:
            try:
                values, responses = validate(obj) if obj is not None else validate_json(raw)
            except ContractError as exc:
                reason, detail = exc.reason, exc.detail
            except orjson.JSONDecodeError as exc:
                reason, detail = _json_problem(raw, exc)
            else:
                if values[CREATED_AT] >= out.future:
                    reason, detail = "created_at_future", (
                        f"created {values[CREATED_AT].isoformat()}, after the day following its landing day {day}: "
                        "a producer clock or landing folder is wrong")
            if reason is None:
                stats.events += 1
                out.event_ids.append(record_id)
                out.events.append((rel, line, *values))
                out.responses_per_event.append(len(responses))
                out.responses.extend(responses)
                if out.full():
                    yield
                continue
        if obj is None and type(raw) is bytes:  # a jsonl record left undecoded for the fast validator
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
        event_id = obj.get("event_id") if type(obj) is dict else None
        stats.quarantined += 1
        out.quarantine_ids.append(record_id)
        out.quarantine.append((rel, line, event_id if type(event_id) is str else None, reason, detail, _verbatim(raw)))
        if out.full():
            yield


def _skip_rest_of_line(fh) -> int:
    skipped = 0
    while True:
        chunk = fh.readline(SKIP_CHUNK_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _json_problem(raw: bytes, exc: Exception) -> tuple[str, str]:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return "encoding_invalid", f"invalid UTF-8 at byte {bad.start}: {bad.reason}"
    if b"\x00" in raw:
        return "json_invalid", f"NUL byte at byte {raw.index(0)}"
    return "json_invalid", str(exc)


def _jsonl_items(path: Path, max_record_bytes: int, decode: bool = True,
                 span: tuple[int, int, int] | None = None) -> Iterator[Item]:
    """With decode False, records are yielded as raw bytes for validate_json to decode. `span`
    (start byte, end byte, lines before start) reads only the lines that start in that range of
    an uncompressed file, numbered as in the whole file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    start, end, line = span if span is not None else (0, -1, 0)
    try:
        with opener(path, "rb") as fh:
            if start:
                fh.seek(start)
            readline, tell = fh.readline, fh.tell
            while (end < 0 or tell() < end) and (raw := readline(max_record_bytes + 1)):
                line += 1
                if len(raw) > max_record_bytes and not raw.endswith(b"\n"):
                    size = len(raw) + _skip_rest_of_line(fh)
                    yield (line, None, raw[:KEPT_PREFIX_BYTES], "schema:record",
                           f"record is {size} bytes, over the {max_record_bytes}-byte limit; its first "
                           f"{KEPT_PREFIX_BYTES} bytes are kept")
                    continue
                if line == 1 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM):]
                if not decode:
                    if not raw.isspace():  # a blank line is not a record
                        yield line, None, raw, None, None
                    continue
                try:
                    obj = loads(raw)
                except decode_error as exc:
                    if not raw.strip():
                        continue
                    yield (line, None, raw, *_json_problem(raw, exc))
                    continue
                yield line, obj, raw, None, None
    except EOFError as exc:
        yield line + 1, None, "", "file_truncated", f"compressed stream ends early after line {line}: {exc}"
    except (OSError, zlib.error) as exc:
        where = 0 if line == 0 else line + 1
        yield where, None, "", "file_unreadable", f"cannot read past line {line}: {exc}"


def _csv_value(name: str, value: str) -> Any:
    if name in NESTED_FIELDS:
        return orjson.loads(value)
    if name == "consent_training":
        return CSV_BOOLEANS.get(value.strip().lower(), value)
    if name == "schema_version":
        digits = value.strip()
        return int(digits) if digits.isascii() and digits.isdigit() else value
    return value


def _csv_items(path: Path, max_record_bytes: int) -> Iterator[Item]:
    """CSV text has no types: one column per top-level field, nested fields as JSON text,
    consent_training as true/false, an empty cell as an absent field."""
    record_lines: list[str] = []
    bad_utf8: list[str] = []

    def physical_lines() -> Iterator[str]:
        # csv.reader pulls exactly the lines of one record before returning it, so these
        # buffers hold that record's verbatim text and any encoding problem in it.
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad_utf8.append(f"invalid UTF-8 at byte {exc.start} of the record's line {len(record_lines) + 1}")
                    text = raw.decode("utf-8", errors="replace")
                record_lines.append(text)
                yield text

    # The csv module caps a field at 128 KiB process-wide; a record may be as large as a jsonl line.
    csv.field_size_limit(max(csv.field_size_limit(), max_record_bytes))
    reader = csv.reader(physical_lines())
    row = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [name.lstrip("\ufeff").strip() for name in header]
        while True:
            record_lines.clear()
            bad_utf8.clear()
            values = next(reader, None)
            if values is None:
                return
            if not values:
                continue
            row += 1
            raw = "".join(record_lines).rstrip("\r\n")
            if bad_utf8:
                yield row, None, raw, "encoding_invalid", bad_utf8[0]
                continue
            if len(values) > len(header):
                detail = f"row has {len(values)} values, the header names {len(header)} columns"
                yield row, None, raw, "schema:row", detail
                continue
            try:
                obj = {name: _csv_value(name, value) for name, value in zip(header, values) if value != ""}
            except orjson.JSONDecodeError as exc:
                yield row, None, raw, "json_invalid", f"a nested column is not JSON: {exc}"
                continue
            yield row, obj, raw, None, None
    except csv.Error as exc:
        kept = "".join(record_lines)[:KEPT_PREFIX_BYTES]
        yield row + 1, None, kept, "file_unreadable", f"CSV breaks after row {row}: {exc}"


def _parquet_items(path: Path) -> Iterator[Item]:
    """One column per top-level field; nested fields as JSON text or native struct/list/map columns."""
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        yield 0, None, "", "file_unreadable", f"not a readable Parquet file: {exc}"
        return
    missing = [name for name in REQUIRED_FIELDS if name not in schema.names]
    if missing:
        yield (0, None, schema.to_string(show_schema_metadata=False), "file_unreadable",
               f"Parquet schema lacks the event contract's columns: {', '.join(missing)}")
        return
    map_columns = [f.name for f in schema if pa.types.is_map(f.type)]
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for values in batch.to_pylist():
                row += 1
                obj = {k: v for k, v in values.items() if v is not None}
                try:
                    for name in NESTED_FIELDS:
                        if type(obj.get(name)) is str:
                            obj[name] = orjson.loads(obj[name])
                except orjson.JSONDecodeError as exc:
                    yield row, None, values, "json_invalid", f"column {name} is not JSON: {exc}"
                    continue
                for name in map_columns:
                    if name in obj:
                        obj[name] = dict(obj[name])
                yield row, obj, values, None, None
    except (OSError, pa.ArrowException) as exc:
        yield row + 1, None, "", "file_unreadable", f"Parquet data unreadable after row {row}: {exc}"


def file_items(path: Path, max_record_bytes: int = MAX_RECORD_BYTES, validator: str = "fast",
               span: tuple[int, int, int] | None = None) -> Iterator[Item]:
    """The records of one landing file, decoded (jsonl records left as bytes for the fast
    validator), with the problems found before validation; `span` is a part of a plain jsonl
    file (`jsonl_spans`)."""
    if validator not in VALIDATORS:
        raise ValueError(f"validator must be one of {', '.join(VALIDATORS)}, got {validator!r}")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _jsonl_items(path, max_record_bytes, decode=validator == "reference", span=span)
    if name.endswith(".csv"):
        return _csv_items(path, max_record_bytes)
    if name.endswith(".parquet"):
        return _parquet_items(path)
    detail = f"landing files end in {', '.join(SUPPORTED_SUFFIXES)}; this one was not read"
    return iter([(0, None, "", "file_format_unknown", detail)])


def landing_files(day_dir: Path) -> list[Path]:
    if not day_dir.is_dir():
        return []
    return sorted((p for p in day_dir.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def _capture_batches(
    files: list[tuple[Path, str]], day: str, batch_rows: int, max_record_bytes: int, validator: str
) -> Iterator[CaptureBatch]:
    out = _BatchBuilder(day, batch_rows)
    for path, rel in files:
        stats = FileStats(rel)
        for _ in _capture_items(file_items(path, max_record_bytes, validator), day, rel, stats, out, validator):
            yield out.take()
        out.finished.append(stats)
    yield out.take()


def jsonl_spans(path: Path, span_bytes: int) -> list[tuple[int, int, int]]:
    """A plain jsonl file cut into parts of about `span_bytes` at line ends: (start byte, end
    byte or -1 for the end of the file, lines before start). A part holds the lines that start
    in its range, so the parts together read every line once, numbered as in the whole file."""
    size = path.stat().st_size
    spans, start, lines = [], 0, 0
    with open(path, "rb") as fh:
        while start + span_bytes < size:
            fh.seek(start + span_bytes - 1)
            _skip_rest_of_line(fh)  # to the end of the line the cut falls in (or just after a line end)
            end = fh.tell()
            if end >= size:
                break
            fh.seek(start)
            spans.append((start, end, lines))
            lines += fh.read(end - start).count(b"\n")
            start = end
    spans.append((start, -1, lines))
    return spans


# A capture task: (path, file relative to the landing root, span of a plain jsonl file or None).
Task = tuple[str, str, "tuple[int, int, int] | None"]


def _capture_task(task: Task, day: str, batch_rows: int, max_record_bytes: int, validator: str) -> list[CaptureBatch]:
    """One task, in a worker process: its batches, the last with the stats of its part of the file."""
    path, rel, span = task
    out = _BatchBuilder(day, batch_rows)
    stats = FileStats(rel)
    items = file_items(Path(path), max_record_bytes, validator, span)
    batches = [out.take() for _ in _capture_items(items, day, rel, stats, out, validator)]
    out.finished.append(stats)
    batches.append(out.take())
    return batches


def capture_tasks(files: list[tuple[Path, str]], span_bytes: int) -> list[Task]:
    """The day's files as tasks in file order: a plain jsonl file in parts of about
    `span_bytes`, any other file whole."""
    tasks: list[Task] = []
    for path, rel in files:
        if path.name.lower().endswith(".jsonl") and path.stat().st_size > span_bytes:
            tasks += [(str(path), rel, span) for span in jsonl_spans(path, span_bytes)]
        else:
            tasks.append((str(path), rel, None))
    return tasks


def _parallel_batches(
    files: list[tuple[Path, str]], day: str, batch_rows: int, max_record_bytes: int, validator: str, workers: int,
    span_bytes: int,
) -> Iterator[CaptureBatch]:
    """The same rows as _capture_batches, in the same order, validated in `workers` processes.
    Tasks run ahead by at most two per worker, so memory holds a few batches however large the
    day; a file's stats are summed over its parts and reported with its last part."""
    tasks = capture_tasks(files, span_bytes)
    last_part = {rel: i for i, (_, rel, _) in enumerate(tasks)}
    totals: dict[str, FileStats] = {}
    # spawn: the caller may hold threads (DuckDB, Dagster) that a forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque = deque()
        queued = iter(enumerate(tasks))
        for i, task in itertools.islice(queued, 2 * workers):
            pending.append((i, task, pool.submit(_capture_task, task, day, batch_rows, max_record_bytes, validator)))
        while pending:
            i, (_, rel, _), future = pending.popleft()
            batches = future.result()
            for i_next, task in itertools.islice(queued, 1):
                pending.append((i_next, task, pool.submit(_capture_task, task, day, batch_rows, max_record_bytes,
                                                          validator)))
            (part,) = batches[-1].files
            total = totals.setdefault(rel, FileStats(rel))
            total.records += part.records
            total.events += part.events
            total.quarantined += part.quarantined
            batches[-1].files = [total] if last_part[rel] == i else []
            yield from batches


def iter_capture_batches(
    landing_root: Path, day: str, *, batch_rows: int = BATCH_ROWS, max_record_bytes: int = MAX_RECORD_BYTES,
    validator: str = "fast", workers: int | None = None, span_bytes: int = SPAN_BYTES,
) -> Iterator[CaptureBatch]:
    """Capture landing_root/<day>/ batch by batch (an absent folder is an empty day). The last
    batch may be empty; every file appears in exactly one batch's `files`.

    With `workers` > 1 the day's files (plain jsonl files in parts of `span_bytes`) are
    validated in that many processes and handed out in file and line order: the same rows as
    one process gives. By default a day of at least PARALLEL_MIN_BYTES of landing files uses
    one worker per core, and a smaller day stays in this process (starting workers costs more
    than it saves)."""
    files = [(path, f"{day}/{path.name}") for path in landing_files(Path(landing_root) / day)]
    if workers is None:
        large = sum(path.stat().st_size for path, _ in files) >= PARALLEL_MIN_BYTES
        workers = min(MAX_WORKERS, os.cpu_count() or 1) if large else 1
    if workers > 1 and files:
        return _parallel_batches(files, day, batch_rows, max_record_bytes, validator, workers, span_bytes)
    return _capture_batches(files, day, batch_rows, max_record_bytes, validator)


def _collect(batches: Iterable[CaptureBatch]) -> CaptureResult:
    events, responses, quarantine, files = [], [], [], []
    for batch in batches:
        events.append(batch.events)
        responses.append(batch.responses)
        quarantine.append(batch.quarantine)
        files.extend(batch.files)
    return CaptureResult(pa.concat_tables(events), pa.concat_tables(responses), pa.concat_tables(quarantine), files)


def capture_day(
    landing_root: Path, day: str, *, batch_rows: int = BATCH_ROWS, max_record_bytes: int = MAX_RECORD_BYTES,
    validator: str = "fast", workers: int | None = None, span_bytes: int = SPAN_BYTES,
) -> CaptureResult:
    """Capture every file in landing_root/<day>/ into events, responses and quarantine tables."""
    return _collect(iter_capture_batches(landing_root, day, batch_rows=batch_rows, max_record_bytes=max_record_bytes,
                                         validator=validator, workers=workers, span_bytes=span_bytes))


def capture_file(path: Path, day: str | None = None) -> CaptureResult:
    """Capture one landing file (what `prefline validate FILE` runs). The day defaults to the
    file's folder name when that is a date, as it is under landing/."""
    path = Path(path)
    if day is None:
        try:
            day = date.fromisoformat(path.parent.name).isoformat()
        except ValueError:
            day = "1970-01-01"
    return _collect(_capture_batches([(path, f"{day}/{path.name}")], day, BATCH_ROWS, MAX_RECORD_BYTES, "fast"))
