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
from pipeline.template_normalization.templates import parse_prompt

DATA = Path(__file__).parent / "data" / "importers"
DAY = "2024-05-07"

SAMPLES = {
    "hh-rlhf": ("hh-rlhf.jsonl", 6, 3, {"json_invalid": 1, "missing_field": 1, "transcript_unsplittable": 1}),
    "arena": ("arena.jsonl", 8, 4,
              {"history_differs": 1, "label_unknown": 1, "moderation_flagged": 1, "user_turns_differ": 1}),
    "openai-chat": ("openai-chat.jsonl", 7, 3,
                    {"no_feedback": 1, "non_text_content": 1, "rating_unknown": 1, "tool_turns": 1}),
    "ultrafeedback": ("ultrafeedback.jsonl", 3, 4, {"missing_field": 1, "no_rating": 1}),
    "argilla": ("argilla.json", 4, 3, {"label_unknown": 1, "no_responses": 1, "response_draft": 1}),
    "label-studio": ("label-studio.json", 4, 3, {"annotation_cancelled": 1, "no_annotations": 1, "no_choice": 1}),
    "trl": ("trl/prefline-version/train.parquet", 12, 12, {}),
    "openai-preference": ("openai-preference/orca_dpo_pairs-validation.jsonl", 6, 6, {}),
}


def run(fmt: str, landing: Path, **kwargs) -> tuple[ImportSummary, list[dict]]:
    summary = import_file(fmt, DATA / SAMPLES[fmt][0], landing, DAY, **kwargs)
    return summary, landed(summary)


def landed(summary: ImportSummary) -> list[dict]:
    return [orjson.loads(line) for out in summary.outputs.values() for line in out.read_bytes().splitlines()]


def landed_bytes(summary: ImportSummary) -> bytes:
    return b"".join(out.read_bytes() for out in summary.outputs.values())


def by_id(events: list[dict]) -> dict[str, dict]:
    return {e["event_id"]: e for e in events}


def content(event: dict, response_id: str) -> str:
    return next(r["content"] for r in event["responses"] if r["response_id"] == response_id)


def preferred(event: dict) -> str:
    return content(event, event["label"]["preferred"])


def test_every_format_is_documented_and_has_a_consent_default():
    assert set(IMPORTERS) == set(FORMAT_HELP) == set(CONSENT_DEFAULT) >= set(SAMPLES)
    assert all(FORMAT_HELP[f].strip() and "\n" not in FORMAT_HELP[f] for f in FORMAT_HELP)


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_sample_converts_to_contract_events_with_counted_skips(fmt, tmp_path):
    summary, events = run(fmt, tmp_path)
    _, records, written, skipped = SAMPLES[fmt]
    stem = Path(SAMPLES[fmt][0]).stem.split(".")[0]
    for day, out in summary.outputs.items():
        assert out.parent == tmp_path / day and out.name.startswith(f"import-{fmt}-{stem}-")
    assert (summary.records_read, summary.events_written, summary.skipped) == (records, written, skipped)
    assert len(events) == written
    assert len({e["event_id"] for e in events}) == written
    for e in events:
        row, responses = validate_record(e)
        assert row["source"] == f"import:{fmt}"
        assert e["event_id"].startswith(f"{fmt}-")
        assert summary.outputs[e["created_at"][:10]].parent.name == e["created_at"][:10]
        assert len({r["response_id"] for r in responses}) == len(responses)
        parse_prompt(e["prompt"])  # the normalization stage reads every imported prompt


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_capture_reads_the_landing_file_without_quarantine(fmt, tmp_path):
    summary, _ = run(fmt, tmp_path)
    results = [capture_file(out) for out in summary.outputs.values()]
    assert sum(r.quarantine.num_rows for r in results) == 0
    assert sum(r.events.num_rows for r in results) == summary.events_written


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_reimport_is_byte_identical(fmt, tmp_path):
    first, second = run(fmt, tmp_path / "one")[0], run(fmt, tmp_path / "two")[0]
    assert landed_bytes(first) == landed_bytes(second)
    assert [p.name for p in first.outputs.values()] == [p.name for p in second.outputs.values()]


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
    assert summary.output.name.startswith("import-hh-rlhf-harmless-")
    _, plain = run("hh-rlhf", tmp_path / "plain")
    assert [e["event_id"] for e in landed(summary)] == [e["event_id"] for e in plain]


