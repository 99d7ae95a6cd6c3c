"""When dbt runs: once per stretch of SQL between Python stages, because each dbt invocation
costs a fixed half second or more. A stage's models live in its dbt folder
(models/<layer>/<stage>/) and show in Dagster under that stage's group; the three steps
below only say which stage folders run together:

    daily_models          staging of capture's tables, filtering            (daily partitions)
    window_pair_models    staging of normalization's and dedup's tables, dedup, pair construction
    window_final_models   staging of the judge's and the token counts' tables, judge labeling, upsampling,
                          the final preference set's marts

The asset definitions are built when Dagster loads the code location (they need dbt's
manifest), not when this module is imported."""


import json
import sys
from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy
from dagster_dbt import DbtCliResource, dbt_assets

from pipeline.core.config import load_config
from pipeline.core.dbt_project import dbt_project
from pipeline.core.dbt_run import dbt_build
from pipeline.core.dbt_translator import StageTranslator
from pipeline.core.dbt_vars import dbt_vars
from pipeline.core.partitions import daily_partitions, window_bounds
from pipeline.core.warehouse import WAREHOUSE_POOL

STEPS = {
    "daily_models": ("staging/capture", "intermediate/filtering"),
    "window_pair_models": ("staging/template_normalization", "staging/dedup", "intermediate/dedup",
                           "intermediate/pair_construction"),
    "window_final_models": ("staging/pair_construction", "staging/judge_labeling",
                            "intermediate/judge_labeling", "intermediate/upsampling",
                            "marts/final_preference_set"),
}
PARTITIONED = {"daily_models"}


def dbt_resource() -> DbtCliResource:
    # The venv's own dbt, so a non-activated virtualenv works.
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt"))


def _run(context: AssetExecutionContext, dbt: DbtCliResource, partitioned: bool):
    config = load_config()
    if partitioned:
        bounds = window_bounds(context)
    else:
        # The window models ignore the partition window, but handing them the same vars as the
        # run's daily models lets dbt reuse its parse instead of re-parsing the whole project.
        tags = context.run.tags
        start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
        end = tags.get("dagster/asset_partition_range_end") or start
        bounds = (start, end) if start else None
    # Unit tests check the SQL, not the data: `make test` runs them, builds do not.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(dbt_vars(config, bounds), sort_keys=True)]
    yield from dbt_build(context, dbt, args, StageTranslator(), config)


def _step(name: str, folders: tuple[str, ...]) -> AssetsDefinition:
    partitioned = name in PARTITIONED

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        select=" ".join(f"fqn:prefline.{folder.replace('/', '.')}" for folder in folders),
        name=name,
        partitions_def=daily_partitions if partitioned else None,
        backfill_policy=BackfillPolicy.single_run() if partitioned else None,
        dagster_dbt_translator=StageTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def _models(context: AssetExecutionContext, dbt: DbtCliResource):
        yield from _run(context, dbt, partitioned)

    return _models


def dbt_model_steps() -> list[AssetsDefinition]:
    return [_step(name, folders) for name, folders in STEPS.items()]
