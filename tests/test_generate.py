"""The seeded generator: deterministic files with every event type, every template family
and the messes a real feed has, in the promised amounts."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from pipeline.lib.capture import capture_day
from pipeline.lib.generate import generate_days, write_landing
from pipeline.lib.hh_rlhf import hh_events, read_pairs
from pipeline.lib.templates import parse_prompt

N = 3000


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen") / "landing"
    summary = write_landing(root, n=N, days=2, start=date(2026, 11, 1), seed=3)
    return root, summary


def test_same_arguments_give_identical_files(landing, tmp_path):
    root, _ = landing
    other = tmp_path / "landing"
    write_landing(other, n=N, days=2, start=date(2026, 11, 1), seed=3)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert all((root / f).read_bytes() == (other / f).read_bytes() for f in files)
    assert {p.suffix for p in root.rglob("*") if p.is_file()} == {".gz", ".jsonl", ".parquet", ".csv"}


def test_every_event_type_and_template_family_appears(landing):
    root, _ = landing
    events = capture_day(root, "2026-11-01").events
    assert set(events.column("event_type").to_pylist()) == {"pairwise", "rating", "thumbs", "edit", "regenerate"}
    import orjson

    families = Counter(parse_prompt(orjson.loads(p)).template_id for p in events.column("prompt_json").to_pylist())
    assert set(families) == {"messages", "chatml", "llama-3", "llama-2", "alpaca", "hh", "plain"}


def test_messes_come_in_the_promised_amounts(landing):
    root, summary = landing
    day = capture_day(root, "2026-11-02")
    read = day.events.num_rows + day.quarantine.num_rows
    assert 0.005 < day.quarantine.num_rows / read < 0.04
    consent = day.events.column("consent_training").to_pylist()
    assert 0.01 < consent.count(False) / len(consent) < 0.06
    ids = Counter(day.events.column("event_id").to_pylist())
    assert sum(c - 1 for c in ids.values() if c > 1) > 0.01 * N, "redeliveries"
    day1_ids = set(capture_day(root, "2026-11-01").events.column("event_id").to_pylist())
    assert day1_ids & set(ids), "some redeliveries arrive a day late"
    users = set(day.events.column("user_id").to_pylist())
    assert set(summary["deleted_users"]) & users, "deleted users have events"


def test_ratings_come_in_groups_so_pairs_by_score_gap_exist():
    _, events = generate_days(500, 1, date(2026, 11, 1), seed=5)["2026-11-01"]
    prompts = Counter(str(e["prompt"]) for e in events if e and e["event_type"] == "rating")
    assert max(prompts.values()) >= 2


def test_hh_conversion_keeps_the_shared_prefix_as_prompt_and_prefers_chosen():
    first = next(read_pairs())
    event = hh_events(1, date(2026, 11, 1), limit=1)["2026-11-01"][0]
    prompt = parse_prompt(event["prompt"]).messages
    cut = first["chosen"].rfind("\n\nAssistant:")
    assert first["chosen"][:cut].endswith(prompt[-1]["content"])
    chosen = {r["response_id"]: r["content"] for r in event["responses"]}[event["label"]["preferred"]]
    assert chosen == first["chosen"][cut + len("\n\nAssistant:"):].strip()
