"""A corpus of malformed landing files and records, written into a tmp folder by the tests
(nothing binary is committed). `write_corpus` returns where each record must end: quarantined
with a reason, or captured as an event id, keyed by (file name, line or row)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CSV_COLUMNS = ["event_id", "event_type", "created_at", "source", "user_id", "consent_training",
               "prompt", "responses", "label", "tags"]


def good_event(i: int, **overrides) -> dict:
    event = {
        "event_id": f"good-{i}",
        "event_type": "pairwise",
        "created_at": "2026-11-01T10:00:00Z",
        "source": "app:chat",
        "user_id": f"user-{i}",
        "consent_training": True,
        "prompt": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
        "responses": [{"response_id": "a", "content": f"Answer A{i}", "model": "m1"},
                      {"response_id": "b", "content": f"Answer B{i}", "model": "m2"}],
        "label": {"preferred": "a"},
    }
    event.update(overrides)
    return event


def without(event: dict, name: str) -> dict:
    return {k: v for k, v in event.items() if k != name}


def line(obj) -> bytes:
    return json.dumps(obj).encode()


def csv_row(event: dict) -> list[str]:
    """An event as CSV cells: nested fields as JSON text, booleans as true/false."""
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    return [cell(event.get(name)) for name in CSV_COLUMNS]


def csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()


def parquet_json_table(events: list[dict]) -> pa.Table:
    """Events as a Parquet-ready table: one column per field, nested fields as JSON strings."""
    names = CSV_COLUMNS
    columns = {
        name: [None if e.get(name) is None else json.dumps(e[name]) if isinstance(e[name], (dict, list)) else e[name]
               for e in events]
        for name in names
    }
    return pa.table(columns)


@dataclass
class Corpus:
    quarantined: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, line) -> reason
    captured: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, line) -> event_id
    records: dict[str, int] = field(default_factory=dict)  # file -> records read


def _jsonl(corpus: Corpus, name: str, records: list[tuple[bytes, str | None]]) -> bytes:
    """The file's bytes; records are (line, expected reason, or None when it must be captured)."""
    for number, (raw, reason) in enumerate(records, start=1):
        if not raw.strip():
            continue
        if reason:
            corpus.quarantined[(name, number)] = reason
        else:
            corpus.captured[(name, number)] = json.loads(raw)["event_id"]
    corpus.records[name] = sum(1 for raw, _ in records if raw.strip())
    return b"".join(raw + b"\n" for raw, _ in records)


