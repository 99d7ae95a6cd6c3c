"""Prompt clusters over the whole window, written to the warehouse table prompt_clusters
(prompt_hash, cluster_id, kept_prompt_hash, similarity)."""

from __future__ import annotations

import duckdb


def assign_clusters(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Exact clusters: every distinct canonical prompt is its own cluster."""
    con.execute(
        """
        create or replace table prompt_clusters as
        select distinct prompt_hash, prompt_hash as cluster_id,
               prompt_hash as kept_prompt_hash, 1.0 as similarity
        from normalized_events
        order by prompt_hash
        """
    )
    con.execute(
        """
        create or replace table prompt_contamination (
            prompt_hash varchar, benchmark varchar, item_id varchar, matched_text varchar
        )
        """
    )
    n_prompts, n_clusters = con.execute(
        "select count(*), count(distinct cluster_id) from prompt_clusters"
    ).fetchone()
    return {"prompts": int(n_prompts), "clusters": int(n_clusters)}
