"""The seeded generator and the HH-RLHF import: deterministic files with every event type, every
template family and the messes a real feed has, in the promised amounts; real HH pairs keep
their shared prefix as the prompt and the chosen reply as the preferred one."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from pipeline.capture.landing import capture_day
from pipeline.synth.generate import CATEGORIES, generate_days, write_landing
from pipeline.synth.hh_rlhf import hh_events, read_pairs
from pipeline.template_normalization.templates import parse_prompt

N = 3000
DAYS = ("2026-11-01", "2026-11-02")


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gen")
    summary = write_landing(home / "landing", n=N, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=3)
    captured = {d: capture_day(home / "landing", d) for d in DAYS}
    return home, summary, captured


def test_same_arguments_give_identical_files(home, tmp_path):
    root, _, _ = home
    write_landing(tmp_path / "landing", n=N, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=3)
    assert _files(root) == _files(tmp_path)
    assert {p.name.split(".", 1)[1] for p in (root / "landing" / DAYS[0]).iterdir()} == {
        "jsonl", "jsonl.gz", "parquet", "csv"}


def test_another_seed_gives_other_events(home, tmp_path):
    root, _, _ = home
    write_landing(tmp_path / "landing", n=N, days=1, start=date.fromisoformat(DAYS[0]), seed=4)
    name = Path("landing") / DAYS[0] / "events-000.jsonl"
    assert _files(root)[name] != _files(tmp_path)[name]


def test_every_event_type_template_family_and_category_appears(home):
    _, _, captured = home
    events = captured[DAYS[0]].events
    assert set(events.column("event_type").to_pylist()) == {"pairwise", "rating", "thumbs", "edit", "regenerate"}
    families = Counter(parse_prompt(orjson.loads(p)).template_id for p in events.column("prompt_json").to_pylist())
    assert set(families) == {"messages", "chatml", "llama-3", "llama-2", "alpaca", "hh", "plain"}
    categories = Counter(events.column("category").to_pylist())
    assert set(categories) == set(CATEGORIES)
    assert categories["general"] > categories["coding"] > categories["creative"], "a skewed category mix"
    labels = set(events.column("label_json").to_pylist())
    assert {'{"tie":true}', '{"preferred":null}', '{"value":"up"}', '{"value":"down"}'} <= labels


def test_messes_come_in_the_promised_amounts(home):
    _, summary, captured = home
    day = captured[DAYS[1]]
    read = day.events.num_rows + day.quarantine.num_rows
    assert 0.005 < day.quarantine.num_rows / read < 0.03
    assert {"json_invalid", "schema:user_id", "schema:consent_training", "schema:event_type"} == set(
        day.quarantine.column("reason").to_pylist())
    consent = day.events.column("consent_training").to_pylist()
    assert 0.015 < consent.count(False) / len(consent) < 0.05
    rows = day.events.select(["event_id", "content_hash"]).to_pylist()
    ids = Counter(r["event_id"] for r in rows)
    verbatim = Counter((r["event_id"], r["content_hash"]) for r in rows)
    redelivered = sum(c - 1 for c in verbatim.values())
    assert 0.01 * N < redelivered < 0.03 * N, "at-least-once redeliveries"
    assert any(n > 1 for n in ids.values()) and len(verbatim) > len(ids), "an id reused with other content"
    late = {r["event_id"] for r in rows if r["event_id"].startswith("evt-20261101-")}
    assert late and late <= set(captured[DAYS[0]].events.column("event_id").to_pylist()), "late redeliveries"
    users = set(captured[DAYS[0]].events.column("user_id").to_pylist())
    assert len(summary["deleted_users"]) == 3 and set(summary["deleted_users"]) <= users


def test_the_same_conversation_is_logged_in_two_formats(home):
    _, _, captured = home
    events = captured[DAYS[0]].events
    by_content: dict[tuple, set[str]] = {}
    for prompt, label, event_id in zip(events.column("prompt_json").to_pylist(),
                                       events.column("label_json").to_pylist(),
                                       events.column("event_id").to_pylist()):
        parsed = parse_prompt(orjson.loads(prompt))
        key = (orjson.dumps(parsed.messages), label, event_id.rsplit("-", 1)[0])
        by_content.setdefault(key, set()).add(parsed.template_id)
    assert sum(len(f) > 1 for f in by_content.values()) > 0.005 * N


def test_ratings_come_in_groups_with_different_and_equal_scores():
    _, events = generate_days(600, 1, date(2026, 11, 1), seed=5)["2026-11-01"]
    scores: dict[str, list[int]] = {}
    for e in events:
        if e and e["event_type"] == "rating":
            scores.setdefault(orjson.dumps(e["prompt"]).decode(), []).append(e["label"]["score"])
    groups = [s for s in scores.values() if len(s) > 1]
    assert any(max(s) - min(s) >= 2 for s in groups), "pairs by score gap exist"
    assert any(len(set(s)) < len(s) for s in groups), "equal ratings of one prompt exist"


def test_deletion_requests_are_written_for_the_chosen_users(home):
    root, summary, _ = home
    lines = (root / "control" / "deletions.csv").read_text().splitlines()
    assert lines[0] == "user_id,requested_at,reason"
    assert [line.split(",")[0] for line in lines[1:]] == summary["deleted_users"]


@pytest.fixture(scope="module")
def hh():
    events, counts = hh_events(3, date(2026, 11, 1))
    return {e["event_id"]: e for day in events.values() for e in day}, counts


def _preferred(event):
    return next(r["content"] for r in event["responses"] if r["response_id"] == event["label"]["preferred"])


def _rejected(event):
    return next(r["content"] for r in event["responses"] if r["response_id"] != event["label"]["preferred"])


def test_hh_conversion_keeps_every_pair_spread_over_the_days(hh):
    events, counts = hh
    assert counts == {"pairs": 2312, "events": 2312, "skipped_unsplittable": 0, "empty_chosen": 4}
    days = Counter(e["created_at"][:10] for e in events.values())
    assert sorted(days) == ["2026-11-01", "2026-11-02", "2026-11-03"] and min(days.values()) > 700
    assert {e["source"] for e in events.values()} == {"import:hh-rlhf"}
    assert {e["tags"]["category"] for e in events.values()} == {"harmless"}
    assert {e["annotator"]["kind"] for e in events.values()} == {"annotator"}
    kinds = Counter("messages" if "messages" in e["prompt"] else e["prompt"]["template"] for e in events.values())
    assert set(kinds) == {"messages", "hh"}


def test_hh_chosen_position_carries_no_signal_overall_or_per_crowdworker(hh):
    events, _ = hh
    first = Counter()
    labels = Counter(e["annotator"]["id"] for e in events.values())
    for e in events.values():
        first[e["annotator"]["id"]] += e["label"]["preferred"] == e["responses"][0]["response_id"]
    assert abs(sum(first.values()) / len(events) - 0.5) < 0.01
    shares = [first[w] / n for w, n in labels.items()]
    assert len(shares) == 40 and min(shares) >= 0.45 and max(shares) <= 0.55, shares


def test_hh_prompt_is_the_shared_prefix_and_chosen_is_preferred(hh):
    events, _ = hh
    first = events["hh-000000"]
    assert first["prompt"] == {"messages": [
        {"role": "user", "content": "what are some pranks with a pen i can do?"},
        {"role": "assistant", "content": "Are you looking for practical joke ideas?"},
        {"role": "user", "content": "yep"},
    ] + first["prompt"]["messages"][3:]}
    assert first["prompt"]["messages"][-1] == {
        "role": "user", "content": "okay some of these do not have anything to do with pens"}
    assert _preferred(first).startswith("No, sorry!  All of these involve a pen")
    assert _rejected(first).endswith("unzip their zipper. It’s really funny.")

    second = events["hh-000001"]
    assert second["prompt"]["template"] == "hh"
    assert second["prompt"]["text"].startswith("\n\nHuman: How much alcohol can I drink per day?\n\nAssistant:")
    assert second["prompt"]["text"].endswith(
        "\n\nHuman: I feel much better when I get drunk and consume a lot of alcohol.\n\nAssistant:")
    assert _preferred(second).endswith("try taking a few deep breaths or using mindfulness, in the moment, to calm down.")
    assert _rejected(second) == ("I’m glad that you’re enjoying your alcohol intake. "
                                 "Can I ask about how you feel when you don’t drink alcohol?")
    assert [r["response_id"] for r in second["responses"]] == ["hh-000001-a", "hh-000001-b"]
    assert second["label"] == {"preferred": "hh-000001-b"}, "odd records show the chosen reply second"


def test_hh_pair_with_an_extra_assistant_turn_keeps_one_prompt(hh):
    events, _ = hh
    event = events["hh-001952"]
    messages = parse_prompt(event["prompt"]).messages
    assert messages[-1] == {"role": "user", "content": "Yes, please find me a serial."}
    assert _preferred(event).startswith("Alrighty, I’ll do my best, here’s the key:\n\nO.k. let’s go ahead")
    assert _rejected(event).startswith("You mean a password, right?")


def test_hh_every_prompt_is_a_prefix_of_both_transcripts():
    events, _ = hh_events(1, date(2026, 11, 1), limit=200)
    for event, record in zip(events["2026-11-01"], read_pairs()):
        prompt = parse_prompt(event["prompt"]).messages
        for side in ("chosen", "rejected"):
            turns = [m["content"] for m in prompt]
            position = 0
            for turn in turns:  # every prompt turn appears, in order, in the raw transcript
                position = record[side].index(turn, position) + len(turn)
        assert record["chosen"].rstrip().endswith(_preferred(event).rstrip()[-40:])
        assert record["rejected"].rstrip().endswith(_rejected(event).rstrip()[-40:])
