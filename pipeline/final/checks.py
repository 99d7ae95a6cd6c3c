"""Blocking checks on the candidate preference set, run before anything is published."""


import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from pipeline import paths, warehouse
from pipeline.checks_common import suite_check, warehouse_frames
from pipeline.final.assets import preference_set_candidate
from pipeline.config import load_config
from pipeline.lib.gates import GATE_NAMES, compute_gates
from pipeline.lib.publish import current_candidate, latest_version, read_manifest

# Per-row facts the GX suite asserts: TRL's conversational preference rules and provenance.
CANDIDATE_FRAME_SQL = """
select
    pair_id, replica_index, split, label_source, weight,
    len(source_event_ids) as n_source_events,
    prompt[len(prompt)].role as prompt_last_role,
    list_bool_and(list_transform(prompt, lambda m: m.role in ('system', 'user', 'assistant'))) as prompt_roles_valid,
    list_bool_and(list_transform(prompt || chosen || rejected, lambda m: coalesce(length(trim(m.content)), 0) > 0))
        as contents_non_empty,
    chosen[1].content is distinct from rejected[1].content as chosen_differs,
    case when len(chosen) = 1 and len(rejected) = 1
              and chosen[1].role = 'assistant' and rejected[1].role = 'assistant'
         then 'assistant' else 'not a single assistant message' end as completion_roles,
    label_source <> 'ai_judge' or judge_id is not null as ai_label_has_judge
from read_parquet(?)
"""


@asset_check(
    asset=preference_set_candidate,
    blocking=True,
    description=(
        "GX suite expectations/preference_set_candidate.json on every train and test row: TRL "
        "conversational format, chosen != rejected, positive weights, train/test only, every row "
        "with source events and a label source."
    ),
)
def candidate_suite(context: AssetCheckExecutionContext) -> AssetCheckResult:
    candidate = current_candidate(paths.staging_dir())
    files = [str(candidate.path / "train.parquet"), str(candidate.path / "test.parquet")]
    con = duckdb.connect()
    try:
        return suite_check("preference_set_candidate",
                           warehouse_frames(con, CANDIDATE_FRAME_SQL, [files], "preference_set_candidate"))
    finally:
        con.close()


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
    return AssetCheckResult(
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
    )



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
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=summary,
        metadata={"without_consent": int(no_consent), "from_deleted_users": int(deleted), "summary": summary},
    )


GATE_DESCRIPTIONS = {
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
}


@multi_asset_check(
    specs=[
        AssetCheckSpec(f"gate_{name}", asset=preference_set_candidate, blocking=True, description=GATE_DESCRIPTIONS[name])
        for name in GATE_NAMES
    ],
)
def distribution_gates(context: AssetCheckExecutionContext):
    thresholds = load_config()["gates"]
    latest = latest_version(paths.datasets_dir())
    previous = read_manifest(paths.datasets_dir(), latest) if latest else None
    with warehouse.connect(read_only=True) as con:
        results = compute_gates(con, thresholds, previous)
    for gate in results:
        yield AssetCheckResult(
            check_name=f"gate_{gate.name}",
            asset_key=preference_set_candidate.key,
            passed=gate.passed,
            severity=AssetCheckSeverity.ERROR,
            description=gate.summary(),
            metadata={
                "observed": float(gate.observed),
                "threshold": float(gate.threshold),
                "previous": float(gate.previous) if gate.previous is not None else None,
                "summary": gate.summary(),
                "accepted_reason": gate.accepted,
                **({"per_day": MetadataValue.json(gate.extra["per_day"])} if "per_day" in gate.extra else {}),
            },
        )


CANDIDATE_CHECKS = [candidate_suite, conservation, consent_and_deletions, distribution_gates]