def test_arena_parquet_gives_the_same_events_as_jsonl(tmp_path):
    rows = [orjson.loads(line) for line in (DATA / "arena.jsonl").read_bytes().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "arena.parquet")
    from_parquet = import_file("arena", tmp_path / "arena.parquet", tmp_path / "p", DAY)
    from_jsonl, _ = run("arena", tmp_path / "j")
    assert landed_bytes(from_parquet) == landed_bytes(from_jsonl)
    assert from_parquet.skipped == from_jsonl.skipped


def test_argilla_reads_a_records_document(tmp_path):
    wrapped = tmp_path / "export.json"
    wrapped.write_bytes(orjson.dumps({"records": orjson.loads((DATA / "argilla.json").read_bytes())}))
    summary = import_file("argilla", wrapped, tmp_path / "w", DAY)
    assert landed_bytes(summary) == landed_bytes(run("argilla", tmp_path / "l")[0])


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

    assert "arena-3ebf5c4b9dae4b7f8c8d4e5f60718293" not in e  # flagged by moderation: skipped by default
    kept = by_id(landed(import_file("arena", DATA / "arena.jsonl", tmp_path / "keep", DAY,
                                    options={"moderation": "keep"})))
    both_bad = kept["arena-3ebf5c4b9dae4b7f8c8d4e5f60718293"]
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
    assert not any(b"wrong, it's 218C" in p.read_bytes() for p in tmp_path.glob("*/import-openai-chat-*.jsonl"))


def test_argilla_one_event_per_submitted_response(tmp_path):
    _, events = run("argilla", tmp_path)
    e = by_id(events)
    first = e["argilla-train-0001-8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34-preference"]
    assert preferred(first) == "Fixed fast, ridden far."
    assert first["annotator"] == {"kind": "annotator", "id": "8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34"}
    assert first["tags"] == {"category": "creative_writing", "language": "en"}
    assert first["prompt"] == {"text": "Write a one-line slogan for a bike repair shop."}
    assert e["argilla-train-0001-b1d9e0f2-3c4a-4e8b-a7d6-5f1c2e3d4b90-preference"]["label"] == {"tie": True}
    spider = e["argilla-train-0002-8c4f2d3e-61a7-4b1e-9d0a-2f5e7c9b1a34-preference"]
    assert preferred(spider) == "Eight."
    assert "argilla-train-0002-b1d9e0f2-3c4a-4e8b-a7d6-5f1c2e3d4b90-preference" not in e  # a draft is not feedback


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
    assert b"annotator3@example.com" not in landed_bytes(summary)


def test_events_breaking_the_contract_are_counted_not_written(tmp_path, monkeypatch):
    def broken(record, ctx):
        yield {"event_id": "x", "event_type": "pairwise"}

    monkeypatch.setitem(IMPORTERS, "arena", broken)
    summary = import_file("arena", DATA / "arena.jsonl", tmp_path, DAY)
    assert summary.events_written == 0
    assert summary.skipped == {"contract:schema:created_at": 8}
    assert summary.outputs == {} and not any(tmp_path.iterdir())
    assert "skipped 8 (contract:schema:created_at 8)" in summary.render()


def test_unknown_format_and_bad_day_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown import format"):
        import_file("csv-dump", DATA / "arena.jsonl", tmp_path, DAY)
    with pytest.raises(ValueError):
        import_file("arena", DATA / "arena.jsonl", tmp_path, "07/05/2024")
    with pytest.raises(ValueError, match="cannot read"):
        import_file("arena", Path(__file__), tmp_path, DAY)
    assert not any(tmp_path.iterdir())


def spread_over_months(path: Path) -> Path:
    """The arena sample with its battles moved one month apart (Unix `tstamp`), as an export
    spanning most of a year is."""
    from datetime import UTC, datetime

    rows = [orjson.loads(line) for line in (DATA / "arena.jsonl").read_bytes().splitlines() if line.startswith(b"{")]
    for i, row in enumerate(rows):
        row["tstamp"] = datetime(2023, 3 + i, 14, 12, 30, tzinfo=UTC).timestamp()
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return path


def test_each_event_lands_in_the_day_of_its_own_created_at(tmp_path):
    summary = import_file("arena", spread_over_months(tmp_path / "months.jsonl"), tmp_path / "landing", DAY)
    events = landed(summary)
    days = {e["created_at"][:10] for e in events}
    assert set(summary.outputs) == set(summary.per_day) == days and len(days) > 1
    for day, out in summary.outputs.items():
        assert {orjson.loads(x)["created_at"][:10] for x in out.read_bytes().splitlines()} == {day}
        assert summary.per_day[day] == len(out.read_bytes().splitlines())
    assert "landing days" in summary.render() or all(d in summary.render() for d in days)


