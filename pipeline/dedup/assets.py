"""Dedup, Python side: the near-duplicate cluster of every canonical prompt, and the prompts
that overlap an eval-set benchmark prompt."""


from dagster import AssetExecutionContext, AssetKey, AssetSpec, DataVersion, MaterializeResult, MetadataValue, multi_asset

from pipeline.core import paths, warehouse
from pipeline.core.config import load_config
from pipeline.core.data_versions import fingerprint
from pipeline.core.warehouse import WAREHOUSE_POOL
from pipeline.dedup.clusters import assign_clusters
from pipeline.dedup.decontam import detect_contamination


@multi_asset(
    name="prompt_dedup",
    group_name="dedup",
    pool=WAREHOUSE_POOL,
    code_version="clusters-minhash-v1+decontam-13gram-v1",
    specs=[
        AssetSpec(
            "prompt_clusters",
            deps=[AssetKey("normalized_events")],
            description=(
                "Groups canonical prompts into near-duplicate clusters over the whole window. The "
                "cluster decides the train/test split (a cluster never straddles both) and the "
                "per-cluster cap on pairs."
            ),
        ),
        AssetSpec(
            "prompt_contamination",
            deps=[AssetKey("normalized_events")],
            description=(
                "Canonical prompts that overlap a benchmark prompt from $PREFLINE_HOME/evalsets, "
                "with the benchmark and the matched text; their events are dropped as eval_contamination."
            ),
        ),
    ],
)
def prompt_dedup(context: AssetExecutionContext):
    config = load_config()
    with warehouse.connect() as con:
        clusters = assign_clusters(con, config.get("dedup"))
        contamination = detect_contamination(con, paths.evalsets_dir(), config.get("decontamination"))
        clusters_version = fingerprint(con, "select prompt_hash || cluster_id from prompt_clusters")
        contamination_version = fingerprint(con, "select prompt_hash || benchmark || item_id from prompt_contamination")
    per_benchmark = contamination.pop("per_benchmark")
    table = "\n".join(["| benchmark | prompts |", "|---|---:|"] + [f"| {b} | {n} |" for b, n in per_benchmark.items()])
    yield MaterializeResult(asset_key="prompt_clusters", data_version=DataVersion(clusters_version), metadata=clusters)
    yield MaterializeResult(asset_key="prompt_contamination", data_version=DataVersion(contamination_version),
                            metadata={**contamination, "by_benchmark": MetadataValue.md(table)})
