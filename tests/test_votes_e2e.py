"""Votes through the real build: a day on which three annotators judge the same comparisons
(in either display order) publishes one pair per comparison, chosen by majority, with votes,
agreement and margin; agreeing votes are not duplicates and do not trip the duplicate gate; a
comparison split evenly is ledgered annotators_disagree and published neither way."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.homes import pointed_at

pytestmark = pytest.mark.slow
DAY = "2026-11-06"
ANNOTATORS = ("ann-a", "ann-b", "ann-c")


def vote(eid, annotator, prompt, first, second, preferred, minute):
    return {"event_id": eid, "event_type": "pairwise", "created_at": f"{DAY}T09:{minute:02d}:00Z",
            "source": "labelstudio:test", "user_id": f"u-{prompt[:8]}", "consent_training": True,
            "prompt": {"messages": [{"role": "user", "content": prompt}]},
            "responses": [{"response_id": "r0", "content": first, "model": "m"},
                          {"response_id": "r1", "content": second, "model": "m"}],
            "label": {"preferred": preferred},
            "annotator": {"kind": "annotator", "id": annotator, "saw_model_draft": False}}


# Eight comparisons, each judged by all three annotators, the display order swapped for one.
COMPARISONS = [(f"Question {i}: what is {i} plus {i}?", f"It is {2 * i}.", f"Maybe {2 * i + 1}, not sure.")
               for i in range(8)]
EVENTS = []
for i, (prompt, good, bad) in enumerate(COMPARISONS):
    for j, annotator in enumerate(ANNOTATORS):
        swapped = j == 1
        first, second = (bad, good) if swapped else (good, bad)
        prefers_good = not (i == 0 and j == 2)  # comparison 0: one dissent (2 of 3)
        good_id = "r1" if swapped else "r0"
        EVENTS.append(vote(f"v{i}-{annotator}", annotator, prompt, first, second,
                           good_id if prefers_good else ("r0" if swapped else "r1"), 3 * i + j))
# An evenly split comparison: two annotators, opposite preferences.
SPLIT = ("Which is the better greeting?", "Hello.", "Hi there.")
EVENTS += [vote("split-a", "ann-a", *SPLIT, "r0", 40), vote("split-b", "ann-b", *SPLIT, "r1", 41)]
# The same annotator sending the same vote twice is a duplicate.
EVENTS += [dict(EVENTS[3], event_id="v1-ann-a-again", created_at=f"{DAY}T10:00:00Z")]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    home = tmp_path_factory.mktemp("votes") / "home"
    (home / "landing" / DAY).mkdir(parents=True)
    (home / "landing" / DAY / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    with pointed_at(home):
        from pipeline.cli.build import run_build

        outcome = run_build([DAY])
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        vdir = home / "datasets" / "preference_pairs" / outcome.version_id
        rows = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
        lineage = pq.read_table(vdir / "lineage.parquet").to_pylist()
        rejected = {r["event_id"]: r for r in pq.read_table(vdir / "rejected.parquet").to_pylist()}
        yield rows, lineage, rejected, home


def test_one_pair_per_comparison_chosen_by_majority_with_votes(build):
    rows, *_ = build
    by_prompt = {r["prompt"][-1]["content"]: r for r in rows}
    assert len(rows) == len(COMPARISONS) == len(by_prompt)
    for i, (prompt, good, bad) in enumerate(COMPARISONS):
        row = by_prompt[prompt]
        assert (row["chosen"][0]["content"], row["rejected"][0]["content"]) == (good, bad)
        assert row["votes"] == 3 and len(row["source_event_ids"]) == 3
        expected = (2 / 3, 1 / 3) if i == 0 else (1.0, 1.0)
        assert (row["agreement"], row["margin"]) == pytest.approx(expected)


def test_lineage_names_each_vote_and_its_side(build):
    _, lineage, *_ = build
    votes = {r["event_id"]: r["vote"] for r in lineage if r["row_kind"] == "pair"}
    assert votes["v0-ann-c"] == "minority" and votes["v0-ann-a"] == votes["v0-ann-b"] == "majority"
    assert {votes[f"v3-{a}"] for a in ANNOTATORS} == {"majority"}


def test_agreeing_votes_are_not_duplicates_but_a_repeat_by_one_annotator_is(build):
    _, _, rejected, _ = build
    assert not any(e.startswith("v") and r["reason"] == "duplicate_exact"
                   for e, r in rejected.items() if e != "v1-ann-a-again")
    assert rejected["v1-ann-a-again"]["reason"] == "duplicate_exact"


def test_an_evenly_split_comparison_is_ledgered_never_published(build):
    rows, _, rejected, _ = build
    assert SPLIT[0] not in {r["prompt"][-1]["content"] for r in rows}
    for eid in ("split-a", "split-b"):
        assert (rejected[eid]["stage"], rejected[eid]["reason"]) == ("pair_construction", "annotators_disagree")
        assert "2 votes split 1/1" in rejected[eid]["detail"]


def test_the_majority_rule_passes_its_dbt_unit_test(build, tmp_path):
    from test_build_e2e import _dbt_unit_tests

    results = _dbt_unit_tests(build[3], tmp_path)
    for name in ("votes_on_one_comparison_are_one_pair_by_majority_and_a_tie_has_no_majority",
                 "one_comparison_is_one_pair_whichever_rules_built_it"):
        assert results[name] == "pass", results


def test_the_manifest_and_card_report_agreement_per_build_and_day(build):
    import json as json_

    home = build[3]
    (vdir,) = (home / "datasets" / "preference_pairs").glob("*/manifest.json")
    trust = json_.loads(vdir.read_text())["label_trust"]
    # 9 comparisons with 2+ votes (8 x 3 votes, one 2-vote even split); one dissent and one split.
    assert trust["agreement"]["items_with_2plus_votes"] == 9 and trust["agreement"]["votes"] == 26
    assert 0 < trust["agreement"]["krippendorff_alpha"] < 1
    assert trust["agreement_per_day"][DAY] == trust["agreement"]
    card = (vdir.parent / "README.md").read_text()
    assert "## Label trust" in card and "Krippendorff's alpha" in card
