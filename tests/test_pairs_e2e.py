"""Pair construction through the real build: pairs come out the right way round, equal
ratings never give chosen == rejected, exact duplicates collapse across chat formats, and
every dropped event says why."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from pipeline.template_normalization.templates import render_prompt

pytestmark = pytest.mark.slow
DAY = "2026-11-05"


def ev(eid, etype, prompt, responses, label, **extra):
    return {"event_id": eid, "event_type": etype, "created_at": f"{DAY}T09:00:00Z", "source": "app:test",
            "user_id": extra.pop("user", f"u-{eid}"), "consent_training": extra.pop("consent", True),
            "prompt": prompt, "responses": [{"response_id": f"r{i}", "content": c, "model": "m"}
                                            for i, c in enumerate(responses)],
            "label": label, **extra}


def q(text):
    return {"messages": [{"role": "user", "content": text}]}


EVENTS = [
    ev("pw-first", "pairwise", q("Capital of France?"), ["Paris.", "Lyon, I think."], {"preferred": "r0"}),
    ev("pw-second", "pairwise", q("Capital of Spain?"), ["Barcelona, probably.", "Madrid."], {"preferred": "r1"}),
    ev("rate-5", "rating", q("Name a prime."), ["7 is prime."], {"score": 5}),
    ev("rate-1", "rating", q("Name a prime."), ["9 is a prime number."], {"score": 1}),
    ev("rate-3", "rating", q("Name a prime."), ["Maybe 15."], {"score": 3}),
    ev("tie-a", "rating", q("Say hi."), ["Hello there!"], {"score": 4}),
    ev("tie-b", "rating", q("Say hi."), ["Hi, how can I help?"], {"score": 4}),
    ev("same-hi", "rating", q("Say bye."), ["Goodbye."], {"score": 5}),
    ev("same-lo", "rating", q("Say bye."), ["Goodbye."], {"score": 1}),
    ev("ai-hi", "rating", q("Name a color."), ["Teal is a color."], {"score": 5},
       annotator={"kind": "ai", "id": "gpt-4", "saw_model_draft": False}),
    ev("ai-lo", "rating", q("Name a color."), ["Seven."], {"score": 1},
       annotator={"kind": "ai", "id": "gpt-4", "saw_model_draft": False}),
    ev("edit-1", "edit", q("Fix: teh cat"), ["teh cat"], {"edited_content": "the cat"}),
    ev("up-1", "thumbs", q("Is water wet?"), ["It depends on the definition."], {"value": "up"}),
    ev("down-1", "thumbs", q("Is water wet?"), ["No idea, sorry about that."], {"value": "down"}),
    ev("regen-1", "regenerate", q("Tell a joke."), ["Knock knock.", "Why did the chicken cross?"], {"discarded": "r0"}),
    ev("tie-pw", "pairwise", q("Best color?"), ["Blue.", "Green."], {"tie": True}),
    ev("no-consent", "pairwise", q("Private?"), ["Yes.", "No."], {"preferred": "r0"}, consent=False),
    ev("chatml-copy", "pairwise",
       {"text": render_prompt([{"role": "user", "content": "Capital of Italy?"}], "chatml"), "template": "chatml"},
       ["Rome.", "Milan, likely."], {"preferred": "r0"}, user="u-italy"),
    # The same user's vote through a second client: a duplicate (another user's would be a vote).
    ev("plain-copy", "pairwise", {"text": "Capital of Italy?", "template": "plain"},
       ["Rome.", "Milan, likely."], {"preferred": "r0"}, user="u-italy"),
] + [
    # Five distinct labeled pairs on one prompt, over the cluster cap of 3 set below.
    ev(f"haiku-{i}", "pairwise", q("Write a haiku about rain."),
       [f"Rain haiku draft {i}: soft drops on the roof.", f"Rain is wet ({i})."], {"preferred": "r0"},
       created_at=f"{DAY}T10:0{i}:00Z")
    for i in range(5)
]
CLUSTER_CAP = 3


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    home = tmp_path_factory.mktemp("pairs") / "home"
    (home / "landing" / DAY).mkdir(parents=True)
    (home / "landing" / DAY / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    (home / "prefline.yaml").write_text(f"pairs:\n  max_pairs_per_cluster: {CLUSTER_CAP}\n")
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    os.environ["PREFLINE_HOME"], os.environ["DAGSTER_HOME"] = str(home), str(home / "dagster")
    try:
        from pipeline.cli.build import run_build

        outcome = run_build([DAY])
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        vdir = home / "datasets" / "preference_pairs" / outcome.version_id
        rows = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
        kto = pq.read_table(vdir / "kto.parquet").to_pylist()
        rejected = {r["event_id"]: r for r in pq.read_table(vdir / "rejected.parquet").to_pylist()}
        yield rows, kto, rejected
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _pairs_for(rows, prompt):
    return [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["label_source"])
            for r in rows if r["prompt"][-1]["content"] == prompt]


def test_pairwise_chosen_is_the_preferred_response_in_either_position(build):
    rows, _, _ = build
    assert _pairs_for(rows, "Capital of France?") == [("Paris.", "Lyon, I think.", "human_pairwise")]
    assert _pairs_for(rows, "Capital of Spain?") == [("Madrid.", "Barcelona, probably.", "human_pairwise")]


def test_ratings_pair_by_score_gap_higher_score_chosen(build):
    rows, _, _ = build
    assert sorted(_pairs_for(rows, "Name a prime.")) == sorted([
        ("7 is prime.", "9 is a prime number.", "human_rating"),
        ("7 is prime.", "Maybe 15.", "human_rating"),
        ("Maybe 15.", "9 is a prime number.", "human_rating"),
    ])


def test_equal_ratings_and_equal_contents_never_pair(build):
    rows, kto, _ = build
    assert _pairs_for(rows, "Say hi.") == [] and _pairs_for(rows, "Say bye.") == []
    assert all(r["chosen"] != r["rejected"] for r in rows)
    by_prompt = {(k["prompt"][-1]["content"], k["completion"][0]["content"], k["label"]) for k in kto}
    assert {("Say hi.", "Hello there!", True), ("Say hi.", "Hi, how can I help?", True),
            ("Say bye.", "Goodbye.", True), ("Say bye.", "Goodbye.", False)} <= by_prompt


def test_ratings_from_an_ai_annotator_never_pass_as_human(build):
    rows, _, _ = build
    assert _pairs_for(rows, "Name a color.") == [("Teal is a color.", "Seven.", "ai_annotator")]


def test_edit_and_thumbs_pairs(build):
    rows, _, _ = build
    assert _pairs_for(rows, "Fix: teh cat") == [("the cat", "teh cat", "human_edit")]
    assert _pairs_for(rows, "Is water wet?") == [
        ("It depends on the definition.", "No idea, sorry about that.", "human_thumbs")]


def test_dropped_events_say_where_and_why(build):
    _, _, rejected = build
    assert (rejected["regen-1"]["stage"], rejected["regen-1"]["reason"]) == ("pair_construction", "regenerate_excluded")
    assert (rejected["tie-pw"]["stage"], rejected["tie-pw"]["reason"]) == ("pair_construction", "tie")
    assert (rejected["no-consent"]["stage"], rejected["no-consent"]["reason"]) == ("filtering", "consent")


def test_the_same_feedback_in_two_chat_formats_collapses_to_one_pair(build):
    rows, _, rejected = build
    assert len(_pairs_for(rows, "Capital of Italy?")) == 1
    dropped = [e for e in ("chatml-copy", "plain-copy") if e in rejected]
    assert len(dropped) == 1 and rejected[dropped[0]]["reason"] == "duplicate_exact"
    kept = ({"chatml-copy", "plain-copy"} - set(dropped)).pop()
    assert kept in rejected[dropped[0]]["detail"]


def test_a_cluster_keeps_its_first_pairs_up_to_the_cap_and_drops_the_rest_as_near_duplicates(build):
    rows, _, rejected = build
    kept = sorted(c for c, _, _ in _pairs_for(rows, "Write a haiku about rain."))
    assert kept == [f"Rain haiku draft {i}: soft drops on the roof." for i in range(CLUSTER_CAP)]
    for i in range(CLUSTER_CAP, 5):
        drop = rejected[f"haiku-{i}"]
        assert (drop["stage"], drop["reason"]) == ("dedup", "duplicate_near")
        assert "has 5 pairs" in drop["detail"] and f"cap of {CLUSTER_CAP}" in drop["detail"]
