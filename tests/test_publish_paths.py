"""Publishing reads the truth, whichever way it is launched. After a blocked build, every
launch path — the UI's asset-alone, selection and whole-graph runs, `dagster asset
materialize`, the schedule's and the sensor's run requests, `prefline build`, `prefline
republish` — refuses to publish, names the failing checks and leaves LATEST and every
published version as they were. A clean candidate still publishes; a tampered one does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow
DAYS = ["2026-11-01", "2026-11-02"]
BAD_DAY = "2026-11-03"
NEW_DAY = "2026-11-04"
BIN = Path(sys.executable).parent
FAILING = ("gate_day_duplicate_rate", "gate_day_survival_share")


@contextmanager
def home_env(home: Path):
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    os.environ["PREFLINE_HOME"], os.environ["DAGSTER_HOME"] = str(home), str(home / "dagster")
    try:
        yield home
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def published(home: Path) -> tuple[str, list[str]]:
    root = home / "datasets" / "preference_pairs"
    return (root / "LATEST").read_text().strip(), sorted(p.name for p in root.iterdir() if p.is_dir())


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=600)


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    # The Dagster instance's own config names no path; runs and storage travel with the copy.
    return dst


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    from pipeline.cli.build import run_build
    from pipeline.synth.generate import write_landing

    home = tmp_path_factory.mktemp("paths") / "clean"
    with home_env(home):
        write_landing(home / "landing", n=200, days=2, start=date.fromisoformat(DAYS[0]), seed=5)
        outcome = run_build(DAYS)
    assert outcome.success, (outcome.blocked, outcome.failed_steps)
    return home


@pytest.fixture(scope="module")
def blocked(clean, tmp_path_factory):
    """A redelivery storm on BAD_DAY, built with `prefline build`: blocked."""
    home = copy_home(clean, tmp_path_factory.mktemp("paths") / "blocked")
    before = published(home)
    sent = [line for f in sorted((home / "landing" / DAYS[0]).glob("*.jsonl")) for line in f.read_text().splitlines()]
    (home / "landing" / BAD_DAY).mkdir()
    (home / "landing" / BAD_DAY / "events.jsonl").write_text("\n".join(sent[:200]) + "\n")
    result = run_cli(home, "prefline", "build", "--date", BAD_DAY)
    candidate = (home / "datasets" / "_staging" / "CANDIDATE").read_text().strip()
    return home, before, candidate, result


def _assert_untouched(home: Path, before) -> None:
    assert published(home) == before, "LATEST and the published versions are as they were"


def _names_failures(text: str) -> None:
    for check in FAILING:
        assert check in text, text[-3000:]


def test_prefline_build_is_blocked_and_says_by_what(blocked):
    home, before, _, result = blocked
    assert result.returncode == 1
    assert "BUILD BLOCKED" in result.stderr
    _names_failures(result.stderr)
    _assert_untouched(home, before)


def _implicit_job(selection):
    from dagster import AssetKey

    from pipeline.definitions import load_defs

    return load_defs().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey(k) for k in selection})


def _failure_text(result) -> str:
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            lines.append(event.event_specific_data.error.message)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            lines.append(f"{evaluation.check_name}: {evaluation.description}")
    return "\n".join(lines)


def test_ui_materialize_of_the_published_asset_alone_refuses(blocked):
    from dagster import DagsterInstance

    home, before, candidate, _ = blocked
    with home_env(home), DagsterInstance.get() as instance:
        result = _implicit_job(["preference_set"]).execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    text = _failure_text(result)
    assert f"candidate {candidate} is not published" in text and "gates.accept" in text
    _names_failures(text)
    _assert_untouched(home, before)


def test_ui_selection_of_the_candidate_and_its_publisher_refuses(blocked):
    from dagster import DagsterInstance

    home, before, _, _ = blocked
    with home_env(home), DagsterInstance.get() as instance:
        result = _implicit_job(["preference_set_candidate", "preference_set"]).execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    _names_failures(_failure_text(result))
    _assert_untouched(home, before)


def test_dagster_cli_materialize_refuses(blocked):
    home, before, _, _ = blocked
    result = run_cli(home, "dagster", "asset", "materialize", "-m", "pipeline.definitions", "--select", "preference_set")
    assert result.returncode != 0
    _names_failures(result.stdout + result.stderr)
    _assert_untouched(home, before)


def _run_request(home: Path, request):
    from dagster import DagsterInstance

    from pipeline.definitions import load_defs

    with home_env(home), DagsterInstance.get() as instance:
        return load_defs().resolve_job_def("build").execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False)


def test_the_schedules_run_refuses(blocked):
    from dagster import DagsterInstance, build_schedule_context

    from pipeline.orchestration.schedules import nightly_build

    home, before, _, _ = blocked
    night = datetime.combine(date.fromisoformat(BAD_DAY) + timedelta(days=1), datetime.min.time(), UTC)
    with home_env(home), DagsterInstance.get() as instance:
        request = nightly_build(build_schedule_context(instance=instance, scheduled_execution_time=night))
    assert request.partition_key == BAD_DAY
    result = _run_request(home, request)  # the whole graph: "materialize all" for that day
    assert not result.success
    _names_failures(_failure_text(result))
    _assert_untouched(home, before)


def test_the_sensors_run_refuses(blocked):
    from dagster import build_sensor_context

    from pipeline.orchestration.sensors import new_landing_day

    home, before, _, _ = blocked
    with home_env(home):
        sensed = new_landing_day(build_sensor_context(cursor=",".join(DAYS)))
    [request] = sensed.run_requests
    assert request.partition_key == BAD_DAY
    result = _run_request(home, request)
    assert not result.success
    _names_failures(_failure_text(result))
    _assert_untouched(home, before)


def test_prefline_republish_of_the_blocked_candidate_refuses(blocked):
    from pipeline.cli.main import main

    home, before, candidate, _ = blocked
    with home_env(home), pytest.raises(SystemExit) as refused:
        main(["republish", candidate[:8], "--without-deleted"])
    text = str(refused.value)
    assert f"{candidate} is a candidate" in text and "never published" in text
    _names_failures(text)
    _assert_untouched(home, before)


def test_an_accepted_shift_publishes_with_its_real_results_in_the_manifest(blocked, tmp_path):
    from pipeline.cli.build import run_build

    home = copy_home(blocked[0], tmp_path / "accepted")
    accept = [{"gate": g, "reason": f"replayed feed on {BAD_DAY}, ticket DATA-7"}
              for g in ("day_duplicate_rate", "day_survival_share", "day_survival_vs_trailing")]
    (home / "prefline.yaml").write_text(json.dumps({"gates": {"accept": accept}}))
    with home_env(home):
        outcome = run_build([BAD_DAY])
    assert outcome.success, (outcome.blocked, outcome.failed_steps)
    latest, _ = published(home)
    manifest = json.loads((home / "datasets" / "preference_pairs" / latest / "manifest.json").read_text())
    checks = manifest["checks"]
    assert checks["gate_day_duplicate_rate"]["status"] == "accepted"
    assert checks["gate_day_duplicate_rate"]["accepted_reason"] == f"replayed feed on {BAD_DAY}, ticket DATA-7"
    assert checks["gate_day_duplicate_rate"]["observed"] > checks["gate_day_duplicate_rate"]["threshold"]
    assert checks["gate_chosen_longer_share"]["status"] == "passed"
    assert {"conservation", "candidate_suite", "upstream_checks", "gate_published_rows"} <= set(checks)
    for record in checks.values():
        assert record["run_id"] == outcome.run_ids[-1] and record["evaluated_at"] and record["summary"]


@pytest.fixture(scope="module")
def audited_unpublished(clean, tmp_path_factory):
    """A clean new day built and audited up to the candidate; nothing published yet."""
    from dagster import AssetKey, DagsterInstance

    from pipeline.core.partitions import register_days
    from pipeline.definitions import load_defs
    from pipeline.synth.generate import write_landing

    home = copy_home(clean, tmp_path_factory.mktemp("paths") / "audited")
    before = published(home)
    with home_env(home):
        write_landing(home / "landing", n=200, days=1, start=date.fromisoformat(NEW_DAY), seed=6)
        job = load_defs().resolve_job_def("build")
        everything_but_publishing = [k for k in load_defs().resolve_asset_graph().get_all_asset_keys()
                                     if k != AssetKey("preference_set")]
        with DagsterInstance.get() as instance:
            register_days(instance, [NEW_DAY])
            result = job.execute_in_process(instance=instance, partition_key=NEW_DAY,
                                            asset_selection=everything_but_publishing, raise_on_error=False)
    assert result.success, _failure_text(result)
    assert published(home) == before
    return home, before, (home / "datasets" / "_staging" / "CANDIDATE").read_text().strip()


def test_a_clean_audited_candidate_publishes_with_the_asset_alone(audited_unpublished, tmp_path):
    from dagster import DagsterInstance

    home = copy_home(audited_unpublished[0], tmp_path / "alone")
    candidate = audited_unpublished[2]
    with home_env(home), DagsterInstance.get() as instance:
        result = _implicit_job(["preference_set"]).execute_in_process(instance=instance, raise_on_error=False)
    assert result.success, _failure_text(result)
    latest, versions = published(home)
    assert latest == candidate and candidate in versions
    manifest = json.loads((home / "datasets" / "preference_pairs" / candidate / "manifest.json").read_text())
    runs = {c["run_id"] for c in manifest["checks"].values()}
    assert runs and result.run_id not in runs, "the evidence is the earlier run's evaluations, not assumed"
    assert all(c["status"] == "passed" for c in manifest["checks"].values())


def test_a_clean_audited_candidate_publishes_with_the_dagster_cli(audited_unpublished, tmp_path):
    home = copy_home(audited_unpublished[0], tmp_path / "cli")
    result = run_cli(home, "dagster", "asset", "materialize", "-m", "pipeline.definitions", "--select", "preference_set")
    assert result.returncode == 0, result.stderr[-2000:]
    assert published(home)[0] == audited_unpublished[2]


def test_a_candidate_changed_after_its_checks_is_refused(audited_unpublished, tmp_path):
    from dagster import DagsterInstance

    home = copy_home(audited_unpublished[0], tmp_path / "tampered")
    before, candidate = audited_unpublished[1], audited_unpublished[2]
    train = home / "datasets" / "_staging" / candidate / "train.parquet"
    table = pq.read_table(train)
    pq.write_table(table.slice(1), train)  # one row quietly removed after the audit
    with home_env(home), DagsterInstance.get() as instance:
        result = _implicit_job(["preference_set"]).execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    text = _failure_text(result)
    assert "not the one its checks audited" in text and "train.parquet" in text
    _assert_untouched(home, before)


def test_an_empty_build_never_publishes(tmp_path):
    from pipeline.cli.build import run_build

    home = tmp_path / "empty"
    (home / "landing" / DAYS[0]).mkdir(parents=True)
    (home / "landing" / DAYS[0] / "import-label-studio-export.jsonl").write_text("")  # a failed import
    with home_env(home):
        outcome = run_build([DAYS[0]])
    assert not outcome.success
    assert any("gate_published_rows" in b and "nothing would be published" in b for b in outcome.blocked)
    assert not (home / "datasets" / "preference_pairs" / "LATEST").exists()


def test_a_one_pair_day_of_old_events_builds_today(tmp_path, capsys):
    """An export of old annotations dropped into today's folder: one pair, its chosen side the
    longer one. Not blocked by the length gates (one pair is no evidence), nor by lateness."""
    from pipeline.cli.main import main

    today = date.today().isoformat()
    home = tmp_path / "today"
    (home / "landing" / today).mkdir(parents=True)
    event = {"event_id": "ls-task-1-annotation-7", "event_type": "pairwise", "created_at": "2023-04-17T09:12:00Z",
             "source": "import:label-studio", "user_id": "annotator-1", "consent_training": True,
             "prompt": {"messages": [{"role": "user", "content": "How do I repot a cactus without getting hurt?"}]},
             "responses": [{"response_id": "a", "content": "Wear thick gloves, wrap the cactus in folded newspaper, "
                            "loosen the soil and lift it by the wrap into the new pot.", "model": "m"},
                           {"response_id": "b", "content": "Use gloves.", "model": "m"}],
             "label": {"preferred": "a"}}
    (home / "landing" / today / "export.jsonl").write_text(json.dumps(event) + "\n")
    with home_env(home):
        assert main(["build", "--date", today]) == 0, capsys.readouterr().err[-3000:]
        bad = main(["build", "--date", "2031-01-01"])
    assert bad == 2 and "no landing folder for 2031-01-01" in capsys.readouterr().err
    latest, _ = published(home)
    folder = home / "datasets" / "preference_pairs" / latest
    rows = pq.read_table(folder / "train.parquet").num_rows + pq.read_table(folder / "test.parquet").num_rows
    assert rows == 1
    checks = json.loads((folder / "manifest.json").read_text())["checks"]
    assert "too few rows to block" in checks["gate_chosen_longer_share"]["summary"]
