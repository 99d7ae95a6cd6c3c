"""Near-duplicate prompt clustering: what a user relies on when prompts repeat with edits."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pipeline.lib.clusters import assign_clusters
from pipeline.lib.minhash import MinHashConfig, shingle_hashes, signatures

BASE = [
    "Write a short poem about the ocean at night, with stars reflecting on the calm water and a lighthouse far away",
    "Explain how a binary search tree keeps its keys ordered and what happens when you insert a duplicate key into it",
    "What are the main causes of inflation in an economy and how do central banks usually respond to rising prices",
    "Give me a recipe for a vegetarian lasagna that uses spinach, ricotta and mushrooms and serves six people",
]
# Each differs from its base by one or two words: word-3-gram Jaccard well above 0.8.
NEAR = [
    "Write a short poem about the ocean at night, with stars reflecting on the calm water and a lighthouse far off",
    "Explain how a binary search tree keeps its keys sorted and what happens when you insert a duplicate key into it",
]
DISTINCT = [
    "Translate the following sentence into French: the weather is lovely today and we are going to the park",
    "Summarize the plot of a detective novel where the butler turns out to be innocent after all",
]


def _warehouse(texts: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _put(con, texts)
    return con


def _put(con, texts: list[str]) -> None:
    import hashlib

    rows = pa.table({"prompt_hash": [hashlib.md5(t.encode()).hexdigest() for t in texts], "prompt_text": texts})
    con.register("_rows", rows)
    con.execute("create or replace table normalized_events as select * from _rows")
    con.unregister("_rows")


def _clusters(con) -> dict[str, str]:
    import hashlib

    by_hash = dict(con.execute("select prompt_hash, cluster_id from prompt_clusters").fetchall())
    texts = con.execute("select prompt_hash, prompt_text from normalized_events").fetchall()
    return {text: by_hash[h] for h, text in texts}


def test_known_near_duplicates_cluster_and_distinct_prompts_do_not():
    con = _warehouse(BASE + NEAR + DISTINCT)
    stats = assign_clusters(con)
    c = _clusters(con)
    assert c[NEAR[0]] == c[BASE[0]] and c[NEAR[1]] == c[BASE[1]]
    others = [c[t] for t in BASE + DISTINCT]
    assert len(set(others)) == len(others), "distinct prompts share a cluster"
    assert stats["clusters"] == 6 and stats["near_duplicate_prompts"] == 2
    sim = dict(con.execute("select prompt_hash, similarity from prompt_clusters").fetchall())
    assert all(0.7 <= v <= 1.0 for v in sim.values())
    kept = con.execute("select count(*) from prompt_clusters where kept_prompt_hash = prompt_hash").fetchone()[0]
    assert kept == 6


def test_cluster_ids_do_not_depend_on_arrival_order():
    first = _warehouse(BASE + NEAR + DISTINCT)
    assign_clusters(first)
    second = _warehouse(list(reversed(BASE + NEAR + DISTINCT)))
    assign_clusters(second)
    assert _clusters(first) == _clusters(second)


def test_cached_signatures_are_reused_and_only_new_prompts_are_signed_and_compared():
    con = _warehouse(BASE + DISTINCT)
    first = assign_clusters(con)
    assert first["signed"] == 6 and first["compared"] == 6
    _put(con, BASE + DISTINCT + NEAR)
    second = assign_clusters(con)
    assert second["signed"] == 2 and second["reused"] == 6 and second["compared"] == 2
    c = _clusters(con)
    assert c[NEAR[0]] == c[BASE[0]] and c[NEAR[1]] == c[BASE[1]]
    # The edges found earlier still hold clusters together when nothing new arrives.
    third = assign_clusters(con)
    assert third["signed"] == 0 and third["compared"] == 0 and _clusters(con) == c


def test_a_shingling_change_re_signs_everything():
    con = _warehouse(BASE + NEAR)
    assign_clusters(con)
    again = assign_clusters(con, {"shingle_words": 2})
    assert again["signed"] == len(BASE + NEAR)
    assert con.execute("select count(distinct config) from prompt_signatures").fetchone()[0] == 1


def test_signatures_estimate_jaccard():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(400)]
    a = " ".join(rng.choice(words, 300))
    b_words = a.split()
    for j in rng.choice(len(b_words), 15, replace=False):
        b_words[j] = "zzz"
    b = " ".join(b_words)
    cfg = MinHashConfig(bands=64, rows=4)
    sigs = signatures(pa.array([a, b]), cfg)
    v, starts = shingle_hashes(pa.array([a, b]), cfg.shingle_words)
    sa, sb = set(v[: starts[1]].tolist()), set(v[starts[1]:].tolist())
    true = len(sa & sb) / len(sa | sb)
    assert abs((sigs[0] == sigs[1]).mean() - true) < 0.08


def test_short_and_non_english_texts_have_shingles():
    v, starts = shingle_hashes(pa.array(["hi", "", "Привет мир как дела", None]), 3)
    # one shingle for each text shorter than 3 words, two for the four Russian words
    assert list(starts) == [0, 1, 2, 4] and len(v) == 5
    assert len(set(v[2:4].tolist())) == 2 and v[1] == v[4], "empty and missing texts are the same"
