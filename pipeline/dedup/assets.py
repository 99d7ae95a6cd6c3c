"""Dedup, Python side: the near-duplicate cluster of every canonical prompt."""

from __future__ import annotations

from dagster import AssetExecutionContext, AssetKey, DataVersion, MaterializeResult, asset

from pipeline import warehouse
from pipeline.lib.clusters import assign_clusters
from pipeline.metadata import fingerprint
from pipeline.transforms.assets import WAREHOUSE_POOL


@asset(
    group_name="dedup",
    deps=[AssetKey("normalized_events")],
    pool=WAREHOUSE_POOL,
    code_version="clusters-v1",
    description=(
        "Groups canonical prompts into near-duplicate clusters over the whole window. The "
        "cluster decides the train/test split (a cluster never straddles both) and the "
        "per-cluster cap on pairs."
    ),
)
def prompt_clusters(context: AssetExecutionContext) -> MaterializeResult:
    with warehouse.connect() as con:
        stats = assign_clusters(con)
        version = fingerprint(con, "select prompt_hash || cluster_id from prompt_clusters")
    return MaterializeResult(data_version=DataVersion(version), metadata=stats)
