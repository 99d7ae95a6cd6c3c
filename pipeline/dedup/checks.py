"""Blocking checks on the Python side of dedup."""

from pipeline.checks_common import warehouse_suite

prompt_clusters_suite = warehouse_suite(
    "prompt_clusters",
    """
    select c.prompt_hash, c.cluster_id, c.similarity,
           c.kept_prompt_hash in (select prompt_hash from prompt_clusters) as kept_is_member
    from prompt_clusters c
    """,
)
prompt_contamination_suite = warehouse_suite(
    "prompt_contamination", "select prompt_hash, benchmark, item_id, matched_text from prompt_contamination"
)
