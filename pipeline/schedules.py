"""The nightly build: yesterday's partition of the daily stages, then the window build."""


from dagster import AssetSelection, RunRequest, ScheduleEvaluationContext, define_asset_job, schedule

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
    day = daily_partitions.get_last_partition_key(current_time=context.scheduled_execution_time)
    return RunRequest(run_key=day, partition_key=day)
