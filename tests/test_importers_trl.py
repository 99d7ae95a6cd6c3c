"""The `trl` and `openai-preference` importers on files real tools wrote: a version prefline
published (TRL's format, written by pyarrow), HH-RLHF as published (TRL's implicit-prompt standard
format), Microsoft's DPO sample for the OpenAI preference fine-tuning format; TRL's own
documentation examples for the conversational shapes. Chosen is checked against the source file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.capture.contract import validate_record
from pipeline.importers import CONSENT_DEFAULT, FORMAT_HELP, import_file
from pipeline.importers.hh_rlhf import split_pair

DATA = Path(__file__).parent / "data" / "importers"
VERSION = DATA / "trl" / "prefline-version"
ORCA = DATA / "openai-preference" / "orca_dpo_pairs-validation.jsonl"
HH = Path(__file__).parent / "data" / "importers" / "trl" / "hh-rlhf-harmless-base-test-head.jsonl"
DAY = "2025-02-11"

# The examples of docs/source/dataset_formats.md in huggingface/trl, as the docs write them.
TRL_DOCS = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    {"chosen": "The sky is blue.", "rejected": "The sky is green."},
    {"prompt": [{"role": "user", "content": "What color is the sky?"}],
     "chosen": [{"role": "assistant", "content": "It is blue."}],
     "rejected": [{"role": "assistant", "content": "It is green."}]},
    {"chosen": [{"role": "user", "content": "What color is the sky?"}, {"role": "assistant", "content": "It is blue."}],
     "rejected": [{"role": "user", "content": "What color is the sky?"},
                  {"role": "assistant", "content": "It is green."}]},
    {"prompt": "The sky is", "completion": " blue.", "label": True},
    {"prompt": [{"role": "user", "content": "What color is the sky?"}],
     "completion": [{"role": "assistant", "content": "It is green."}], "label": False},
    # shapes TRL documents that carry no preference between replies, and broken rows
    {"prompt": "Which number is larger, 9.8 or 9.11?", "completions": ["The fractional part of 9.8 is 0.8."],
     "labels": [True]},
    {"text": "The sky is blue."},
    {"prompt": "The sky is", "completion": " blue.", "label": "yes"},
    {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "user", "content": "Hello"}],
     "rejected": [{"role": "assistant", "content": "Hey"}]},
    {"chosen": "Sunny.", "rejected": "Rainy."},
]


def landed(summary) -> list[dict]:
    return [orjson.loads(line) for out in summary.outputs.values() for line in out.read_bytes().splitlines()]


def texts(event: dict) -> tuple[str, str]:
    """(preferred, other) response texts of a pairwise event."""
    by_id = {r["response_id"]: r["content"] for r in event["responses"]}
    chosen = by_id.pop(event["label"]["preferred"])
    return chosen, next(iter(by_id.values()))


def prompt_key(event: dict) -> str:
    p = event["prompt"]
    return p["text"] if "text" in p else json.dumps(p["messages"])


def test_formats_are_registered_with_help_and_consent():
    assert CONSENT_DEFAULT["trl"] is True and CONSENT_DEFAULT["openai-preference"] is True
    assert "completion" in FORMAT_HELP["trl"] and "preferred_output" in FORMAT_HELP["openai-preference"]


def test_every_trl_documented_shape(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in TRL_DOCS) + b"{broken\n")
    summary = import_file("trl", src, tmp_path / "landing", DAY)
    events = landed(summary)
    assert summary.records_read == 12 and summary.events_written == 6
    assert summary.skipped == {"completion_not_assistant": 1, "format_unknown": 2, "json_invalid": 1,
                               "label_unknown": 1, "prompt_missing": 1}
    for e in events:
        validate_record(e)
        assert e["created_at"] == f"{DAY}T00:00:00Z" and e["source"] == "import:trl" and e["consent_training"]
    pairs = [e for e in events if e["event_type"] == "pairwise"]
    assert [(prompt_key(e), *texts(e)) for e in pairs] == [
        ("The sky is", " blue.", " green."),
        ("The sky is ", "blue.", "green."),  # implicit: the longest common prefix, as TRL's extract_prompt
        ('[{"role": "user", "content": "What color is the sky?"}]', "It is blue.", "It is green."),
        ('[{"role": "user", "content": "What color is the sky?"}]', "It is blue.", "It is green."),
    ]
    thumbs = [e for e in events if e["event_type"] == "thumbs"]
    assert [(prompt_key(e), e["responses"][0]["content"], e["label"]) for e in thumbs] == [
        ("The sky is", " blue.", {"value": "up"}),
        ('[{"role": "user", "content": "What color is the sky?"}]', "It is green.", {"value": "down"}),
    ]


def test_hh_rlhf_as_published_is_trl_implicit_prompt_and_splits_by_turns(tmp_path):
    """Anthropic's HH-RLHF is TRL's implicit-prompt standard format: the prompt is split by turns,
    so a reply never starts in the middle of a shared word."""
    summary = import_file("trl", HH, tmp_path / "landing", DAY)
    events = landed(summary)
    rows = [json.loads(line) for line in HH.read_text().splitlines()]
    assert summary.events_written == len(rows) == 5 and summary.skipped == {}
    for row, e in zip(rows, events):
        messages, chosen, rejected = split_pair(row["chosen"], row["rejected"])
        assert e["prompt"]["messages"] == messages
        assert texts(e) == (chosen, rejected)
        assert row["chosen"].endswith(chosen) and row["rejected"].endswith(rejected)
    assert {e["label"]["preferred"][-1] for e in events} == {"a", "b"}  # chosen is not always first


def _version_rows(name: str) -> list[dict]:
    return pq.read_table(VERSION / name).to_pylist()


def test_a_published_prefline_version_comes_back_with_chosen_the_same_side(tmp_path):
    train = _version_rows("train.parquet")
    summary = import_file("trl", VERSION / "train.parquet", tmp_path / "landing", DAY)
    events = landed(summary)
    assert summary.records_read == len(train) and summary.skipped == {}
    back = {prompt_key(e): texts(e) for e in events}
    for row in train:
        assert row["prompt"][-1]["role"] == "user"
        assert back[json.dumps([{"role": m["role"], "content": m["content"]} for m in row["prompt"]])] == \
            (row["chosen"][0]["content"], row["rejected"][0]["content"])
    # an AI label stays an AI label, named by the judge that gave it
    for row, e in zip(train, events):
        if row["label_source"] in ("ai_judge", "ai_annotator"):
            assert e["annotator"]["kind"] == "ai" and e["annotator"]["id"]
        else:
            assert e["annotator"] == {"kind": "annotator"}


def test_a_published_kto_file_comes_back_as_thumbs(tmp_path):
    kto = _version_rows("kto.parquet")
    summary = import_file("trl", VERSION / "kto.parquet", tmp_path / "landing", DAY)
    events = landed(summary)
    assert summary.records_read == len(kto) == summary.events_written and summary.skipped == {}
    assert sorted((e["responses"][0]["content"], e["label"]["value"]) for e in events) == \
        sorted((r["completion"][0]["content"], "up" if r["label"] else "down") for r in kto)
    assert {e["label"]["value"] for e in events} == {"up", "down"}


def test_openai_preference_prefers_the_preferred_output(tmp_path):
    summary = import_file("openai-preference", ORCA, tmp_path / "landing", DAY)
    events = landed(summary)
    rows = [json.loads(line) for line in ORCA.read_text().splitlines()]
    assert summary.records_read == summary.events_written == len(rows) == 6 and summary.skipped == {}
    for row, e in zip(rows, events):
        validate_record(e)
        assert e["prompt"]["messages"] == row["input"]["messages"]
        assert texts(e) == (row["preferred_output"][0]["content"], row["non_preferred_output"][0]["content"])
        assert e["event_type"] == "pairwise" and e["consent_training"] and e["source"] == "import:openai-preference"
    assert {e["label"]["preferred"][-1] for e in events} == {"a", "b"}


def test_openai_preference_skips_what_it_cannot_read_with_a_reason(tmp_path):
    good = json.loads(ORCA.read_text().splitlines()[0])
    user = {"role": "user", "content": "What is the weather?"}
    bad = [
        {**good, "preferred_output": [{"role": "assistant", "content": None,
                                       "tool_calls": [{"id": "c1", "type": "function"}]}]},
        {**good, "input": {"messages": [user, {"role": "assistant", "content": "Hi"}]}},  # ends with assistant
        {**good, "non_preferred_output": [{"role": "user", "content": "?"}]},
        {**good, "input": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}},
        {"messages": [user]},
        {**good, "preferred_output": []},
        {**good, "input": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Part one."},
                                                                      {"type": "text", "text": "Part two."}]}],
                           "tools": [{"type": "function", "function": {"name": "f"}}]}},
    ]
    src = tmp_path / "mixed.jsonl.gz"
    src.write_bytes(gzip.compress(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in bad)))
    summary = import_file("openai-preference", src, tmp_path / "landing", DAY)
    assert summary.skipped == {"completion_not_assistant": 1, "format_unknown": 1, "missing_field": 1,
                               "non_text_content": 1, "prompt_last_turn_not_user": 1, "tool_turns": 1}
    (only,) = landed(summary)
    assert only["prompt"]["messages"] == [{"role": "user", "content": "Part one.\n\nPart two."}]


@pytest.mark.parametrize("fmt, path", [("trl", VERSION / "train.parquet"), ("openai-preference", ORCA)])
def test_reimport_is_a_no_op(fmt, path, tmp_path):
    first = import_file(fmt, path, tmp_path, DAY)
    again = import_file(fmt, path, tmp_path, DAY)
    assert first.events_written > 0 and again.events_written == 0 and again.already_imported


SDK = DATA / "openai-chat-sdk" / "chat-completions.jsonl"


def test_openai_chat_reads_chat_completions_as_the_sdk_dumps_them(tmp_path):
    summary = import_file("openai-chat", SDK, tmp_path / "landing", DAY)
    rows = {r["id"]: r for r in map(json.loads, SDK.read_text().splitlines())}
    events = {e["event_id"]: e for e in landed(summary)}
    assert summary.records_read == 4 and summary.skipped == {"choice_unnamed": 1, "no_feedback": 1}
    assert set(events) == {"openai-chat-chatcmpl-Bq1Zx7d1", "openai-chat-chatcmpl-Bq1Zx7d2-1"}
    one, second = events["openai-chat-chatcmpl-Bq1Zx7d1"], events["openai-chat-chatcmpl-Bq1Zx7d2-1"]
    src = rows["chatcmpl-Bq1Zx7d1"]
    assert one["label"] == {"value": "up"} and one["prompt"]["messages"] == src["messages"]
    assert one["responses"][0]["content"] == src["choices"][0]["message"]["content"]
    assert one["responses"][0]["model"] == src["model"] and one["created_at"] == "2024-12-02T14:33:20Z"
    src = rows["chatcmpl-Bq1Zx7d2"]  # metadata.choice names the rated choice of two
    assert second["label"] == {"value": "down"}
    assert second["responses"][0]["content"] == src["choices"][1]["message"]["content"]
    assert [m["role"] for m in second["prompt"]["messages"]] == ["system", "user"]
    assert not any(e["consent_training"] for e in events.values())  # end users: the format's default
    for e in events.values():
        validate_record(e)


def test_openai_chat_completion_choices_it_cannot_read_are_skipped_with_a_reason(tmp_path):
    base = json.loads(SDK.read_text().splitlines()[0])
    message = base["choices"][0]["message"]
    bad = [
        {**base, "choices": [{**base["choices"][0], "message": {**message, "content": None, "refusal": "I can't."}}]},
        {**base, "choices": [{**base["choices"][0], "message": {**message, "tool_calls": [{"id": "c"}]}}]},
        {**base, "metadata": {"feedback": "thumbs_up", "choice": "3"}},
        {**base, "metadata": {"feedback": "meh"}},
        {**base, "messages": [], "feedback": {"rating": 1}},
    ]
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in bad))
    summary = import_file("openai-chat", src, tmp_path / "landing", DAY)
    assert summary.events_written == 0
    assert summary.skipped == {"choice_unknown": 1, "missing_field": 1, "rating_unknown": 1, "refusal": 1,
                               "tool_turns": 1}