def write_corpus(day_dir: Path, huge_mb: int = 20) -> Corpus:
    day_dir.mkdir(parents=True, exist_ok=True)
    corpus = Corpus()
    one = [{"response_id": "a", "content": "x"}]
    nul = line(good_event(3))

    (day_dir / "a-events.jsonl").write_bytes(_jsonl(corpus, "a-events.jsonl", [
        (line(good_event(1)), None),
        (line(good_event(2))[:-20], "json_invalid"),  # truncated JSON
        (b'{"event_id": "bad-utf8", "note": "caf\xe9 \xff\xfe"}', "encoding_invalid"),
        (nul[:30] + b"\x00" + nul[30:], "json_invalid"),  # a NUL byte inside the line
        (line(good_event(4, consent_training="true")), "schema:consent_training"),  # a string, not a boolean
        (line(without(good_event(5), "user_id")), "schema:user_id"),  # missing field
        (line(good_event(6, favourite_colour="blue")), "schema:favourite_colour"),  # extra field
        (line(good_event(7, event_type="star_rating")), "schema:event_type"),  # unknown enum value
        (line(good_event(8, event_type="rating", responses=one, label={"score": 9})), "schema:label"),
        (line(good_event(9, created_at="yesterday")), "schema:created_at"),
        (b"", None),  # a blank line is not a record
        (line(good_event(1, responses=[{"response_id": "a", "content": "other"},
                                       {"response_id": "b", "content": "content"}])), None),  # same id, new content
        (b"[1, 2, 3]", "record_not_object"),
        (line(good_event(10, prompt={"text": "x" * (huge_mb << 20), "template": "plain"})), None),  # huge, valid
        (line(good_event(12, event_type="thumbs", responses=one, label={"value": "sideways"})), "schema:label"),
        (line(good_event(13, annotator={"kind": "robot"})), "schema:annotator"),
        (line(good_event(14, schema_version=2)), "schema:schema_version"),
        (line(good_event(15, event_type="rating", responses=one, label={"score": "5"})), "schema:label"),
        (line(good_event(11)), None),
    ]))

    complete = _jsonl(corpus, "a2-events.jsonl.gz", [(line(good_event(300 + i)), None) for i in range(3)])
    (day_dir / "a2-events.jsonl.gz").write_bytes(gzip.compress(complete))

    # A gzip that ends early: the whole lines before the break are kept, the break is quarantined.
    payload = b"".join(line(good_event(100 + i)) + b"\n" for i in range(50))
    compressed = gzip.compress(payload)
    cut = compressed[: len(compressed) * 2 // 3]
    (day_dir / "b-truncated.jsonl.gz").write_bytes(cut)
    survivors = zlib.decompressobj(31).decompress(cut).count(b"\n")
    for n in range(1, survivors + 1):
        corpus.captured[("b-truncated.jsonl.gz", n)] = f"good-{100 + n - 1}"
    corpus.quarantined[("b-truncated.jsonl.gz", survivors + 1)] = "file_truncated"
    corpus.records["b-truncated.jsonl.gz"] = survivors + 1

    (day_dir / "c-empty.jsonl").write_bytes(b"")
    corpus.records["c-empty.jsonl"] = 0

    # CSV: a quoted prompt that spans lines is one record; then a nested cell that is not JSON.
    with open(day_dir / "d-events.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerow(csv_row(good_event(200, prompt={"text": "line one\nline two\n\nline four", "template": "plain"},
                                           tags={"category": "writing", "language": "en"})))
        writer.writerow(["csv-bad", "pairwise", "2026-11-01T10:00:00Z", "app", "u", "true", "{not", "[]", "{}", ""])
        writer.writerow(csv_row(good_event(201, consent_training=False)))
    with open(day_dir / "d-events.csv", "ab") as fh:
        latin1 = csv_line(csv_row(good_event(202, source="caf\u00e9"))).encode("latin-1")  # not UTF-8
        fh.write(latin1 + csv_line(csv_row(good_event(203)) + ["surplus"]).encode())
    corpus.captured[("d-events.csv", 1)] = "good-200"
    corpus.quarantined[("d-events.csv", 2)] = "json_invalid"
    corpus.captured[("d-events.csv", 3)] = "good-201"
    corpus.quarantined[("d-events.csv", 4)] = "encoding_invalid"
    corpus.quarantined[("d-events.csv", 5)] = "schema:row"
    corpus.records["d-events.csv"] = 5

    # Parquet with nested fields as JSON text, one row of which breaks the contract.
    pq.write_table(parquet_json_table([good_event(400), good_event(401, label={"preferred": "zzz"})]),
                   day_dir / "e-events.parquet")
    corpus.captured[("e-events.parquet", 1)] = "good-400"
    corpus.quarantined[("e-events.parquet", 2)] = "schema:label"
    corpus.records["e-events.parquet"] = 2

    # Parquet with the wrong schema, one that is not Parquet at all, and an unknown format.
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"]}), day_dir / "f-wrong-schema.parquet")
    (day_dir / "g-corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    (day_dir / "h-notes.txt").write_text("not a landing format")
    for name, reason in (("f-wrong-schema.parquet", "file_unreadable"), ("g-corrupt.parquet", "file_unreadable"),
                         ("h-notes.txt", "file_format_unknown")):
        corpus.quarantined[(name, 0)] = reason
        corpus.records[name] = 1

    (day_dir / ".upload-in-progress.jsonl").write_bytes(line(good_event(999)) + b"\n")  # hidden: not a landing file
    return corpus
