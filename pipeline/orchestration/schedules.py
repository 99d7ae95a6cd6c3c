"""The nightly build: yesterday's landing day, then the window build. The cron and time zone
come from prefline.yaml when Dagster loads the code location."""

from datetime import timedelta
from typing import Any

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason

from pipeline.core import paths
from pipeline.core.partitions import register_days
from pipeline.orchestration.jobs import build_job


def nightly_build(context: ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    if not (paths.landing_dir() / day).is_dir():
        return SkipReason(f"no landing folder for {day} under {paths.landing_dir()}")
    # A schedule cannot return partition requests, so the day is registered here.
    register_days(context.instance, [day])
    return RunRequest(run_key=day, partition_key=day)


def nightly_schedule(config: dict[str, Any]) -> ScheduleDefinition:
    settings = config["partitions"]
    return ScheduleDefinition(
        name="nightly_build",
        job=build_job,
        cron_schedule=settings["schedule_cron"],
        execution_timezone=settings.get("timezone", "UTC"),
        execution_fn=nightly_build,
        description=(
            "Nightly: builds yesterday's landing day and publishes a new version if every gate passes; "
            "skips a night with no landing folder for yesterday."
        ),
    )
