"""Each distribution gate blocks a batch built to trip it — naming the gate and leaving
LATEST untouched — while a clean batch next to it publishes. A bad day must be caught even
when the window around it dilutes it."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BASE_DAYS = ["2026-11-01", "2026-11-02"]
BAD_DAY = "2026-11-03"


def ev(eid, etype="pairwise", prompt=None, responses=("Answer one.", "Answer two, a bit longer."),
       label=None, **extra):
    event = {"event_id": eid, "event_type": etype, "created_at": f"{BAD_DAY}T08:00:00Z", "source": "app:test",
             "user_id": f"gate-user-{eid}", "consent_training": True,
             "prompt": prompt or {"messages": [{"role": "user", "content": f"Distinct question {eid}?"}]},
             "responses": [{"response_id": f"r{i}", "content": c, "model": "m"} for i, c in enumerate(responses)],
             "label": label or {"preferred": "r0"}}
    event.update(extra)
    return event


def _env(home: Path):
    os.environ["PREFLINE_HOME"], os.environ["DAGSTER_HOME"] = str(home), str(home / "dagster")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from pipeline.cli.build import run_build
    from pipeline.synth.generate import write_landing

    root = tmp_path_factory.mktemp("gates")
    home = root / "base"
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    _env(home)
    write_landing(home / "landing", n=500, days=2, start=date.fromisoformat(BASE_DAYS[0]), seed=21)
    outcome = run_build(BASE_DAYS)
    assert outcome.success, (outcome.blocked, outcome.failed_steps)
    yield root, home, outcome.version_id
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _build_bad_day(base, name: str, lines: list[str]):
    from pipeline.cli.build import run_build

    root, home, version = base
    copy = root / name
    shutil.copytree(home, copy)
    _env(copy)
    (copy / "landing" / BAD_DAY).mkdir(parents=True)
    (copy / "landing" / BAD_DAY / "events.jsonl").write_text("\n".join(lines) + "\n")
    outcome = run_build([BAD_DAY])
    latest = (copy / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    return outcome, latest, version


def _assert_blocked_by(outcome, latest, version, gate):
    assert not outcome.success
    assert any(f"gate_{gate}" in b or gate in b for b in outcome.blocked), outcome.blocked
    assert latest == version


def test_a_clean_day_publishes(base):
    from pipeline.synth.generate import generate_days

    lines, _ = generate_days(300, 1, date.fromisoformat(BAD_DAY), seed=99)[BAD_DAY]
    outcome, latest, version = _build_bad_day(base, "clean", [line.decode() for line in lines])
    assert outcome.success, outcome.blocked
    assert latest == outcome.version_id != version


def test_a_duplicate_flood_blocks(base):
    _, home, _ = base
    sent = [line for f in sorted((home / "landing" / BASE_DAYS[0]).glob("*.jsonl")) for line in f.read_text().splitlines()]
    _assert_blocked_by(*_build_bad_day(base, "dups", sent[:400]), "day_duplicate_rate")


def test_a_consent_collapse_blocks(base):
    lines = [json.dumps(ev(f"c{i}", consent_training=i % 10 == 0)) for i in range(300)]
    _assert_blocked_by(*_build_bad_day(base, "consent", lines), "day_survival_share")


def test_an_ai_label_spike_on_one_day_blocks(base):
    lines = [json.dumps(ev(f"ai{i}", annotator={"kind": "ai", "id": "labeler-bot", "saw_model_draft": True}))
             for i in range(120)]
    _assert_blocked_by(*_build_bad_day(base, "ai", lines), "ai_label_share")


def test_a_length_biased_day_blocks(base):
    lines = [json.dumps(ev(f"len{i}", responses=("A long and thorough answer " * 8, "Short."))) for i in range(500)]
    _assert_blocked_by(*_build_bad_day(base, "length", lines), "chosen_longer_share")


def test_an_unknown_template_drift_blocks(base):
    lines = [json.dumps(ev(f"tpl{i}", prompt={"text": f"USER>> question {i} <<END", "template": "vicuna-v9"}))
             for i in range(150)]
    _assert_blocked_by(*_build_bad_day(base, "template", lines), "unknown_template_share")


def test_a_schema_break_blocks_at_capture(base):
    lines = [json.dumps({**ev(f"s{i}"), "consent_training": "yes"}) for i in range(200)]
    _assert_blocked_by(*_build_bad_day(base, "schema", lines), "gate_quarantine_share")
