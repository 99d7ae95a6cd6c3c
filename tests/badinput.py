"""A corpus of malformed landing files and records, written into a tmp folder by the tests
(nothing binary is committed). Each case names where it must end and why."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


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


def line(obj: dict) -> bytes:
    return json.dumps(obj).encode()


# (file, line) -> expected quarantine reason; lines without an entry must be captured.
def write_corpus(day_dir: Path, huge_mb: int = 20) -> dict[tuple[str, int], str]:
    day_dir.mkdir(parents=True, exist_ok=True)
    expected: dict[tuple[str, int], str] = {}

    records = [
        (line(good_event(1)), None),
        (line(good_event(2))[:-20], "json_invalid"),  # truncated JSON
        (b'{"event_id": "bad-utf8", "note": "\xff\xfe"}', "encoding_invalid"),  # invalid UTF-8
        (line(good_event(3))[:30] + b"\x00" + line(good_event(3))[30:], "json_invalid"),  # NUL byte
        (line(good_event(4, consent_training="true")), "schema:consent_training"),  # wrong type
        (line({k: v for k, v in good_event(5).items() if k != "user_id"}), "schema:user_id"),  # missing
        (line(good_event(6, favourite_colour="blue")), "schema:favourite_colour"),  # extra field
        (line(good_event(7, event_type="star_rating")), "schema:event_type"),  # unknown enum
        (line(good_event(8, label={"score": 9}, event_type="rating",
                         responses=[{"response_id": "a", "content": "x"}])), "schema:label"),
        (line(good_event(9, created_at="yesterday")), "schema:created_at"),
        (line(good_event(1, responses=[{"response_id": "a", "content": "other"},
                                       {"response_id": "b", "content": "content"}])), None),  # dup id, new content
        (b"[1, 2, 3]", "record_not_object"),
        (line(good_event(10, prompt={"text": "x" * (huge_mb * 1024 * 1024), "template": "plain"})), None),  # huge
        (line(good_event(11)), None),
    ]
    with open(day_dir / "a-events.jsonl", "wb") as fh:
        for i, (raw, reason) in enumerate(records, start=1):
            fh.write(raw + b"\n")
            if reason:
                expected[("a-events.jsonl", i)] = reason

    # A gzip that ends early: the records before the break are kept, the break is quarantined.
    payload = b"".join(line(good_event(100 + i)) + b"\n" for i in range(50))
    compressed = gzip.compress(payload)
    (day_dir / "b-truncated.jsonl.gz").write_bytes(compressed[: len(compressed) * 2 // 3])

    (day_dir / "c-empty.jsonl").write_bytes(b"")

    # A CSV whose quoted prompt text spans lines.
    with open(day_dir / "d-events.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        fields = ["event_id", "event_type", "created_at", "source", "user_id", "consent_training",
                  "prompt", "responses", "label"]
        writer.writerow(fields)
        multi = good_event(200, prompt={"text": "line one\nline two\n\nline four", "template": "plain"})
        writer.writerow([json.dumps(multi[f]) if isinstance(multi[f], (dict, list)) else
                         ("true" if multi[f] is True else multi[f]) for f in fields])
        writer.writerow(["csv-bad", "pairwise", "2026-11-01T10:00:00Z", "app", "u", "true", "{not json", "[]", "{}"])
    expected[("d-events.csv", 2)] = "json_invalid"

    # A Parquet file with the wrong schema, and one that is not Parquet at all.
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"]}), day_dir / "e-wrong-schema.parquet")
    expected[("e-wrong-schema.parquet", 0)] = "file_unreadable"
    (day_dir / "f-corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    expected[("f-corrupt.parquet", 0)] = "file_unreadable"
    (day_dir / "g-notes.txt").write_text("not a landing format")
    expected[("g-notes.txt", 0)] = "file_format_unknown"
    return expected
