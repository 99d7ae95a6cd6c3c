"""prefline's Dagster code location."""

from dagster import Definitions, in_process_executor, load_asset_checks_from_modules, load_assets_from_modules

from pipeline.capture import assets as capture_assets
from pipeline.capture import checks as capture_checks
from pipeline.config import load_config
from pipeline.dedup import assets as dedup_assets
from pipeline.dedup import checks as dedup_checks
from pipeline.final import assets as final_assets
from pipeline.final import checks as final_checks
from pipeline.judging import assets as judging_assets
from pipeline.judging import checks as judging_checks
from pipeline.judging.resources import JudgeResource
from pipeline.normalization import assets as normalization_assets
from pipeline.normalization import checks as normalization_checks
from pipeline.schedules import build_job, new_landing_day, nightly_build
from pipeline.transforms import assets as transform_assets
from pipeline.transforms import checks as transform_checks

defs = Definitions(
    assets=load_assets_from_modules(
        [capture_assets, transform_assets, normalization_assets, dedup_assets, judging_assets, final_assets]
    ),
    asset_checks=load_asset_checks_from_modules(
        [capture_checks, transform_checks, normalization_checks, dedup_checks, judging_checks, final_checks]
    ),
    jobs=[build_job],
    # One machine, one DuckDB writer: steps run in the run's own process, in graph order.
    executor=in_process_executor,
    schedules=[nightly_build],
    sensors=[new_landing_day],
    resources={
        "dbt": transform_assets.dbt_resource(),
        "judge": JudgeResource.from_config(load_config()),
    },
)
