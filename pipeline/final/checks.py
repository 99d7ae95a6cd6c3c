"""Blocking checks on the candidate preference set, run before anything is published."""

from __future__ import annotations

import duckdb
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from pipeline import paths, warehouse
from pipeline.checks_common import suite_check
from pipeline.final.assets import preference_set_candidate
from pipeline.lib.publish import current_candidate

# Per-row facts the GX suite asserts: TRL's conversational preference rules and provenance.
CANDIDATE_FRAME_SQL = """
select
    pair_id, replica_index, split, label_source, weight,
    len(source_event_ids) as n_source_events,
    prompt[len(prompt)].role as prompt_last_role,
    list_bool_and(list_transform(prompt, m -> m.role in ('system', 'user', 'assistant'))) as prompt_roles_valid,
    list_bool_and(list_transform(prompt || chosen || rejected, m -> coalesce(length(trim(m.content)), 0) > 0))
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
        frame = con.execute(CANDIDATE_FRAME_SQL, [files]).df()
    finally:
        con.close()
    return suite_check("preference_set_candidate", frame)


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


CANDIDATE_CHECKS = [candidate_suite, conservation]
