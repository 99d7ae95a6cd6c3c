"""Dedup, Python side: the near-duplicate cluster of every canonical prompt, and the prompts
that overlap an eval-set benchmark prompt."""


from dagster import AssetExecutionContext, AssetKey, AssetSpec, DataVersion, MaterializeResult, multi_asset

from pipeline import warehouse
from pipeline.config import load_config
from pipeline.lib.clusters import assign_clusters
from pipeline.metadata import fingerprint
from pipeline.transforms.assets import WAREHOUSE_POOL


@multi_asset(
    name="prompt_dedup",
    group_name="dedup",
    pool=WAREHOUSE_POOL,
    code_version="clusters-minhash-v1",
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
    with warehouse.connect() as con:
        stats = assign_clusters(con, load_config().get("dedup"))
        clusters = fingerprint(con, "select prompt_hash || cluster_id from prompt_clusters")
        contamination = fingerprint(con, "select prompt_hash || benchmark || item_id from prompt_contamination")
    yield MaterializeResult(asset_key="prompt_clusters", data_version=DataVersion(clusters),
                            metadata={k: v for k, v in stats.items() if not k.startswith("contaminat")})
    yield MaterializeResult(asset_key="prompt_contamination", data_version=DataVersion(contamination),
                            metadata={k: v for k, v in stats.items() if k.startswith("contaminat")})
