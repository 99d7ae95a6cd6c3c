"""Runs the build job through Dagster for the CLI: same job, same instance and run history
as the schedule and the UI."""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core import paths


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to $PREFLINE_HOME/dagster, created with prefline's dagster.yaml."""
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(paths.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def ensure_dbt_manifest() -> None:
    """Parse the dbt project when its manifest is missing (a fresh clone outside `make`)."""
    from pipeline.core.dbt_project import dbt_project

    if not dbt_project.manifest_path.exists():
        import subprocess
        import sys

        subprocess.run(
            [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet",
             "--project-dir", str(paths.DBT_PROJECT_DIR), "--profiles-dir", str(paths.DBT_PROJECT_DIR)],
            check=True,
        )


def known_days() -> list[str]:
    """The landing days Dagster knows as partitions in this deployment."""
    from dagster import DagsterInstance

    from pipeline.core.partitions import LANDING_DAYS

    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        return list(instance.get_dynamic_partitions(LANDING_DAYS))


class BuildLocked(RuntimeError):
    """Another build holds this PREFLINE_HOME."""


@contextmanager
def build_lock():
    """One build per PREFLINE_HOME at a time: DuckDB takes a single writer, and two builds
    publishing at once would race for LATEST. A second build fails at once with who holds it."""
    path = paths.home() / ".build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise BuildLocked(
                f"another prefline build is running in {paths.home()} (pid {holder}); "
                "try again when it finishes"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class BuildOutcome:
    success: bool
    run_ids: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # "asset:check — description"
    failed_steps: list[str] = field(default_factory=list)
    version_id: str | None = None


def daily_selection():
    from dagster import AssetKey

    from pipeline.definitions import load_defs

    graph = load_defs().resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None]
    return keys + [AssetKey("deletion_requests")]


def release_interrupted_runs(instance) -> list[str]:
    """Runs this CLI started whose process is gone (killed mid-build) still hold the
    warehouse pool slot and would block every later build. Under the build lock no other CLI
    build is alive, so each such run is marked failed and its slot freed."""
    from dagster import DagsterRunStatus, RunsFilter

    stale = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED],
            tags={"prefline/trigger": "cli"},
        )
    )
    for run in stale:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        instance.report_run_failed(run, message="interrupted: the build process ended mid-run; freed its warehouse slot")
    return [run.run_id for run in stale]


def consecutive_ranges(days: list[str], key_order: list[str] | None = None) -> list[tuple[str, str]]:
    """Group sorted days into runs of consecutive days: each becomes one single-run backfill.
    With ``key_order`` (the partitions in the order Dagster lists them) a range also stays
    contiguous there, so a range run covers exactly its days."""
    from datetime import date, timedelta

    position = {key: i for i, key in enumerate(key_order or [])}
    ranges: list[tuple[str, str]] = []
    for day in sorted(set(days)):
        if ranges and date.fromisoformat(day) - date.fromisoformat(ranges[-1][1]) == timedelta(days=1) and (
            key_order is None or position.get(day) == position.get(ranges[-1][1], -2) + 1
        ):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def run_build(days: list[str]) -> BuildOutcome:
    """Materialize the daily stages for the given days — each stretch of consecutive days in
    one run — and, with the last stretch, the whole graph down to the published set. Stops at
    the first blocked run."""
    ensure_dagster_home()
    ensure_dbt_manifest()
    from dagster import DagsterInstance

    from pipeline.core.partitions import LANDING_DAYS, register_days
    from pipeline.definitions import load_defs

    job = load_defs().resolve_job_def("build")
    outcome = BuildOutcome(success=True)
    with build_lock(), DagsterInstance.get() as instance:
        release_interrupted_runs(instance)
        register_days(instance, days)
        ranges = consecutive_ranges(days, instance.get_dynamic_partitions(LANDING_DAYS))
        for i, (start, end) in enumerate(ranges):
            last = i == len(ranges) - 1
            tags = {"prefline/trigger": "cli"}
            if start != end:
                tags.update({"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end})
            result = job.execute_in_process(
                instance=instance,
                partition_key=start if start == end else None,
                asset_selection=None if last else daily_selection(),
                raise_on_error=False,
                tags=tags,
            )
            outcome.run_ids.append(result.run_id)
            for evaluation in result.get_asset_check_evaluations():
                if not evaluation.passed:
                    desc = evaluation.description or ""
                    outcome.blocked.append(
                        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} — {desc}".rstrip(" —")
                    )
            for event in result.all_events:
                if event.is_step_failure:
                    outcome.failed_steps.append(f"{event.step_key}: {event.event_specific_data.error.message.strip()}")
            if not result.success or outcome.blocked:
                outcome.success = False
                return outcome
            if last:
                for mat in result.asset_materializations_for_node("preference_set"):
                    outcome.version_id = str(mat.metadata["version_id"].value)
    if outcome.version_id is None:
        outcome.success = False
        outcome.failed_steps.append("preference_set was not materialized (a blocking check upstream failed)")
    return outcome
