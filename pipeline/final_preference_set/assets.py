"""Final preference set, write-audit-publish: the candidate is written aside and audited by
blocking checks; only then does `preference_set` make it a version and LATEST."""


from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.core import paths, warehouse
from pipeline.core.config import load_config
from pipeline.core.data_versions import counts_table
from pipeline.core.warehouse import WAREHOUSE_POOL
from pipeline.final_preference_set import gates_trust
from pipeline.final_preference_set import manifest as manifest_lib
from pipeline.final_preference_set.annotators import annotator_gate_summaries, annotator_reliability
from pipeline.final_preference_set.evidence import candidate_audit, repository_asset_graph
from pipeline.final_preference_set.export import export_tables
from pipeline.final_preference_set.publish import (
    current_candidate,
    file_digests,
    latest_version,
    publish,
    read_manifest,
    write_candidate,
)

CANDIDATE_DEPS = [
    AssetKey("fct_preference_pairs"),
    AssetKey("fct_preference_pair_sources"),
    AssetKey("fct_kto_rows"),
    AssetKey("fct_event_outcomes"),
]


def _upstream_versions(context: AssetExecutionContext) -> dict[str, str]:
    versions = {}
    for key in sorted(context.assets_def.dependency_keys, key=lambda k: k.to_user_string()):
        record = context.instance.get_latest_materialization_event(key)
        mat = record.asset_materialization if record else None
        tag = (mat.tags or {}).get("dagster/data_version") if mat else None
        versions[key.to_user_string()] = tag
    return versions


def _label_history(parent: str | None, depth: int = 9) -> list[tuple[str, dict]]:
    """(version, label-source mix) along the parent chain, oldest first."""
    chain = []
    while parent and len(chain) < depth:
        try:
            manifest = read_manifest(paths.datasets_dir(), parent)
        except FileNotFoundError:
            break
        chain.append((parent, manifest.get("stats", {}).get("label_source_mix", {})))
        parent = manifest.get("parent_version")
    return chain[::-1]


@asset(
    group_name="final_preference_set",
    deps=CANDIDATE_DEPS,
    pool=WAREHOUSE_POOL,
    code_version="candidate-v2-figures",
    description=(
        "Writes the candidate version folder (train/test/kto/lineage/rejected parquet, "
        "manifest.json, README.md dataset card) into $PREFLINE_HOME/datasets/_staging/<version>. "
        "Blocking checks audit it there before anything is published."
    ),
)
def preference_set_candidate(context: AssetExecutionContext) -> MaterializeResult:
    config = load_config()
    with warehouse.connect(read_only=True) as con:
        manifest = {
            "parent_version": latest_version(paths.datasets_dir()),
            "partitions": [
                str(r[0]) for r in con.execute(
                    "select distinct partition_date from fct_event_outcomes order by 1"
                ).fetchall()
            ],
            "upstream_data_versions": _upstream_versions(context),
            "code": {"git_commit": manifest_lib.git_commit(), "package": "prefline 0.1.0"},
            "ledger": manifest_lib.ledger_counts(con),
            "stats": manifest_lib.set_stats(con),
            "judge": manifest_lib.judge_metrics(con),
            "label_trust": {**manifest_lib.label_agreement(con),
                            "annotators": annotator_reliability(con),
                            "annotator_gates": annotator_gate_summaries(con, config["gates"])},
            "label_gates": gates_trust.trust_measures(con),
        }
        parent = (
            read_manifest(paths.datasets_dir(), manifest["parent_version"]) if manifest["parent_version"] else None
        )
        card = manifest_lib.render_card(manifest, parent)
        # The files stream from the open connection into Parquet, one file at a time.
        candidate = write_candidate(paths.staging_dir(), export_tables(con), config, manifest, card,
                                    label_history=_label_history(manifest["parent_version"]))
    stats = manifest["stats"]
    return MaterializeResult(
        data_version=DataVersion(candidate.version_id),
        metadata={
            "version_id": candidate.version_id,
            "path": MetadataValue.path(str(candidate.path)),
            # What the checks audit; publishing refuses the folder if any file changed after.
            "file_digests": MetadataValue.json(file_digests(candidate.path)),
            "train_pairs": stats["pairs"].get("train", 0),
            "test_pairs": stats["pairs"].get("test", 0),
            "kto_rows": sum(stats["kto"].values()),
            "label_source_mix": MetadataValue.md(counts_table(stats["label_source_mix"], "label source")),
            "event_places": MetadataValue.md(counts_table(manifest["ledger"]["places"], "place")),
        },
    )


@asset(
    group_name="final_preference_set",
    deps=[preference_set_candidate],
    pool=WAREHOUSE_POOL,
    code_version="publish-v1",
    description=(
        "Publishes the audited candidate: renames it into "
        "$PREFLINE_HOME/datasets/preference_pairs/<version> and points LATEST at it, only when the "
        "run history holds a passing evaluation of every blocking check on this very candidate "
        "(whichever way the run was launched) and its files are the ones those checks audited."
    ),
)
def preference_set(context: AssetExecutionContext) -> MaterializeResult:
    try:
        candidate = current_candidate(paths.staging_dir())
    except FileNotFoundError as exc:
        raise Failure(description=f"nothing to publish: {exc}") from None
    audit = candidate_audit(context.instance, repository_asset_graph(), candidate)
    if not audit.ok:
        raise Failure(
            description=audit.message(),
            metadata={"candidate": candidate.version_id, "problems": MetadataValue.json(audit.problems)},
            allow_retries=False,
        )
    target = publish(
        candidate,
        paths.datasets_dir(),
        audit.checks,
        run_id=context.run_id,
        published_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    context.log.info(f"published preference set {candidate.version_id} at {target}")
    return MaterializeResult(
        data_version=DataVersion(candidate.version_id),
        metadata={"version_id": candidate.version_id, "path": MetadataValue.path(str(target)),
                  "checks": MetadataValue.json(audit.checks)},
    )
