"""Orchestration: the build job, the nightly schedule, the landing-day sensor, and the three
dbt steps that run the stages' SQL."""

from dagster import Definitions, in_process_executor

from pipeline.core.config import load_config


def defs() -> Definitions:
    from pipeline.orchestration.dbt_models import dbt_model_steps, dbt_resource
    from pipeline.orchestration.jobs import build_job
    from pipeline.orchestration.schedules import nightly_schedule
    from pipeline.orchestration.sensors import new_landing_day

    return Definitions(
        assets=dbt_model_steps(),
        jobs=[build_job],
        schedules=[nightly_schedule(load_config())],
        sensors=[new_landing_day],
        # One machine, one DuckDB writer: steps run in the run's own process, in graph order.
        executor=in_process_executor,
        resources={"dbt": dbt_resource()},
    )
