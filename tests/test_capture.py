"""Capture: every malformed record is quarantined with file, line and reason; the rest of
the day still captures; records read = events + quarantined."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from pipeline.lib.capture import capture_day
from pipeline.lib.events import ContractError, validate_record
from tests.badinput import good_event, write_corpus

DAY = "2026-11-01"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    expected = write_corpus(root / DAY)
    return root, expected, capture_day(root, DAY)


def test_each_bad_record_is_quarantined_with_location_and_reason(corpus):
    _, expected, result = corpus
    got = {(r["source_file"].split("/", 1)[1], r["source_line"]): r["reason"] for r in result.quarantine.to_pylist()}
    for location, reason in expected.items():
        assert got.get(location) == reason, location
    truncated = [r for r in result.quarantine.to_pylist() if r["reason"] == "file_truncated"]
    assert len(truncated) == 1 and truncated[0]["source_file"].endswith("b-truncated.jsonl.gz")


def test_good_records_around_bad_ones_are_captured(corpus):
    _, _, result = corpus
    ids = result.events.column("event_id").to_pylist()
    assert {"good-1", "good-10", "good-11", "good-200"} <= set(ids)
    assert ids.count("good-1") == 2, "a duplicate id with other content is captured; filtering judges it"
    assert sum(1 for i in ids if i.startswith("good-1") and len(i) == 8) > 10, "gzip records before the break"
    csv_row = [r for r in result.events.to_pylist() if r["event_id"] == "good-200"][0]
    assert "line two\\n\\nline four" in csv_row["prompt_json"]


def test_counts_reconcile_and_record_ids_are_unique(corpus):
    _, _, result = corpus
    read = sum(f.records for f in result.files)
    assert read == result.events.num_rows + result.quarantine.num_rows
    ids = result.events.column("record_id").to_pylist() + result.quarantine.column("record_id").to_pylist()
    assert len(ids) == len(set(ids))
    assert {f.file for f in result.files if f.records == 0} >= {f"{DAY}/c-empty.jsonl"}


def test_bad_records_are_kept_verbatim(corpus):
    _, _, result = corpus
    rows = {(r["source_file"].split("/", 1)[1], r["source_line"]): r for r in result.quarantine.to_pylist()}
    assert rows[("a-events.jsonl", 7)]["raw_record"].startswith('{"event_id": "good-6"')
    assert "\ufffd" in rows[("a-events.jsonl", 3)]["raw_record"]
    assert rows[("a-events.jsonl", 5)]["event_id"] == "good-4"


def test_capture_is_deterministic(corpus):
    root, _, result = corpus
    again = capture_day(root, DAY)
    assert again.events.equals(result.events) and again.quarantine.equals(result.quarantine)


def test_content_hash_ignores_key_order_and_whitespace(tmp_path):
    import json

    day = tmp_path / DAY
    day.mkdir()
    event = good_event(1)
    reordered = dict(reversed(list(event.items())))
    (day / "x.jsonl").write_text(json.dumps(event) + "\n" + json.dumps(reordered, indent=None, separators=(", ", ": ")) + "\n")
    hashes = capture_day(tmp_path, DAY).events.column("content_hash").to_pylist()
    assert len(hashes) == 2 and hashes[0] == hashes[1]


def test_memory_stays_bounded_on_a_huge_record(tmp_path):
    import json

    day = tmp_path / DAY
    day.mkdir()
    huge = good_event(1, prompt={"text": "y" * (20 * 1024 * 1024), "template": "plain"})
    (day / "huge.jsonl").write_text(json.dumps(huge) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = capture_day(tmp_path, DAY)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.events.num_rows == 1
    assert grown_mb < 400, f"capturing one 20 MB record grew peak memory by {grown_mb:.0f} MB"


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"event_type": "thumbs", "label": {"value": "sideways"}, "responses": [{"response_id": "a", "content": "x"}]},
         "schema:label"),
        ({"event_type": "rating", "label": {"score": 3}}, "schema:responses"),
        ({"label": {"preferred": "zzz"}}, "schema:label"),
        ({"annotator": {"kind": "robot"}}, "schema:annotator"),
        ({"schema_version": 2}, "schema:schema_version"),
        ({"created_at": "2026-11-01T10:00:00"}, "schema:created_at"),
        ({"responses": [{"response_id": "a", "content": "x"}, {"response_id": "a", "content": "y"}]}, "schema:responses"),
    ],
)
def test_contract_rules(overrides, reason):
    with pytest.raises(ContractError) as err:
        validate_record(good_event(1, **overrides))
    assert err.value.reason == reason


def test_valid_shapes_of_every_event_type():
    one = [{"response_id": "a", "content": "x"}]
    two = one + [{"response_id": "b", "content": "y"}]
    for overrides in (
        {"label": {"tie": True}},
        {"label": {"preferred": None}},
        {"event_type": "rating", "responses": one, "label": {"score": 5}},
        {"event_type": "thumbs", "responses": one, "label": {"value": "down"}},
        {"event_type": "edit", "responses": one, "label": {"edited_content": "better"}},
        {"event_type": "regenerate", "responses": two, "label": {"discarded": "a"}},
        {"prompt": {"text": "<|im_start|>user\nhi<|im_end|>\n", "template": "chatml"},
         "annotator": {"kind": "ai", "id": "gpt-judge", "saw_model_draft": False}, "tags": {"category": "math"}},
    ):
        row, _ = validate_record(good_event(1, **overrides))
        assert row["event_id"] == "good-1"
