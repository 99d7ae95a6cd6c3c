"""The msgspec validators give what the reference validator gives: the same events rows (content
hash included), responses rows and quarantine reasons with their details, record by record
(an edge corpus of every contract rule, as JSON lines and as decoded CSV/Parquet rows),
through capture on the bad-input corpus, and on generated days of both modes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from pipeline.capture.contract import ContractError, validate_values
from pipeline.capture.contract_fast import validate_json, validate_object
from pipeline.capture.landing import _jsonl_items, capture_day, jsonl_spans
from pipeline.synth.generate import write_landing
from tests.badinput import good_event, without, write_corpus

ONE = [{"response_id": "a", "content": "x", "model": "m"}]


def _rating(**label):
    return good_event(0, event_type="rating", responses=ONE, label=label)


EDGES: list[dict | list | str | int | None] = [
    good_event(1),
    good_event(2, prompt={"text": "<|im_start|>user\nhi<|im_end|>\n", "template": "chatml"}),
    good_event(3, prompt={"text": "plain", "template": None}),
    good_event(4, prompt={"text": "   "}),
    good_event(5, prompt={"text": "x", "messages": None}),
    good_event(6, prompt={"messages": [{"role": "user", "content": "q"}], "template": "chatml"}),
    good_event(7, prompt={"messages": [{"role": "user", "content": "q", "name": "bob"}]}),
    good_event(8, prompt={"messages": [{"role": "", "content": "q"}]}),
    good_event(9, prompt={"messages": []}),
    good_event(10, prompt={"messages": [{"role": "user", "content": None}]}),
    good_event(11, prompt={}),
    good_event(12, prompt="just text"),
    good_event(13, event_id="   "),
    good_event(14, event_id="\u3000"),
    good_event(15, event_id="\x1c"),
    good_event(16, event_id=""),
    good_event(17, source=5),
    good_event(18, user_id=None),
    good_event(19, consent_training=1),
    good_event(20, consent_training="true"),
    good_event(21, created_at="2026-11-01t10:00:00z"),
    good_event(22, created_at="2026-11-01 10:00:00+02:00"),
    good_event(23, created_at="2026-11-01T10:00:00.5-03:30"),
    good_event(24, created_at="2026-11-01T10:00:00.1234567Z"),
    good_event(25, created_at="2026-11-01T10:00:00"),
    good_event(26, created_at="2026-11-01T10:00:00+0100"),
    good_event(27, created_at="2026-13-01T10:00:00Z"),
    good_event(28, created_at="2026-12-31T23:59:60Z"),
    good_event(29, created_at="2026-11-01T24:00:00Z"),
    good_event(30, created_at="2026-11-0١T10:00:00Z"),
    good_event(31, created_at=20261101),
    good_event(32, schema_version=1),
    good_event(33, schema_version=None),
    good_event(34, schema_version=True),
    good_event(35, schema_version=1.0),
    good_event(36, schema_version=2, user_id=None),
    without(good_event(37), "label"),
    good_event(38, label=None),
    good_event(39, label="a"),
    good_event(40, label={"preferred": None}),
    good_event(41, label={"tie": True}),
    good_event(42, label={"tie": True, "preferred": None}),
    good_event(43, label={"tie": True, "preferred": "a"}),
    good_event(44, label={"tie": False, "preferred": "b"}),
    good_event(45, label={"tie": False}),
    good_event(46, label={"tie": "yes", "preferred": "a"}),
    good_event(47, label={"preferred": "zzz"}),
    good_event(48, label={"preferred": 1}),
    good_event(49, label={"preferred": "a", "score": None}),
    good_event(50, label={"preferred": "a", "score": 3}),
    good_event(51, label={}),
    _rating(score=5), _rating(score=1), _rating(score=0), _rating(score=6), _rating(score=True), _rating(score=4.0),
    _rating(score="5"), _rating(score=10**30), _rating(score=3, tie=None),
    good_event(52, event_type="thumbs", responses=ONE, label={"value": "up"}),
    good_event(53, event_type="thumbs", responses=ONE, label={"value": "UP"}),
    good_event(54, event_type="thumbs", responses=ONE * 2, label={"value": "down"}),
    good_event(55, event_type="edit", responses=ONE, label={"edited_content": "better"}),
    good_event(56, event_type="edit", responses=ONE, label={"edited_content": " \n"}),
    good_event(57, event_type="edit", responses=[], label={"edited_content": "x"}),
    good_event(58, event_type="regenerate", label={"discarded": "b"}),
    good_event(59, event_type="regenerate", label={"discarded": "c"}),
    good_event(60, event_type="regenerate", responses=ONE, label={"discarded": "a"}),
    good_event(61, event_type="Pairwise"),
    good_event(62, responses=[{"response_id": "a", "content": "x"}, {"response_id": "a", "content": "y"}]),
    good_event(63, responses=[{"response_id": "a", "content": "x", "model": None},
                              {"response_id": "b", "content": "y", "model": "m"}]),
    good_event(64, responses=[{"response_id": "a", "content": "x", "extra": 1},
                              {"response_id": "b", "content": "y"}]),
    good_event(65, responses=[{"response_id": "", "content": "x"}, {"response_id": "b", "content": "y"}]),
    good_event(66, responses=[{"response_id": "a", "content": 7}, {"response_id": "b", "content": "y"}]),
    good_event(67, responses=[{"response_id": "a", "content": "x", "model": 3}, {"response_id": "b", "content": ""}]),
    good_event(68, responses={"a": "x"}),
    good_event(69, responses=["a", "b"]),
    good_event(70, annotator={"kind": "annotator", "id": "ann-1", "saw_model_draft": True}),
    good_event(71, annotator={"kind": "ai", "id": None, "saw_model_draft": None}),
    good_event(72, annotator={"kind": "human"}),
    good_event(73, annotator={"kind": "annotator", "saw_model_draft": "no"}),
    good_event(74, annotator={"kind": "annotator", "team": "x"}),
    good_event(75, annotator=None, policy_version=None, tags=None),
    good_event(76, annotator="someone"),
    good_event(77, policy_version="rubric-1"),
    good_event(78, policy_version=3),
    good_event(79, tags={"category": "coding", "language": "en", "extra": "z"}),
    good_event(80, tags={"category": None, "language": "en"}),
    good_event(81, tags={"category": 1}),
    good_event(82, tags={}),
    good_event(83, tags=["a"]),
    good_event(84, extra_field=1, other=2),
    good_event(85, prompt={"text": "quotes \" backslash \\ tab \t nul \u0000 del \x7f sep \u2028 é 🙂"}),
    good_event(86, responses=[{"response_id": "a", "content": "\u0001\u001f\ud7ff\ue000"},
                              {"response_id": "b", "content": "</script>"}]),
    [1, 2, 3], "a string", 42, None,
]
RAW_EDGES = [
    b'{"event_id": "dup", "event_id": "dup-2"' + json.dumps(good_event(90))[1:].encode(),  # repeated key
    json.dumps(good_event(91), indent=2).encode(),
    b"  " + json.dumps(good_event(92)).encode() + b"  ",
    json.dumps(good_event(93), ensure_ascii=False).encode(),
    json.dumps(good_event(94))[:-10].encode(),
    b'{"event_id": "\\ud800"}',
    b"NaN",
    json.dumps(_rating(score=3)).replace('"score": 3', '"score": 3.0').encode(),
    json.dumps(_rating(score=3)).replace('"score": 3', '"score": 1e0').encode(),
    json.dumps(good_event(95, created_at="2026-11-01T10:00:00.000001Z")).encode(),
]


# What CSV and Parquet readers hand over: datetimes, struct columns with every key (nulls
# for the ones a row does not use), besides every JSON-shaped edge above.
_STRUCT_LABEL = dict.fromkeys(("preferred", "tie", "score", "value", "edited_content", "discarded"))
OBJECT_EDGES = [e for e in EDGES if isinstance(e, dict)] + [
    good_event(100, created_at=datetime(2026, 11, 1, 10, tzinfo=UTC)),
    good_event(101, created_at=datetime(2026, 11, 1, 10, 30, 5, 250, tzinfo=timezone(timedelta(hours=2)))),
    good_event(102, created_at=datetime(2026, 11, 1, 10)),
    good_event(103, prompt={"messages": None, "text": "x", "template": None}),
    good_event(104, event_type="rating", responses=ONE, label={**_STRUCT_LABEL, "score": 3}),
    good_event(105, label={**_STRUCT_LABEL, "preferred": "b"}),
    good_event(106, tags={"category": "general"}, annotator={"kind": "end_user", "id": None, "saw_model_draft": None}),
]


def _outcome(validate, raw):
    try:
        return ("ok",) + validate(raw)
    except ContractError as exc:
        return ("contract", exc.reason, exc.detail)
    except orjson.JSONDecodeError as exc:
        return ("json", str(exc))


def _reference(raw: bytes):
    return validate_values(orjson.loads(raw))


@pytest.mark.parametrize("raw", [json.dumps(e).encode() for e in EDGES] + RAW_EDGES)
def test_each_record_gives_the_reference_outcome(raw):
    assert _outcome(validate_json, raw) == _outcome(_reference, raw)


@pytest.mark.parametrize("obj", OBJECT_EDGES)
def test_each_decoded_record_gives_the_reference_outcome(obj):
    assert _outcome(validate_object, copy.deepcopy(obj)) == _outcome(validate_values, copy.deepcopy(obj))


def test_the_edge_corpus_exercises_both_outcomes():
    outcomes = [_outcome(_reference, json.dumps(e).encode())[0] for e in EDGES]
    assert outcomes.count("ok") > 20 and outcomes.count("contract") > 40


def _same_capture(root: Path, day: str, workers: int) -> None:
    """The fast validator (in `workers` processes, plain jsonl files cut into parts of 64 KiB)
    gives what the reference validator gives in this process."""
    fast = capture_day(root, day, validator="fast", workers=workers, span_bytes=64 << 10)
    reference = capture_day(root, day, validator="reference", workers=1)
    for name in ("events", "responses", "quarantine"):
        assert getattr(fast, name).equals(getattr(reference, name)), name
    assert fast.files == reference.files
    assert reference.quarantine.num_rows and len({f.file for f in reference.files}) == len(reference.files)


@pytest.mark.parametrize("workers", [1, 2])
def test_capture_of_the_bad_input_corpus_is_the_same(tmp_path, workers):
    write_corpus(tmp_path / "landing" / "2026-11-01", huge_mb=1)
    _same_capture(tmp_path / "landing", "2026-11-01", workers)


@pytest.mark.parametrize(("mode", "workers"), [("pool", 1), ("realistic", 1), ("realistic", 2)])
def test_capture_of_a_generated_day_is_the_same(tmp_path, mode, workers):
    write_landing(tmp_path / "landing", n=3000, days=1, start=date(2026, 11, 1), seed=5, mode=mode)
    _same_capture(tmp_path / "landing", "2026-11-01", workers)


def test_jsonl_parts_read_every_line_once(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [b"x" * n + b"\n" for n in (0, 5, 200, 1, 70_000, 3, 0, 9)]
    path.write_bytes(b"".join(lines) + b"tail")
    for span_bytes in (1, 2, 6, 100, 70_000, 1 << 20):
        spans = jsonl_spans(path, span_bytes)
        read = [item for span in spans for item in _jsonl_items(path, 1 << 20, decode=False, span=span)]
        whole = list(_jsonl_items(path, 1 << 20, decode=False))
        assert read == whole, span_bytes
        assert spans[0][0] == 0 and spans[-1][1] == -1
