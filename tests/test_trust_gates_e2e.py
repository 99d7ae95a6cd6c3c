"""The label-trust gates end to end: a day built to trip each blocks the build, naming the gate
and leaving LATEST untouched, on the same published base as tests/test_gates_e2e.py (whose
clean day publishes beside them); an intended rubric change publishes once accepted, and a
pair that is not trainer-ready is ledgered with its reason."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.test_gates_e2e import BAD_DAY, _assert_blocked_by, _build_bad_day, base, ev  # noqa: F401

pytestmark = pytest.mark.slow


def test_flattering_chosen_responses_block_on_style_bias(base):  # noqa: F811 (the imported module fixture)
    lines = [json.dumps(ev(f"sty{i}", responses=(f"Great question! It is {i}.",
                                                  f"The answer to that one is {i}, as the table shows.")))
             for i in range(120)]
    _assert_blocked_by(*_build_bad_day(base, "style", lines), "style_bias")


def test_prompts_longer_than_max_length_are_ledgered_and_block_on_trainer_readiness(base):  # noqa: F811 (the imported module fixture)
    def long_prompt(i: int) -> str:  # ~8,000 chars, over 1024 tokens at chars/4; no two share a word
        return " ".join(f"q{i}w{j}" for j in range(1000))

    lines = [json.dumps(ev(f"tok{i}", prompt={"messages": [{"role": "user", "content": long_prompt(i)}]}))
             for i in range(100)]
    outcome, latest, version = _build_bad_day(base, "tokens", lines)
    _assert_blocked_by(outcome, latest, version, "trainer_unready_share")
    from pipeline.core import paths
    from pipeline.final_preference_set.publish import current_candidate

    rejected = pq.read_table(current_candidate(paths.staging_dir()).path / "rejected.parquet").to_pylist()
    reasons = {(r["stage"], r["reason"]) for r in rejected if str(r.get("event_id", "")).startswith("tok")}
    assert reasons == {("pair_construction", "prompt_exceeds_max_length")}, reasons


def test_a_new_rubric_version_blocks_and_publishes_once_accepted(base):  # noqa: F811 (the imported module fixture)
    lines = [json.dumps(ev(f"pol{i}", policy_version="rubric-2027-01")) for i in range(120)]
    _assert_blocked_by(*_build_bad_day(base, "policy", lines), "policy_version_shift")

    from pipeline.cli.build import run_build

    root, _, version = base
    home = root / "policy"
    # The judge trains on the whole window here, as it did for LATEST: on the sample's few hundred
    # pairs a judge fit on the earlier days alone moves the AI-label mix past label_source_shift,
    # which is not what this test is about.
    (home / "prefline.yaml").write_text(
        "judge:\n  established_min_train_pairs: 0\n"
        "gates:\n  accept:\n    - {gate: policy_version_shift, reason: \"rubric 2027-01 rolled out\"}\n")
    outcome = run_build([BAD_DAY])
    latest = (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    assert outcome.success, outcome.blocked
    assert latest == outcome.version_id != version
    manifest = json.loads((home / "datasets" / "preference_pairs" / latest / "manifest.json").read_text())
    assert manifest["checks"]["gate_policy_version_shift"]["status"] == "accepted"
