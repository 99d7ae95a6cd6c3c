"""A sensor that adds each new landing day as a partition and starts its build."""

from dagster import AddDynamicPartitionsRequest, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from pipeline.core import paths
from pipeline.core.partitions import LANDING_DAYS, landing_days
from pipeline.orchestration.jobs import build_job


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
