"""Blocking checks on judge verdicts: a winner only when both orders agree."""

from pipeline.checks_common import warehouse_suite

judge_verdicts_suite = warehouse_suite(
    "judge_verdicts",
    """
    select pair_id, winner,
           winner is not null or reason is not null as decided_or_explained,
           winner is null or (verdict_ab = winner and verdict_ba = winner) as winner_is_consistent
    from judge_verdicts
    """,
)
