"""Blocking checks on judge labeling: a winner only when both orders agree; every labeled pair
with a label source, an AI label with its judge."""

from pipeline.core.checks import warehouse_suite

judge_verdicts_suite = warehouse_suite(
    "judge_verdicts",
    """
    select pair_id, winner,
           winner is not null or reason is not null as decided_or_explained,
           winner is null or (verdict_ab = winner and verdict_ba = winner) as winner_is_consistent
    from judge_verdicts
    """,
)

labeled_suite = warehouse_suite(
    "int_pairs__labeled",
    "select pair_id, label_source, not kept or chosen_hash <> rejected_hash as kept_pair_differs, "
    "reason in ('duplicate_near', 'comparison_superseded') or label_source <> 'ai_judge' or judge_id is not null "
    "as ai_label_has_judge "
    "from int_pairs__labeled",
)
