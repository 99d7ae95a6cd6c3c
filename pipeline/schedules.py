"""The nightly build (yesterday's partition of the daily stages, then the window build) and
a sensor that starts a build when a new day's landing folder appears."""

from datetime import date, timedelta


from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from pipeline import paths

from pipeline.config import definition_settings
from pipeline.partitions import daily_partitions

build_job = define_asset_job(
    name="build",
    selection=AssetSelection.all(),
    partitions_def=daily_partitions,
    description=(
        "One day's capture, staging, filtering and normalization, then the window build: dedup, "
        "pairs, judge labels, upsampling and the audited preference set."
    ),
)


@schedule(
    job=build_job,
    cron_schedule=definition_settings()["schedule_cron"],
    execution_timezone=definition_settings().get("timezone", "UTC"),
    description="Nightly: builds yesterday's partition and publishes a new version if every gate passes.",
)
def nightly_build(context: ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return RunRequest(run_key=day, partition_key=day)


@sensor(
    job=build_job,
    minimum_interval_seconds=60,
    description=(
        "Starts a build when a new day's folder appears under $PREFLINE_HOME/landing (and keeps "
        "quiet for days it has already requested)."
    ),
)
def new_landing_day(context: SensorEvaluationContext):
    known = set(filter(None, (context.cursor or "").split(",")))
    root = paths.landing_dir()
    days = sorted(p.name for p in root.iterdir() if p.is_dir() and _is_day(p.name)) if root.exists() else []
    fresh = [d for d in days if d not in known]
    if not fresh:
        return SkipReason(f"no new day under {root}")
    context.update_cursor(",".join(sorted(known | set(fresh))))
    return [RunRequest(run_key=f"landing-{day}", partition_key=day) for day in fresh]


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True
