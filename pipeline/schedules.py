"""The nightly build (yesterday's partition of the daily stages, then the window build) and
a sensor that starts a build when a new day's landing folder appears. Both add the landing
day as a partition first."""

from datetime import timedelta

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from pipeline import paths
from pipeline.config import definition_settings
from pipeline.partitions import LANDING_DAYS, landing_days, register_days

build_job = define_asset_job(
    name="build",
    selection=AssetSelection.all(),
    description=(
        "One day's capture, staging, filtering and normalization, then the window build: dedup, "
        "pairs, judge labels, upsampling and the audited preference set."
    ),
)


@schedule(
    job=build_job,
    cron_schedule=definition_settings()["schedule_cron"],
    execution_timezone=definition_settings().get("timezone", "UTC"),
    description=(
        "Nightly: builds yesterday's landing day and publishes a new version if every gate passes; "
        "skips a night with no landing folder for yesterday."
    ),
)
def nightly_build(context: ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    if not (paths.landing_dir() / day).is_dir():
        return SkipReason(f"no landing folder for {day} under {paths.landing_dir()}")
    # A schedule cannot return partition requests, so the day is registered here.
    register_days(context.instance, [day])
    return RunRequest(run_key=day, partition_key=day)


@sensor(
    job=build_job,
    minimum_interval_seconds=60,
    description=(
        "Adds each new day folder under $PREFLINE_HOME/landing as a partition and starts its build "
        "(and keeps quiet for days it has already requested)."
    ),
)
def new_landing_day(context: SensorEvaluationContext):
    known = set(filter(None, (context.cursor or "").split(",")))
    root = paths.landing_dir()
    fresh = [d for d in landing_days(root) if d not in known]
    if not fresh:
        return SkipReason(f"no new day under {root}")
    context.update_cursor(",".join(sorted(known | set(fresh))))
    return SensorResult(
        run_requests=[RunRequest(run_key=f"landing-{day}", partition_key=day) for day in fresh],
        dynamic_partitions_requests=[AddDynamicPartitionsRequest(LANDING_DAYS, fresh)],
    )
