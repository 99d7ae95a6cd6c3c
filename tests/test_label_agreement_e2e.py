"""gate_label_agreement_drop end to end: after a history of clean days, a new day whose human
labels were swapped A/B upstream blocks the build with LATEST unchanged, while the same day
unswapped publishes. The judge that audits the new day is the established one, fit on the
earlier days only, so the swapped day cannot teach it the swap.

The sample data's judge agrees with humans only ~0.63, too little to show a swap on one day; so
these days are built for a judge clearly better than chance: the preferred response always
uses one vocabulary and the other response another (no length, position or style-marker
difference), which the reward model's word n-grams learn from a few hundred pairs."""

from __future__ import annotations

import json
import random
import shutil
from datetime import date, timedelta

import pytest

from tests.test_gates_e2e import _env

pytestmark = pytest.mark.slow
BASE_DAYS = ["2026-11-09", "2026-11-10"]
NEW_DAY = "2026-11-11"  # a Wednesday: no refit boundary between it and the base days
PER_DAY = 400           # ~10% are held-out test pairs: ~40 audited a day, enough for the Wilson rule
NOISE = 0.15            # share of labels where the annotator preferred the POOR answer anyway
GOOD = ("accurate", "verified", "concrete", "measured", "documented", "tested", "grounded", "sourced")
POOR = ("unrelated", "random", "offhand", "loose", "idle", "stray", "aimless", "garbled")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def _answer(rng: random.Random, vocabulary: tuple[str, ...], topic: str) -> str:
    words = rng.sample(vocabulary, rng.randint(3, 6))
    return f"On {topic}: " + " ".join(words) + f" notes about {topic}."


def day_events(day: str, swapped: bool = False, seed: int = 0) -> list[str]:
    """``PER_DAY`` pairwise events of ``day`` with distinct prompts; the human prefers the GOOD
    answer (shown first or second at random) but for a ``NOISE`` share of pairs, and with
    ``swapped`` every label is the other way round."""
    rng = random.Random(f"{day}-{seed}")
    lines = []
    for i in range(PER_DAY):
        topic, other = _word(rng), _word(rng)
        good, poor = _answer(rng, GOOD, topic), _answer(rng, POOR, topic)
        responses = [good, poor] if rng.random() < 0.5 else [poor, good]
        honest = rng.random() >= NOISE
        preferred = responses.index(poor if swapped == honest else good)
        eid = f"agr-{day}-{i}"
        lines.append(json.dumps({
            "event_id": eid, "event_type": "pairwise", "created_at": f"{day}T08:00:00Z", "source": "app:test",
            "user_id": f"agr-user-{day}-{i}", "consent_training": True,
            "prompt": {"messages": [{"role": "user", "content": f"How should I {topic} the {other} {_word(rng)}?"}]},
            "responses": [{"response_id": f"r{k}", "content": c, "model": "m"} for k, c in enumerate(responses)],
            "label": {"preferred": f"r{preferred}"},
        }))
    return lines


def _write_day(home, day: str, lines: list[str]) -> None:
    (home / "landing" / day).mkdir(parents=True, exist_ok=True)
    (home / "landing" / day / "events.jsonl").write_text("\n".join(lines) + "\n")


def _manifest(home, version: str) -> dict:
    return json.loads((home / "datasets" / "preference_pairs" / version / "manifest.json").read_text())


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    import os

    from pipeline.cli.build import run_build

    assert date.fromisoformat(NEW_DAY).weekday() == 2
    assert [date.fromisoformat(BASE_DAYS[0]) + timedelta(days=k) for k in (1, 2)] == \
        [date.fromisoformat(d) for d in (BASE_DAYS[1], NEW_DAY)]
    root = tmp_path_factory.mktemp("agreement")
    home = root / "base"
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    _env(home)
    # two days of 400 events hold ~716 human train pairs: below the default minimum for an
    # established judge, so this home asks for it at 200
    home.mkdir(parents=True, exist_ok=True)
    (home / "prefline.yaml").write_text("judge:\n  established_min_train_pairs: 200\n")
    for day in BASE_DAYS:
        _write_day(home, day, day_events(day))
    outcome = run_build(BASE_DAYS)
    assert outcome.success, (outcome.blocked, outcome.failed_steps)
    yield root, home, outcome.version_id
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _build_new_day(history, name: str, swapped: bool):
    from pipeline.cli.build import run_build

    root, home, version = history
    copy = root / name
    shutil.copytree(home, copy)
    _env(copy)
    _write_day(copy, NEW_DAY, day_events(NEW_DAY, swapped=swapped))
    outcome = run_build([NEW_DAY])
    latest = (copy / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    return copy, outcome, latest, version


def _candidate_manifest() -> dict:
    from pipeline.core import paths
    from pipeline.final_preference_set.publish import current_candidate

    return json.loads((current_candidate(paths.staging_dir()).path / "manifest.json").read_text())


def _rate(counts: dict) -> float:
    return counts["agree"] / counts["judged"]


def test_the_history_is_judged_by_a_judge_clearly_better_than_chance(history):
    _, home, version = history
    agreement = _manifest(home, version)["label_gates"]["human_judge_agreement"]
    assert agreement["all"]["judged"] >= 60
    assert _rate(agreement["all"]) >= 0.75, agreement


def test_a_swapped_day_blocks_on_label_agreement_drop_and_the_same_day_unswapped_publishes(history):
    home, outcome, latest, version = _build_new_day(history, "swapped", swapped=True)
    assert not outcome.success
    assert any("label_agreement_drop" in b for b in outcome.blocked), outcome.blocked
    assert latest == version
    swapped = _candidate_manifest()
    # The established judge: fit on the base days only, so the swapped day did not teach it.
    assert swapped["judge"]["judge_trained_before"] == NEW_DAY
    agreement = swapped["label_gates"]["human_judge_agreement"]
    assert agreement[NEW_DAY]["judged"] >= 30 and _rate(agreement[NEW_DAY]) <= 0.3, agreement

    home, outcome, latest, version = _build_new_day(history, "clean", swapped=False)
    assert outcome.success, outcome.blocked
    assert latest == outcome.version_id != version
    clean = _manifest(home, latest)
    assert clean["checks"]["gate_label_agreement_drop"]["status"] == "passed", clean["checks"]
    assert clean["judge"]["judge_version"] == swapped["judge"]["judge_version"], \
        "the new day's labels, swapped or not, do not change the judge that audits them"
    assert _rate(clean["label_gates"]["human_judge_agreement"][NEW_DAY]) >= 0.7
    print("swapped:", agreement, "clean:", clean["label_gates"]["human_judge_agreement"],
          "gate:", clean["checks"]["gate_label_agreement_drop"])
