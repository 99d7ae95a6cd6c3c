"""Blocking checks on the candidate preference set, run before anything is published."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from pipeline.core import paths, warehouse
from pipeline.core.checks import gate_result, suite_result, warehouse_frames, warehouse_suite
from pipeline.core.config import load_config
from pipeline.final_preference_set.assets import preference_set_candidate
from pipeline.final_preference_set.candidate_files import trl_suite
from pipeline.final_preference_set.evidence import repository_asset_graph, upstream_evidence
from pipeline.final_preference_set.gates import GATE_NAMES, compute_gates
from pipeline.final_preference_set.gates_annotators import ANNOTATOR_GATE_DESCRIPTIONS
from pipeline.final_preference_set.gates_trust import TRUST_GATE_DESCRIPTIONS
from pipeline.final_preference_set.publish import Candidate, current_candidate, latest_version, read_manifest


def audited(result: AssetCheckResult, candidate: Candidate) -> AssetCheckResult:
    """The result with the version it audited: publishing takes it as evidence for that
    candidate only."""
    return AssetCheckResult(
        passed=result.passed,
        asset_key=result.asset_key,
        check_name=result.check_name,
        severity=result.severity,
        description=result.description,
        metadata={**result.metadata, "audited_version": candidate.version_id},
    )


@asset_check(
    asset=preference_set_candidate,
    blocking=True,
    description=(
        "GX suite final_preference_set/expectations/preference_set_candidate.json on every train and test row: TRL "
        "conversational format, chosen != rejected, positive weights, train/test only, every row "
        "with source events and a label source."
    ),
)
def candidate_suite(context: AssetCheckExecutionContext) -> AssetCheckResult:
    candidate = current_candidate(paths.staging_dir())
    return audited(suite_result(trl_suite(candidate.path, frames=warehouse_frames)), candidate)


@asset_check(
    asset=preference_set_candidate,
    blocking=True,
    description=(
        "Conservation: every captured landing record ends in exactly one place — quarantine, a "
        "rejected row with its reason, or the lineage of a published row — per partition."
    ),
)
def conservation(context: AssetCheckExecutionContext) -> AssetCheckResult:
    candidate = current_candidate(paths.staging_dir())
    lineage, rejected = str(candidate.path / "lineage.parquet"), str(candidate.path / "rejected.parquet")
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            f"""
            with captured as (
                select record_id, partition_date from raw_feedback_events
                union all select record_id, partition_date from raw_quarantine
            ),
            published as (select distinct record_id from read_parquet('{lineage}')),
            dropped as (select record_id from read_parquet('{rejected}')),
            placed as (
                select record_id, count(*) as n from (
                    select record_id from published union all select record_id from dropped
                ) group by record_id
            )
            select c.partition_date,
                   count(*) as captured,
                   count(*) filter (where p.record_id is null) as in_no_place,
                   count(*) filter (where p.n > 1) as in_two_places
            from captured c left join placed p on p.record_id = c.record_id
            group by 1 order by 1
            """
        ).fetchall()
        unknown = con.execute(
            f"""
            select count(*) from (
                select record_id from read_parquet('{lineage}')
                union select record_id from read_parquet('{rejected}')
            ) x where record_id not in (
                select record_id from raw_feedback_events union all select record_id from raw_quarantine
            )
            """
        ).fetchone()[0]
    per_partition = {
        str(day): {"captured": c, "in_no_place": lost, "in_two_places": dup} for day, c, lost, dup in rows
    }
    lost = sum(v["in_no_place"] for v in per_partition.values())
    doubled = sum(v["in_two_places"] for v in per_partition.values())
    captured = sum(v["captured"] for v in per_partition.values())
    passed = lost == 0 and doubled == 0 and unknown == 0
    summary = (
        f"conservation: {captured} captured records; {lost} in no place, {doubled} in two places, "
        f"{unknown} published or dropped rows with no captured record" + ("" if passed else " — BLOCKED")
    )
    return audited(AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=summary,
        metadata={
            "captured": captured,
            "in_no_place": lost,
            "in_two_places": doubled,
            "unknown_records": int(unknown),
            "summary": summary,
            "per_partition": MetadataValue.json(per_partition),
        },
    ), candidate)



@asset_check(
    asset=preference_set_candidate,
    blocking=True,
    description=(
        "Privacy: no published pair or KTO row is built from an event without consent_training: true "
        "or from a user with a deletion request."
    ),
)
def consent_and_deletions(context: AssetCheckExecutionContext) -> AssetCheckResult:
    candidate = current_candidate(paths.staging_dir())
    lineage = str(candidate.path / "lineage.parquet")
    with warehouse.connect(read_only=True) as con:
        no_consent, deleted = con.execute(
            f"""
            select count(*) filter (where e.consent_training is distinct from true),
                   count(*) filter (where e.user_id in (select user_id from deletion_requests))
            from read_parquet('{lineage}') l join raw_feedback_events e on e.record_id = l.record_id
            """
        ).fetchone()
    passed = no_consent == 0 and deleted == 0
    summary = (f"consent_and_deletions: {no_consent} published lineage rows without consent, {deleted} from "
               f"deleted users" + ("" if passed else " — BLOCKED"))
    return audited(AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=summary,
        metadata={"without_consent": int(no_consent), "from_deleted_users": int(deleted), "summary": summary},
    ), candidate)


GATE_DESCRIPTIONS = {
    "published_rows": "The candidate publishes at least one pair or KTO row: nothing empty is ever published.",
    "day_survival_share": "Every day: share of captured records that reach a published row (a consent or filter collapse).",
    "day_survival_vs_trailing": "Every day's survival share vs the median day: a bad day is not diluted by the window.",
    "day_duplicate_rate": "Every day: redelivered, exact and near duplicates as a share of captured records.",
    "unknown_template_share": "Every day: share of prompts in no known chat template.",
    "row_count_drop": "Published rows may not collapse vs the LATEST version.",
    "label_source_shift": "Label-source mix vs the LATEST version (total variation distance).",
    "category_shift": "Category mix vs the LATEST version (total variation distance).",
    "ai_label_share": "Share of pairs labeled by an AI judge or AI annotator stays under its cap.",
    "chosen_longer_share": "Length bias: share of pairs whose chosen response is the longer one.",
    "length_ratio": "Length bias: geometric mean of len(chosen) / len(rejected) (robust to a few extreme pairs).",
    "eval_overlap_share": "Share of events dropped as eval-set contamination (a benchmark-prompt flood).",
    "train_test_leakage": "No near-duplicate cluster has rows in both train and test.",
    "judge_position_consistency": "When AI labels are used: share of judged pairs with the same verdict in both orders.",
    "judge_human_agreement": "When AI labels are used: judge agreement with human labels on held-out human pairs.",
    **ANNOTATOR_GATE_DESCRIPTIONS,
    **TRUST_GATE_DESCRIPTIONS,
}


@multi_asset_check(
    specs=[
        AssetCheckSpec(f"gate_{name}", asset=preference_set_candidate, blocking=True, description=GATE_DESCRIPTIONS[name])
        for name in GATE_NAMES
    ],
)
def distribution_gates(context: AssetCheckExecutionContext):
    candidate = current_candidate(paths.staging_dir())
    thresholds = load_config()["gates"]
    latest = latest_version(paths.datasets_dir())
    previous = read_manifest(paths.datasets_dir(), latest) if latest else None
    with warehouse.connect(read_only=True) as con:
        results = compute_gates(con, thresholds, previous)
    for gate in results:
        yield audited(gate_result(gate, check_name=f"gate_{gate.name}", asset_key=preference_set_candidate.key),
                      candidate)


@asset_check(
    asset=preference_set_candidate,
    blocking=True,
    description=(
        "Every blocking check upstream passed on the data in this candidate: the latest "
        "materialization of each window asset and of each daily asset's days. A run that selects "
        "the candidate alone cannot walk around a gate that failed in an earlier run."
    ),
)
def upstream_checks(context: AssetCheckExecutionContext) -> AssetCheckResult:
    candidate = current_candidate(paths.staging_dir())
    with warehouse.connect(read_only=True) as con:
        days = [str(r[0]) for r in con.execute(
            "select distinct cast(partition_date as varchar) from fct_event_outcomes order by 1").fetchall()]
    evidence = upstream_evidence(context.instance, repository_asset_graph(), preference_set_candidate.key,
                                 days)
    passed = not evidence.problems
    summary = (f"upstream_checks: {evidence.checked} blocking check evaluations over {len(days)} days; "
               + ("all passed" if passed else f"{len(evidence.problems)} without a passing evaluation — BLOCKED: "
                  + "; ".join(evidence.problems[:5]) + (" ..." if len(evidence.problems) > 5 else "")))
    return audited(AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=summary,
        metadata={"checked": evidence.checked, "days": len(days), "summary": summary,
                  "problems": MetadataValue.json(evidence.problems)},
    ), candidate)


# The marts' own suites, beside the dbt tests.
pairs_suite = warehouse_suite(
    "fct_preference_pairs",
    "select row_id, weight, split, chosen_hash <> rejected_hash as chosen_differs from fct_preference_pairs",
)

sources_suite = warehouse_suite(
    "fct_preference_pair_sources", "select pair_id, record_id, event_id from fct_preference_pair_sources"
)

kto_suite = warehouse_suite(
    "fct_kto_rows", "select kto_id, desirable, length(completion) as completion_chars from fct_kto_rows"
)

ledger_suite = warehouse_suite("fct_event_outcomes", "select record_id, place, n_places from fct_event_outcomes")
