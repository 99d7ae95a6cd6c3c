"""Judge labeling: pairs nobody labeled get a judge verdict, judged in both orders; human
pairs of the test split are judged blind to measure agreement and flag suspect labels."""


from dagster import AssetExecutionContext, AssetKey, DataVersion, MaterializeResult, MetadataValue, asset

from pipeline.core import warehouse
from pipeline.core.config import load_config
from pipeline.core.data_versions import fingerprint
from pipeline.core.warehouse import WAREHOUSE_POOL
from pipeline.judge_labeling.labeling import label_pairs
from pipeline.judge_labeling.resources import JudgeResource


@asset(
    group_name="judge_labeling",
    deps=[AssetKey("int_pairs__candidates")],
    pool=WAREHOUSE_POOL,
    code_version="judge-v2",
    description=(
        "Labels pairs that have no human preference with the Judge resource. Every pair is "
        "judged in both orders and only consistent verdicts are used; verdicts are cached by "
        "content hash. Human test-split pairs are judged blind to measure judge–human "
        "agreement, length and position bias, and to flag suspect human labels."
    ),
)
def judge_verdicts(context: AssetExecutionContext, judge: JudgeResource) -> MaterializeResult:
    config = load_config()
    with warehouse.connect() as con:
        metrics = label_pairs(
            con,
            judge,
            accuracy_floor=float(config["judge"]["accuracy_floor"]),
            max_train_pairs=int(config["judge"]["max_train_pairs"]),
            max_audit_pairs=int(config["judge"]["max_audit_pairs"]),
            refit_every_days=int(config["judge"].get("refit_every_days", 0)),
            established_min_train_pairs=int(config["judge"].get("established_min_train_pairs", 0)),
        )
        version = fingerprint(con, "select pair_id || coalesce(winner, '-') || coalesce(reason, '') from judge_verdicts")
    for line in metrics.get("notes", []):
        context.log.warning(line)
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={**numeric, "judge_id": str(metrics.get("judge_id")), "notes": MetadataValue.md("\n".join(
            f"- {n}" for n in metrics.get("notes", [])) or "_none_")},
    )
