"""Blocking checks on pair construction: pairs with two different sides, a split and a label
source, KTO rows, an outcome for every kept event, and one reliability row per annotator."""

from pipeline.core.checks import warehouse_suite

links_suite = warehouse_suite(
    "int_pairs__links", "select pair_id, record_id, a_hash <> b_hash as sides_differ from int_pairs__links"
)

candidates_suite = warehouse_suite(
    "int_pairs__candidates",
    "select pair_id, split, label_source, n_source_events, "
    "needs_judge = (label_source = 'ai_judge') as judge_rule_consistent from int_pairs__candidates",
)

kto_candidates_suite = warehouse_suite(
    "int_kto__candidates", "select kto_id, desirable, split from int_kto__candidates"
)

outcomes_suite = warehouse_suite(
    "int_pairs__event_outcomes",
    "select record_id, outcome, (outcome <> 'rejected') or reason is not null as rejected_has_reason "
    "from int_pairs__event_outcomes",
)

reliability_suite = warehouse_suite(
    "int_annotators__reliability",
    "select annotator_id, vote_weight, peer_agreed <= peer_votes and peer_votes >= 0 and labels > 0 "
    "as counts_consistent from int_annotators__reliability",
)

token_counts_suite = warehouse_suite(
    "pair_token_counts", "select pair_id, prompt_tokens, budget, reason from pair_token_counts"
)
