"""Capture: every malformed record is quarantined with file, line and reason; the rest of the
day still captures; records read = events + quarantined; ids and hashes are deterministic."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.capture.contract import EVENT_COLUMNS, ContractError, validate_record
from pipeline.capture.landing import (
    EVENTS_SCHEMA,
    QUARANTINE_SCHEMA,
    RESPONSES_SCHEMA,
    capture_day,
    capture_file,
    iter_capture_batches,
)
from pipeline.core.hashing import content_id, md5_hex
from tests.badinput import CSV_COLUMNS, csv_row, good_event, parquet_json_table, write_corpus

DAY = "2026-11-01"
REPO = Path(__file__).resolve().parents[1]


def _where(row: dict) -> tuple[str, int]:
    return row["source_file"].split("/", 1)[1], row["source_line"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    expected = write_corpus(root / DAY)
    return root, expected, capture_day(root, DAY)


def test_every_bad_record_is_quarantined_at_its_location_with_its_reason(corpus):
    _, expected, result = corpus
    got = {_where(r): r["reason"] for r in result.quarantine.to_pylist()}
    assert got == expected.quarantined


def test_good_records_around_bad_ones_are_captured_where_they_were(corpus):
    _, expected, result = corpus
    got = {_where(r): r["event_id"] for r in result.events.to_pylist()}
    assert got == expected.captured
    assert list(got.values()).count("good-1") == 2, "a repeated id with other content is captured twice"


def test_counts_reconcile_per_file_and_for_the_day(corpus):
    _, expected, result = corpus
    assert {f.file.split("/", 1)[1]: f.records for f in result.files} == expected.records
    for f in result.files:
        assert f.records == f.events + f.quarantined, f
    assert sum(f.records for f in result.files) == result.events.num_rows + result.quarantine.num_rows
    assert ".upload-in-progress.jsonl" not in {f.file.split("/", 1)[1] for f in result.files}


def test_tables_have_the_contract_schemas_and_unique_deterministic_ids(corpus):
    root, _, result = corpus
    assert result.events.schema == EVENTS_SCHEMA
    assert result.responses.schema == RESPONSES_SCHEMA
    assert result.quarantine.schema == QUARANTINE_SCHEMA
    assert tuple(EVENTS_SCHEMA.names[4:]) == EVENT_COLUMNS
    rows = result.events.to_pylist() + result.quarantine.to_pylist()
    assert all(r["record_id"] == md5_hex(f"{DAY}|{r['source_file']}|{r['source_line']}") for r in rows)
    assert len({r["record_id"] for r in rows}) == len(rows)
    again = capture_day(root, DAY)
    assert again.events.equals(result.events) and again.quarantine.equals(result.quarantine)
    assert again.responses.equals(result.responses)


def test_responses_follow_their_event_in_display_order(corpus):
    _, _, result = corpus
    events = {r["record_id"]: r["event_id"] for r in result.events.to_pylist()}
    responses = result.responses.to_pylist()
    assert len(responses) == 2 * result.events.num_rows
    assert {r["record_id"] for r in responses} == set(events)
    first = [r for r in responses if events[r["record_id"]] == "good-11"]
    assert [(r["position"], r["response_id"], r["content"], r["model"]) for r in first] == [
        (0, "a", "Answer A11", "m1"), (1, "b", "Answer B11", "m2")]


def test_bad_records_are_kept_verbatim_with_what_is_wrong(corpus):
    _, _, result = corpus
    rows = {_where(r): r for r in result.quarantine.to_pylist()}
    assert rows[("a-events.jsonl", 7)]["raw_record"].startswith('{"event_id": "good-6"')
    assert rows[("a-events.jsonl", 7)]["detail"] == "unexpected field"
    assert rows[("a-events.jsonl", 3)]["raw_record"] == '{"event_id": "bad-utf8", "note": "caf\ufffd \ufffd\ufffd"}'
    assert "NUL byte" in rows[("a-events.jsonl", 4)]["detail"]
    assert "\x00" in rows[("a-events.jsonl", 4)]["raw_record"]
    assert rows[("a-events.jsonl", 5)]["event_id"] == "good-4"
    assert rows[("d-events.csv", 2)]["raw_record"].startswith("csv-bad,pairwise,")
    assert "event_id" in rows[("f-wrong-schema.parquet", 0)]["detail"]
    assert all(r["detail"] and r["raw_record"] is not None for r in rows.values())


def test_the_huge_and_the_multiline_records_keep_their_content(corpus):
    _, _, result = corpus
    events = {r["event_id"]: r for r in result.events.to_pylist() if r["event_id"] in ("good-10", "good-200")}
    assert len(json.loads(events["good-10"]["prompt_json"])["text"]) == 20 << 20
    csv_prompt = json.loads(events["good-200"]["prompt_json"])
    assert csv_prompt == {"text": "line one\nline two\n\nline four", "template": "plain"}
    assert (events["good-200"]["category"], events["good-200"]["language"]) == ("writing", "en")


def test_a_truncated_gzip_keeps_the_lines_before_the_break(corpus):
    _, expected, result = corpus
    kept = [r for r in result.events.to_pylist() if r["source_file"].endswith("b-truncated.jsonl.gz")]
    (break_at,) = [line for (name, line) in expected.quarantined if name == "b-truncated.jsonl.gz"]
    assert 0 < len(kept) == break_at - 1 < 50


def test_batches_stay_small_and_add_up_to_the_day(corpus):
    root, _, result = corpus
    batches = list(iter_capture_batches(root, DAY, batch_rows=4))
    assert all(b.events.num_rows + b.quarantine.num_rows <= 4 for b in batches)
    assert pa.concat_tables([b.events for b in batches]).equals(result.events)
    assert pa.concat_tables([b.quarantine for b in batches]).equals(result.quarantine)
    assert [f.file for b in batches for f in b.files] == [f.file for f in result.files]


def test_capturing_a_20mb_record_keeps_memory_bounded(tmp_path):
    day = tmp_path / DAY
    day.mkdir()
    huge = good_event(1, prompt={"text": "y" * (20 << 20), "template": "plain"})
    (day / "huge.jsonl").write_bytes(json.dumps(huge).encode() + b"\n" + json.dumps(good_event(2)).encode() + b"\n")
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from pipeline.capture.landing import capture_day
        capture_day(Path({str(tmp_path)!r}), "2026-11-02")  # warm up every import on an empty day
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = capture_day(Path({str(tmp_path)!r}), {DAY!r})
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(result.events.num_rows, round(grown))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    events, grown_mb = map(int, out.stdout.split())
    assert events == 2
    assert grown_mb < 200, f"capturing one 20 MB record grew peak memory by {grown_mb} MB"


def test_a_record_over_the_size_limit_is_quarantined_and_the_next_line_read(tmp_path):
    day = tmp_path / DAY
    day.mkdir()
    big = good_event(1, prompt={"text": "z" * 5000, "template": "plain"})
    (day / "x.jsonl").write_bytes(json.dumps(big).encode() + b"\n" + json.dumps(good_event(2)).encode() + b"\n")
    result = capture_day(tmp_path, DAY, max_record_bytes=2000)
    (row,) = result.quarantine.to_pylist()
    assert (row["source_line"], row["reason"]) == (1, "schema:record")
    assert len(row["raw_record"]) <= 64 << 10 and "over the 2000-byte limit" in row["detail"]
    assert result.events.column("event_id").to_pylist() == ["good-2"]
    assert result.events.column("source_line").to_pylist() == [2]


def test_unreadable_files_are_one_row_at_line_zero(tmp_path):
    day = tmp_path / DAY
    day.mkdir()
    (day / "a.jsonl.gz").write_bytes(b"this is not gzip\n")
    (day / "b.jsonl").write_bytes(json.dumps(good_event(1)).encode())  # no final newline: still a record
    result = capture_day(tmp_path, DAY)
    assert [(r["source_line"], r["reason"]) for r in result.quarantine.to_pylist()] == [(0, "file_unreadable")]
    assert result.events.column("event_id").to_pylist() == ["good-1"]


def test_the_same_event_hashes_the_same_in_every_format_and_spelling(tmp_path):
    day = tmp_path / DAY
    day.mkdir()
    event = good_event(1, tags={"category": "math", "language": "en"},
                       annotator={"kind": "annotator", "id": "ann-1", "saw_model_draft": False})
    reordered = dict(reversed(list(event.items())))
    reordered["created_at"] = "2026-11-01T12:00:00+02:00"  # the same instant, another offset
    reordered["schema_version"] = 1
    with_nulls = dict(event, policy_version=None, label={"preferred": "a", "tie": None})
    (day / "a.jsonl").write_text(json.dumps(event) + "\n" + json.dumps(reordered, indent=None, separators=(", ", " : "))
                                 + "\n" + json.dumps(with_nulls) + "\n")
    (day / "b.jsonl.gz").write_bytes(gzip.compress(json.dumps(event).encode() + b"\n"))
    with open(day / "c.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS + ["annotator"])
        writer.writerow(csv_row(event) + [json.dumps(event["annotator"])])
    table = parquet_json_table([event]).append_column("annotator", pa.array([json.dumps(event["annotator"])]))
    pq.write_table(table, day / "d.parquet")
    native = pa.Table.from_pylist([event])  # nested fields as native struct and list columns
    pq.write_table(native, day / "e.parquet")
    result = capture_day(tmp_path, DAY)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    assert result.events.num_rows == 7
    for column in ("content_hash", "prompt_json", "label_json", "tags_json", "created_at", "annotator_id"):
        assert len(set(result.events.column(column).to_pylist())) == 1, column
    expected = content_id({**event, "created_at": "2026-11-01T10:00:00+00:00", "schema_version": 1})
    assert result.events.column("content_hash")[0].as_py() == expected


def test_a_changed_label_changes_the_content_hash():
    a, _ = validate_record(good_event(1))
    b, _ = validate_record(good_event(1, label={"preferred": "b"}))
    assert a["content_hash"] != b["content_hash"]


def test_capture_file_reads_one_file_under_its_day(tmp_path):
    day = tmp_path / DAY
    day.mkdir()
    (day / "x.jsonl").write_text(json.dumps(good_event(1)) + "\n{oops\n")
    result = capture_file(day / "x.jsonl")
    assert result.events.column("partition_date")[0].as_py().isoformat() == DAY
    assert result.quarantine.column("reason").to_pylist() == ["json_invalid"]
    assert capture_day(tmp_path, "2026-12-31").events.num_rows == 0


ONE = [{"response_id": "a", "content": "x"}]
TWO = ONE + [{"response_id": "b", "content": "y"}]


@pytest.mark.parametrize(
    "record, reason",
    [
        ("not an object", "record_not_object"),
        (good_event(1, event_id=""), "schema:event_id"),
        (good_event(1, event_id=7), "schema:event_id"),
        (good_event(1, source=None), "schema:source"),
        (good_event(1, consent_training=1), "schema:consent_training"),
        (good_event(1, created_at="2026-11-01T10:00:00"), "schema:created_at"),
        (good_event(1, created_at="2026-11-01"), "schema:created_at"),
        (good_event(1, created_at="20261101T100000Z"), "schema:created_at"),
        (good_event(1, created_at="2026-13-01T10:00:00Z"), "schema:created_at"),
        (good_event(1, created_at=1730455200), "schema:created_at"),
        (good_event(1, prompt={"messages": []}), "schema:prompt"),
        (good_event(1, prompt={"messages": [{"role": "user"}]}), "schema:prompt"),
        (good_event(1, prompt={"text": "hi", "messages": [{"role": "user", "content": "hi"}]}), "schema:prompt"),
        (good_event(1, prompt={"text": "hi", "template": 3}), "schema:prompt"),
        (good_event(1, prompt="hi"), "schema:prompt"),
        (good_event(1, responses=ONE), "schema:responses"),
        (good_event(1, event_type="rating", label={"score": 3}), "schema:responses"),
        (good_event(1, responses=[{"response_id": "a", "content": "x"}, {"response_id": "a", "content": "y"}]),
         "schema:responses"),
        (good_event(1, responses=[{"response_id": "a", "content": 5}, {"response_id": "b", "content": "y"}]),
         "schema:responses"),
        (good_event(1, responses=[{"response_id": "a", "content": "x", "score": 1}, TWO[1]]),
         "schema:responses"),
        (good_event(1, label={"preferred": "zzz"}), "schema:label"),
        (good_event(1, label={"tie": "true"}), "schema:label"),
        (good_event(1, label={"tie": True, "preferred": "a"}), "schema:label"),
        (good_event(1, label={}), "schema:label"),
        (good_event(1, label={"preferred": "a", "why": "shorter"}), "schema:label"),
        (good_event(1, event_type="rating", responses=ONE, label={"score": 0}), "schema:label"),
        (good_event(1, event_type="rating", responses=ONE, label={"score": 4.0}), "schema:label"),
        (good_event(1, event_type="rating", responses=ONE, label={"score": True}), "schema:label"),
        (good_event(1, event_type="edit", responses=ONE, label={"edited_content": "  "}), "schema:label"),
        (good_event(1, event_type="regenerate", responses=TWO, label={"discarded": "c"}), "schema:label"),
        (good_event(1, annotator={"kind": "ai", "saw_model_draft": "true"}), "schema:annotator"),
        (good_event(1, annotator={"id": "x"}), "schema:annotator"),
        (good_event(1, annotator="ai"), "schema:annotator"),
        (good_event(1, tags={"category": 3}), "schema:tags"),
        (good_event(1, tags=["math"]), "schema:tags"),
        (good_event(1, policy_version=2), "schema:policy_version"),
        (good_event(1, schema_version=1.0), "schema:schema_version"),
        (good_event(1, schema_version="1"), "schema:schema_version"),
    ],
)
def test_contract_rules(record, reason):
    with pytest.raises(ContractError) as err:
        validate_record(record)
    assert err.value.reason == reason
    assert err.value.detail


def test_missing_and_unexpected_fields_name_the_field():
    with pytest.raises(ContractError) as err:
        validate_record({k: v for k, v in good_event(1).items() if k != "label"})
    assert (err.value.reason, err.value.detail) == ("schema:label", "required field is missing")
    with pytest.raises(ContractError) as err:
        validate_record(good_event(1, mood="happy"))
    assert (err.value.reason, err.value.detail) == ("schema:mood", "unexpected field")


def test_every_event_type_fills_its_label_column():
    cases = [
        ({"label": {"tie": True}}, "label_tie", True),
        ({"label": {"preferred": None}}, "label_preferred", None),
        ({"label": {"preferred": "b", "tie": False}}, "label_preferred", "b"),
        ({"event_type": "rating", "responses": ONE, "label": {"score": 5}}, "label_score", 5),
        ({"event_type": "thumbs", "responses": ONE, "label": {"value": "down"}}, "label_thumb", "down"),
        ({"event_type": "edit", "responses": ONE, "label": {"edited_content": "better"}},
         "label_edited_content", "better"),
        ({"event_type": "regenerate", "responses": TWO + [{"response_id": "c", "content": "z"}],
          "label": {"discarded": "a"}}, "label_discarded", "a"),
    ]
    label_columns = [c for c in EVENT_COLUMNS if c.startswith("label_") and c != "label_json"]
    for overrides, column, value in cases:
        row, responses = validate_record(good_event(1, **overrides))
        assert row[column] == value, overrides
        assert all(row[c] is None for c in label_columns if c != column), overrides
        assert [r["position"] for r in responses] == list(range(len(overrides.get("responses", TWO))))


def test_optional_parts_are_lifted_into_columns():
    row, _ = validate_record(good_event(
        1, prompt={"text": "<|im_start|>user\nhi<|im_end|>\n", "template": "chatml"},
        created_at="2026-11-01T05:30:00-04:30", policy_version="rubric-3",
        annotator={"kind": "ai", "id": "gpt-judge", "saw_model_draft": False},
        tags={"category": "math", "language": "de", "campaign": "q4"},
    ))
    assert row["created_at"].isoformat() == "2026-11-01T10:00:00+00:00"
    assert (row["annotator_kind"], row["annotator_id"], row["annotator_saw_model_draft"]) == ("ai", "gpt-judge", False)
    assert (row["category"], row["language"], row["policy_version"]) == ("math", "de", "rubric-3")
    assert json.loads(row["tags_json"]) == {"category": "math", "language": "de", "campaign": "q4"}
    assert json.loads(row["prompt_json"])["template"] == "chatml"
    assert row["schema_version"] == 1


def test_an_old_event_lands_on_its_day_and_one_from_the_future_is_quarantined(tmp_path):
    day_dir = tmp_path / DAY
    day_dir.mkdir()
    events = [
        {**good_event(1), "created_at": "2023-04-17T09:12:00Z"},  # an export of old annotations
        {**good_event(2), "created_at": "2026-11-02T23:59:59+00:00"},  # the next day: clock skew
        {**good_event(3), "created_at": "2026-11-03T00:00:00Z"},  # two days ahead: a wrong clock
    ]
    (day_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    result = capture_day(tmp_path, DAY)
    assert result.events.column("event_id").to_pylist() == ["good-1", "good-2"]
    [row] = result.quarantine.to_pylist()
    assert (row["event_id"], row["reason"], row["source_line"]) == ("good-3", "created_at_future", 3)
    assert "2026-11-03T00:00:00+00:00" in row["detail"] and DAY in row["detail"]
