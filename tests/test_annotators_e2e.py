"""Annotators through the real build. A day one user and one annotator fill, labeled after
seeing the model's draft and always for the response shown first, blocks on each annotator
gate with LATEST unchanged; a clean day beside it publishes. An annotator who always disagrees
with the two others is flagged: under the default policy (weight_down) its votes count half and
lineage names the flag; under hold_out its votes are ledgered annotator_unreliable."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from tests.homes import pointed_at

pytestmark = pytest.mark.slow
BASE_DAY, DAY = "2026-11-05", "2026-11-06"


def vote(eid, day, annotator, user, prompt, first, second, preferred, minute, saw=False):
    return {"event_id": eid, "event_type": "pairwise", "created_at": f"{day}T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
            "source": "labelstudio:test", "user_id": user, "consent_training": True,
            "prompt": {"messages": [{"role": "user", "content": prompt}]},
            "responses": [{"response_id": "r0", "content": first, "model": "m"},
                          {"response_id": "r1", "content": second, "model": "m"}],
            "label": {"preferred": preferred},
            "annotator": {"kind": "annotator", "id": annotator, "saw_model_draft": saw}}


def comparison(day, i):
    return (f"{day} question {i}: how many legs does a spider with {i} missing legs have?",
            f"It has {8 - i % 8} legs.", f"Spiders have {i + 9} legs, I think.")


def clean_day(day, n=20, dissenter=None):
    """n comparisons judged by ann-a and ann-b (and the dissenter, who always picks the worse
    response), display order alternating, each event from its own user."""
    events = []
    for i in range(n):
        prompt, good, bad = comparison(day, i)
        for j, annotator in enumerate(("ann-a", "ann-b") + ((dissenter,) if dissenter else ())):
            swapped = (i + j) % 2 == 1
            first, second = (bad, good) if swapped else (good, bad)
            picks_good = annotator != dissenter
            preferred = "r1" if swapped == picks_good else "r0"
            events.append(vote(f"{day}-{i}-{annotator}", day, annotator, f"u-{day}-{i}-{j}", prompt, first, second,
                               preferred, 3 * i + j))
    return events


def stamped_day(day, n=60):
    """One annotator giving every label after the draft, always for the first response; and one
    user giving all the day's end-user feedback."""
    events = []
    for i in range(n):
        prompt, good, bad = comparison(day, i)
        first, second = (bad, good) if i % 2 else (good, bad)
        events.append(vote(f"{day}-stamp-{i}", day, "ann-stamp", "ann-stamp", prompt, first, second, "r0", i, saw=True))
    for i in range(10):
        prompt, good, bad = comparison(day, n + i)
        user = vote(f"{day}-user-{i}", day, None, "u-stamp", prompt, good, bad, "r0", n + i)
        user["annotator"] = {"kind": "end_user"}
        events.append(user)
    return events


def _write(home, day, events):
    (home / "landing" / day).mkdir(parents=True, exist_ok=True)
    (home / "landing" / day / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from pipeline.cli.build import run_build

    root = tmp_path_factory.mktemp("annotators")
    home = root / "base"
    _write(home, BASE_DAY, clean_day(BASE_DAY, n=30))
    with pointed_at(home):
        outcome = run_build([BASE_DAY])
    assert outcome.success, (outcome.blocked, outcome.failed_steps)
    return root, home, outcome.version_id


def _build_day(base, name, events, config=None):
    from pipeline.cli.build import run_build

    root, home, version = base
    copy = root / name
    shutil.copytree(home, copy)
    if config:
        (copy / "prefline.yaml").write_text(config)
    _write(copy, DAY, events)
    with pointed_at(copy):
        outcome = run_build([DAY])
    latest = (copy / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    return outcome, latest, copy


def test_a_stamped_day_blocks_on_every_annotator_gate_and_latest_is_unchanged(base):
    outcome, latest, home = _build_day(base, "stamped", stamped_day(DAY))
    assert not outcome.success
    blocked = " ".join(outcome.blocked)
    for gate in ("saw_draft_share", "user_concentration", "annotator_concentration", "annotator_position_bias"):
        assert f"gate_{gate}" in blocked, (gate, outcome.blocked)
    assert "ann-stamp" in blocked and "u-stamp" in blocked
    assert latest == base[2]


def _version(home, version):
    vdir = home / "datasets" / "preference_pairs" / version
    rows = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
    lineage = pq.read_table(vdir / "lineage.parquet").to_pylist()
    rejected = pq.read_table(vdir / "rejected.parquet").to_pylist()
    manifest = json.loads((vdir / "manifest.json").read_text())
    return rows, lineage, rejected, manifest, (vdir / "README.md").read_text()


def test_a_clean_day_with_a_dissenter_publishes_and_weights_the_flagged_annotator_down(base):
    outcome, latest, home = _build_day(base, "clean", clean_day(DAY, dissenter="ann-contrary"))
    assert outcome.success, outcome.blocked
    assert latest == outcome.version_id != base[2]
    rows, lineage, rejected, manifest, card = _version(home, latest)
    annotators = manifest["label_trust"]["annotators"]
    assert annotators["policy"] == "weight_down" and annotators["flagged"] == 1
    flagged = annotators["flagged_annotators"][0]
    assert (flagged["annotator_id"], flagged["peer_votes"], flagged["peer_agreement"]) == ("ann-contrary", 20, 0.0)
    assert flagged["first_position_rate"] == pytest.approx(0.5) and flagged["vote_weight"] == 0.5
    today = [r for r in rows if r["prompt"][-1]["content"].startswith(DAY)]
    assert len(today) == 20 and all(r["votes"] == 3 for r in today)
    assert all(r["agreement"] == pytest.approx(0.8) and r["margin"] == pytest.approx(0.6) for r in today)
    contrary = [r for r in lineage if r["event_id"].endswith("-ann-contrary")]
    assert len(contrary) == 20
    assert all(r["vote_weight"] == 0.5 and r["annotator_flag"] == "peer_agreement_below_floor" for r in contrary)
    assert not any(r["reason"] == "annotator_unreliable" for r in rejected)
    assert "ann-contrary" in card and "peer_agreement_below_floor" in card and "gate_annotator_position_bias" in card


def test_hold_out_ledgers_the_flagged_annotators_votes(base):
    config = "label_trust:\n  annotator_policy: hold_out\n"
    outcome, latest, home = _build_day(base, "hold_out", clean_day(DAY, dissenter="ann-contrary"), config)
    assert outcome.success, outcome.blocked
    rows, lineage, rejected, manifest, _ = _version(home, latest)
    held = [r for r in rejected if r["event_id"].endswith("-ann-contrary")]
    assert len(held) == 20 and all(r["reason"] == "annotator_unreliable" for r in held)
    assert all("held out" in r["detail"] and "0 of 20" in r["detail"] for r in held)
    assert not any(r["event_id"].endswith("-ann-contrary") for r in lineage)
    today = [r for r in rows if r["prompt"][-1]["content"].startswith(DAY)]
    assert len(today) == 20 and all(r["votes"] == 2 and r["agreement"] == 1.0 for r in today)
    assert manifest["label_trust"]["annotators"]["policy"] == "hold_out"
