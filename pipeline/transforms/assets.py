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
from pipeline.partitions import daily_partitions
from pipeline.transforms.project import dbt_project
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
    window = context.partition_time_window if partitioned else None
    args = ["build", "--vars", json.dumps(dbt_vars(config, window), sort_keys=True)]
    yield from dbt.cli(args, context=context).stream()


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
