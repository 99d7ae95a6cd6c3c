"""The dbt models as Dagster assets, one invocation per stretch of SQL between Python stages:
daily staging + filtering, then the window's dedup + pair construction, then labeling,
upsampling and the candidate marts."""


import json
import os
import sys
from pathlib import Path

from dagster import AssetExecutionContext, BackfillPolicy
from dagster_dbt import DbtCliResource, dbt_assets

from pipeline import paths
from pipeline.config import load_config
from pipeline.partitions import daily_partitions, window_bounds
from pipeline.transforms.project import dbt_project
from pipeline.transforms.runner import dbt_build
from pipeline.transforms.translator import StageTranslator
from pipeline.transforms.vars import dbt_vars

WAREHOUSE_POOL = "warehouse"


def dbt_resource() -> DbtCliResource:
    # The venv's own dbt, so a non-activated virtualenv works.
    return DbtCliResource(
        project_dir=dbt_project,
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
    )


def _build(context: AssetExecutionContext, dbt: DbtCliResource, partitioned: bool):
    config = load_config()
    os.environ["PREFLINE_HOME"] = str(paths.home())
    os.environ["PREFLINE_DUCKDB_MEMORY_LIMIT"] = str(config["warehouse"]["memory_limit"])
    os.environ["PREFLINE_DUCKDB_THREADS"] = str(config["warehouse"]["threads"])
    if partitioned:
        bounds = window_bounds(context)
    else:
        # The window models ignore the partition window, but handing them the same vars as the
        # run's daily models lets dbt reuse its parse instead of re-parsing the whole project.
        tags = context.run.tags
        start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
        end = tags.get("dagster/asset_partition_range_end") or start
        bounds = (start, end) if start else None
    args = ["build", "--vars", json.dumps(dbt_vars(config, bounds), sort_keys=True)]
    yield from dbt_build(context, dbt, args, StageTranslator())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:daily",
    name="daily_models",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=StageTranslator(),
    pool=WAREHOUSE_POOL,
)
def daily_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt, partitioned=True)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:window_pairs",
    name="window_pair_models",
    dagster_dbt_translator=StageTranslator(),
    pool=WAREHOUSE_POOL,
)
def window_pair_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt, partitioned=False)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:window_final",
    name="window_final_models",
    dagster_dbt_translator=StageTranslator(),
    pool=WAREHOUSE_POOL,
)
def window_final_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt, partitioned=False)