def test_events_without_a_time_take_the_given_day_or_today(tmp_path):
    from datetime import UTC, datetime

    assert set(run("hh-rlhf", tmp_path / "given")[0].outputs) == {DAY}
    today = import_file("hh-rlhf", DATA / "hh-rlhf.jsonl", tmp_path / "today")
    assert set(today.outputs) == {datetime.now(UTC).date().isoformat()}


def test_reimporting_the_same_content_is_a_no_op_and_other_files_never_overwrite(tmp_path):
    first, _ = run("arena", tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    renamed = tmp_path / "copy.jsonl"
    renamed.write_bytes((DATA / "arena.jsonl").read_bytes())
    for again in (import_file("arena", DATA / "arena.jsonl", tmp_path, DAY), import_file("arena", renamed, tmp_path)):
        assert again.already_imported == tuple(sorted(first.outputs.values()))
        assert again.events_written == 0 and again.outputs == {}
        assert again.render().startswith("already imported")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl") if p != renamed} == before
    # a different file with the same name lands beside the first, not over it
    other = tmp_path / "src" / "arena.jsonl"
    other.parent.mkdir()
    other.write_bytes(b"\n".join((DATA / "arena.jsonl").read_bytes().splitlines()[:3]) + b"\n")
    second = import_file("arena", other, tmp_path / "landing2")
    first_again = import_file("arena", DATA / "arena.jsonl", tmp_path / "landing2")
    assert not set(second.outputs.values()) & set(first_again.outputs.values())
    # consent asked differently is a different import
    assert import_file("arena", DATA / "arena.jsonl", tmp_path, consent=True).events_written == first.events_written


def test_a_failed_import_leaves_nothing_behind(tmp_path, monkeypatch):
    from pipeline.importers import arena

    calls = []

    def failing(record, ctx):
        calls.append(record)
        if len(calls) == 5:
            raise RuntimeError("disk full")
        yield from arena.convert(record, ctx)

    monkeypatch.setitem(IMPORTERS, "arena", failing)
    (tmp_path / "2023-01-01").mkdir()
    with pytest.raises(RuntimeError):
        import_file("arena", DATA / "arena.jsonl", tmp_path, DAY)
    assert list(tmp_path.rglob("*")) == [tmp_path / "2023-01-01"]


def test_gzip_json_document_reads_like_the_plain_one(tmp_path):
    packed = tmp_path / "export.json.gz"
    packed.write_bytes(gzip.compress((DATA / "argilla.json").read_bytes()))
    assert landed_bytes(import_file("argilla", packed, tmp_path / "gz", DAY)) == \
        landed_bytes(run("argilla", tmp_path / "plain")[0])


def test_summary_names_the_consent_default_and_how_to_change_it(tmp_path):
    arena_text = run("arena", tmp_path / "a")[0].render()
    assert "consent_training=false" in arena_text and "--consent-training" in arena_text
    studio_text = run("label-studio", tmp_path / "b")[0].render()
    assert "consent_training=true" in studio_text and "--no-consent-training" in studio_text
    assert "as asked" in run("arena", tmp_path / "c", consent=True)[0].render()


def test_cli_import_errors_are_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from pipeline.cli.main import main

    monkeypatch.setenv("PREFLINE_HOME", str(tmp_path / "home"))
    assert main(["import", "arena", str(tmp_path / "nope.jsonl")]) == 2
    assert main(["import", "arena", str(Path(__file__))]) == 2
    assert main(["import", "arena", str(DATA / "arena.jsonl"), "--date", "07/05/2024"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "no such file" in err[0] and "cannot read test_importers.py" in err[1]
    assert "Traceback" not in "".join(err)
    assert main(["import", "arena", str(DATA / "arena.jsonl")]) == 0
    assert "wrote 4 events" in capsys.readouterr().out
    assert main(["import", "arena", str(DATA / "arena.jsonl")]) == 0
    assert capsys.readouterr().out.startswith("already imported")
    assert main(["import", "arena", str(DATA / "arena.jsonl"), "--option", "moderation=keep"]) == 0
    assert "wrote 5 events" in capsys.readouterr().out  # another import: options are part of its key
    assert main(["import", "arena", str(DATA / "arena.jsonl"), "--option", "moderation=maybe"]) == 2
    assert main(["import", "arena", str(DATA / "arena.jsonl"), "--option", "colour=red"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "takes skip or keep" in err[0] and "no option 'colour'" in err[1]
