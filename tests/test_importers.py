"""Importers: each sample format becomes contract events with the right labels, and every record
that cannot be converted is counted under its reason."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.capture.contract import validate_record
from pipeline.capture.landing import capture_file
from pipeline.importers import CONSENT_DEFAULT, FORMAT_HELP, IMPORTERS, ImportSummary, import_file
from pipeline.importers.common import Skip
from pipeline.importers.ultrafeedback import score
from pipeline.template_normalization.templates import parse_prompt

DATA = Path(__file__).parent / "data" / "importers"
DAY = "2024-05-07"

SAMPLES = {
    "hh-rlhf": ("hh-rlhf.jsonl", 6, 3, {"json_invalid": 1, "missing_field": 1, "transcript_unsplittable": 1}),
    "arena": ("arena.jsonl", 8, 5, {"history_differs": 1, "label_unknown": 1, "user_turns_differ": 1}),
    "openai-chat": ("openai-chat.jsonl", 7, 3,
                    {"no_feedback": 1, "non_text_content": 1, "rating_unknown": 1, "tool_turns": 1}),
    "ultrafeedback": ("ultrafeedback.jsonl", 3, 5, {"missing_field": 1, "no_rating": 1}),
    "argilla": ("argilla.json", 4, 3, {"label_unknown": 1, "no_responses": 1, "response_not_submitted": 1}),
    "label-studio": ("label-studio.json", 4, 3, {"annotation_cancelled": 1, "no_annotations": 1, "no_choice": 1}),
}


def run(fmt: str, landing: Path, **kwargs) -> tuple[ImportSummary, list[dict]]:
    summary = import_file(fmt, DATA / SAMPLES[fmt][0], landing, DAY, **kwargs)
    events = [orjson.loads(line) for line in summary.output.read_bytes().splitlines()]
    return summary, events


def by_id(events: list[dict]) -> dict[str, dict]:
    return {e["event_id"]: e for e in events}


def content(event: dict, response_id: str) -> str:
    return next(r["content"] for r in event["responses"] if r["response_id"] == response_id)


def preferred(event: dict) -> str:
    return content(event, event["label"]["preferred"])


def test_every_format_is_documented_and_has_a_consent_default():
    assert set(IMPORTERS) == set(FORMAT_HELP) == set(CONSENT_DEFAULT) == set(SAMPLES)
    assert all(FORMAT_HELP[f].strip() and "\n" not in FORMAT_HELP[f] for f in FORMAT_HELP)


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_sample_converts_to_contract_events_with_counted_skips(fmt, tmp_path):
    summary, events = run(fmt, tmp_path)
    _, records, written, skipped = SAMPLES[fmt]
    assert summary.output == tmp_path / DAY / f"import-{fmt}-{Path(SAMPLES[fmt][0]).stem.split('.')[0]}.jsonl"
    assert (summary.records_read, summary.events_written, summary.skipped) == (records, written, skipped)
    assert len(events) == written
    assert len({e["event_id"] for e in events}) == written
    for e in events:
        row, responses = validate_record(e)
        assert row["source"] == f"import:{fmt}"
        assert e["event_id"].startswith(f"{fmt}-")
        assert len({r["response_id"] for r in responses}) == len(responses)
        parse_prompt(e["prompt"])  # the normalization stage reads every imported prompt


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_capture_reads_the_landing_file_without_quarantine(fmt, tmp_path):
    summary, _ = run(fmt, tmp_path)
    result = capture_file(summary.output)
    assert result.quarantine.num_rows == 0
    assert result.events.num_rows == summary.events_written


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_reimport_is_byte_identical(fmt, tmp_path):
    first = run(fmt, tmp_path / "one")[0].output.read_bytes()
    second = run(fmt, tmp_path / "two")[0].output.read_bytes()
    assert first == second


def test_hh_rlhf_prefers_the_chosen_reply_and_keeps_the_hh_prompt(tmp_path):
    _, events = run("hh-rlhf", tmp_path)
    prompts = {e["prompt"]["text"]: e for e in events}
    basil = next(e for t, e in prompts.items() if "basil" in t)
    assert preferred(basil).startswith("Give it a sunny windowsill")
    assert basil["prompt"]["template"] == "hh"
    birthday = next(e for t, e in prompts.items() if "birthday" in t)
    assert "She's turning 30" in birthday["prompt"]["text"]
    assert birthday["prompt"]["text"].endswith("\n\nAssistant:")
    assert preferred(birthday).startswith("Happy 30th")
    note = next(e for t, e in prompts.items() if "remember milk" in t)
    assert preferred(note).startswith("It looks like a reminder")  # "Human:" inside a turn does not split it
    # the chosen reply is not always in the same position
    assert {e["label"]["preferred"][-1] for e in events} == {"a", "b"}
    assert all(e["consent_training"] and e["user_id"] == "import:hh-rlhf" for e in events)
    assert all(e["created_at"] == f"{DAY}T00:00:00Z" for e in events)


def test_hh_rlhf_reads_gzip_with_the_same_event_ids(tmp_path):
    packed = tmp_path / "harmless.jsonl.gz"
    with open(DATA / "hh-rlhf.jsonl", "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    summary = import_file("hh-rlhf", packed, tmp_path / "landing", DAY)
    assert summary.output.name == "import-hh-rlhf-harmless.jsonl"
    _, plain = run("hh-rlhf", tmp_path / "plain")
    gz_ids = [orjson.loads(x)["event_id"] for x in summary.output.read_bytes().splitlines()]
    assert gz_ids == [e["event_id"] for e in plain]


def test_arena_parquet_gives_the_same_events_as_jsonl(tmp_path):
    rows = [orjson.loads(line) for line in (DATA / "arena.jsonl").read_bytes().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "arena.parquet")
    from_parquet = import_file("arena", tmp_path / "arena.parquet", tmp_path / "p", DAY)
    from_jsonl, _ = run("arena", tmp_path / "j")
    assert from_parquet.output.read_bytes() == from_jsonl.output.read_bytes()
    assert from_parquet.skipped == from_jsonl.skipped


def test_argilla_reads_a_records_document(tmp_path):
    wrapped = tmp_path / "export.json"
    wrapped.write_bytes(orjson.dumps({"records": orjson.loads((DATA / "argilla.json").read_bytes())}))
    summary = import_file("argilla", wrapped, tmp_path / "w", DAY)
    assert summary.output.read_bytes() == run("argilla", tmp_path / "l")[0].output.read_bytes()


def test_arena_winner_ties_models_and_tags(tmp_path):
    _, events = run("arena", tmp_path)
    e = by_id(events)
    everest = e["arena-0b8c2f1e6a7d4e3c9f5a1b2c3d4e5f60"]
    assert preferred(everest).startswith("About 70")
    assert [r["model"] for r in everest["responses"]] == ["vicuna-13b", "alpaca-13b"]
    assert everest["user_id"] == everest["annotator"]["id"] == "arena_user_4321"
    assert everest["annotator"]["kind"] == "end_user"
    assert everest["created_at"].startswith("2023-04-24T15:53:11")
    assert everest["tags"]["language"] == "en"

    canberra = e["arena-1c9d3a2f7b8e4f5d8a6b2c3d4e5f6071"]
    assert preferred(canberra) == "La capital de Australia es Canberra."
    assert canberra["tags"]["language"] == "es"

    tie = e["arena-2dae4b3a8c9f4a6e9b7c3d4e5f607182"]
    assert tie["label"] == {"tie": True} and "tie_kind" not in tie["tags"]
    assert tie["tags"]["anonymous"] == "false"

    both_bad = e["arena-3ebf5c4b9dae4b7f8c8d4e5f60718293"]
    assert both_bad["label"] == {"tie": True}
    assert both_bad["tags"]["tie_kind"] == "both_bad"
    assert both_bad["tags"]["moderation_flagged"] == both_bad["tags"]["toxic_chat"] == "true"

    shared_history = e["arena-50d17e6dbf104d919eaf607182930415"]
    assert [m["role"] for m in shared_history["prompt"]["messages"]] == ["user", "assistant", "user"]
    assert preferred(shared_history).startswith("Why did the cat")
    assert not any(ev["consent_training"] for ev in events)  # end users' votes: off unless asserted


def test_consent_flag_overrides_the_format_default(tmp_path):
    _, arena = run("arena", tmp_path / "a", consent=True)
    assert all(e["consent_training"] for e in arena)
    _, studio = run("label-studio", tmp_path / "b", consent=False)
    assert not any(e["consent_training"] for e in studio)


def test_openai_chat_thumbs_prompt_and_reply(tmp_path):
    _, events = run("openai-chat", tmp_path)
    e = by_id(events)
    steak = e["openai-chat-chatcmpl-9QnJx2aLq7"]
    assert steak["label"] == {"value": "up"}
    assert [m["role"] for m in steak["prompt"]["messages"]] == ["system", "user"]
    assert steak["responses"][0]["content"].startswith("Rest it for about 5 minutes")
    assert steak["responses"][0]["model"] == "gpt-4o-2024-05-13"
    assert steak["created_at"] == "2024-05-06T13:13:54Z"
    assert steak["user_id"] == "u_7f3a91"

    oven = e["openai-chat-chatcmpl-9QnKa81Bz3"]
    assert oven["label"] == {"value": "down"}
    assert oven["prompt"]["messages"][-1] == {"role": "user", "content": "And 425F?"}
    assert oven["responses"][0]["content"] == "425°F is about 250°C."

    pasta = e["openai-chat-chatcmpl-9QnLb7Yd10"]
    assert pasta["label"] == {"value": "up"}
    assert pasta["prompt"]["messages"][0]["content"] == (
        "Is this pasta water salty enough?\n\nI used one teaspoon per litre.")
    assert b"wrong, it's 218C" not in (tmp_path / DAY / "import-openai-chat-openai-chat.jsonl").read_bytes()


def test_ultrafeedback_scores_share_a_prompt_and_name_the_ai_rater(tmp_path):
    _, events = run("ultrafeedback", tmp_path)
    scores = {e["responses"][0]["model"]: e["label"]["score"] for e in events}
    # means 5, 3.75, 1.5 (row 1) and 4.33 (N/A left out), 2.5 (row 2): rounded half up
    assert scores == {"gpt-4": 5, "llama-2-13b-chat": 4, "falcon-40b-instruct": 2, "ultralm-65b": 4,
                      "wizardlm-7b": 3}
    sky = [e for e in events if "sky" in e["prompt"]["messages"][0]["content"]]
    assert len(sky) == 3 and len({orjson.dumps(e["prompt"]) for e in sky}) == 1
    assert all(e["annotator"] == {"kind": "ai", "id": "gpt-4"} for e in events)
    assert all(e["tags"]["dataset"] == "ultrafeedback" for e in events)


def test_ultrafeedback_score_rule():
    def aspects(*ratings):
        return dict(zip(("helpfulness", "honesty", "instruction_following", "truthfulness"),
                        ({"Rating": r} for r in ratings)))

    assert score(aspects("2", "3", "N/A", "N/A")) == 3  # 2.5 rounds up, not to even
    assert score(aspects("9", "8", "7", "6")) == 5
    assert score(aspects("0", "0", "0", "0")) == 1
    assert score({"helpfulness": [{"Rating": "4"}], "honesty": {"Rating": 2}}) == 3
    with pytest.raises(Skip) as info:
        score(aspects("N/A", "N/A", "N/A", "N/A"))
    assert info.value.reason == "no_rating"


def test_argilla_one_event_per_submitted_response(tmp_path):
    _, events = run("argilla", tmp_path)
    e = by_id(events)
    first = e["argilla-train-0001-8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34"]
    assert preferred(first) == "Fixed fast, ridden far."
    assert first["annotator"] == {"kind": "annotator", "id": "8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34"}
    assert first["tags"] == {"category": "creative_writing", "language": "en"}
    assert first["prompt"] == {"text": "Write a one-line slogan for a bike repair shop."}
    assert e["argilla-train-0001-b1d9e0f2-3c4a-4e8b-a7d6-5f1c2e3d4b90"]["label"] == {"tie": True}
    spider = e["argilla-train-0002-8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34"]
    assert preferred(spider) == "Eight."
    assert "argilla-train-0002-b1d9e0f2-3c4a-4e8b-a7d6-5f1c2e3d4b90" not in e  # a draft is not feedback


def test_label_studio_left_is_answer1_and_each_annotator_is_an_event(tmp_path):
    summary, events = run("label-studio", tmp_path)
    e = by_id(events)
    assert preferred(e["label-studio-101-501"]).startswith("A hash map stores values")
    assert preferred(e["label-studio-101-502"]) == "It is a map made of hashes."
    assert e["label-studio-101-501"]["user_id"] == "label-studio:3"
    assert e["label-studio-101-502"]["user_id"] == "label-studio:5"
    assert e["label-studio-101-501"]["created_at"] == "2024-05-06T09:15:02.481233Z"
    juggle = e["label-studio-102-503"]
    assert juggle["user_id"] == "label-studio:3"
    assert juggle["tags"] == {"category": "hobbies", "language": "en"}
    assert b"annotator3@example.com" not in summary.output.read_bytes()


def test_events_breaking_the_contract_are_counted_not_written(tmp_path, monkeypatch):
    def broken(record, ctx):
        yield {"event_id": "x", "event_type": "pairwise"}

    monkeypatch.setitem(IMPORTERS, "arena", broken)
    summary = import_file("arena", DATA / "arena.jsonl", tmp_path, DAY)
    assert summary.events_written == 0
    assert summary.skipped == {"contract:schema:created_at": 8}
    assert summary.output.read_bytes() == b""
    assert "skipped 8 (contract:schema:created_at 8)" in summary.render()


def test_unknown_format_and_bad_day_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown import format"):
        import_file("csv-dump", DATA / "arena.jsonl", tmp_path, DAY)
    with pytest.raises(ValueError):
        import_file("arena", DATA / "arena.jsonl", tmp_path, "07/05/2024")
    with pytest.raises(ValueError, match="cannot read"):
        import_file("arena", Path(__file__), tmp_path, DAY)
    assert not any(tmp_path.iterdir())
