"""Near-duplicate prompt clustering: what a user relies on when prompts repeat with edits."""

import hashlib

import duckdb
import numpy as np
import pyarrow as pa

from pipeline.dedup.clusters import assign_clusters
from pipeline.dedup.minhash import MinHashConfig, cluster, normalize, shingle_hashes, signatures, token_hashes

BASE = [
    "Write a short poem about the ocean at night, with stars reflecting on the calm water and a lighthouse far away",
    "Explain how a binary search tree keeps its keys ordered, what happens when you insert a duplicate key into it, "
    "and how the tree can be kept balanced so that lookups stay fast even after many insertions and deletions",
    "What are the main causes of inflation in an economy and how do central banks usually respond to rising prices",
    "Give me a recipe for a vegetarian lasagna that uses spinach, ricotta and mushrooms and serves six people",
]
# Near-duplicates of the first two: a word replaced at the end, a word replaced in the middle
# (word-3-gram Jaccard 0.90 and 0.85, checked below).
NEAR = [
    "Write a short poem about the ocean at night, with stars reflecting on the calm water and a lighthouse far off",
    "Explain how a binary search tree keeps its keys sorted, what happens when you insert a duplicate key into it, "
    "and how the tree can be kept balanced so that lookups stay fast even after many insertions and deletions",
]
DISTINCT = [
    "Translate the following sentence into French: the weather is lovely today and we are going to the park",
    "Summarize the plot of a detective novel where the butler turns out to be innocent after all",
]
STAT_KEYS = {"prompts", "signed", "reused", "compared", "forgotten", "clusters", "near_duplicate_prompts",
             "prompts_in_near_duplicate_clusters", "edges", "new_edges"}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _warehouse(texts: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _put(con, texts)
    return con


def _put(con, texts: list[str]) -> None:
    # Two events per prompt, as feedback repeats prompts.
    rows = pa.table({"record_id": [f"r{i}" for i in range(2 * len(texts))],
                     "prompt_hash": [_md5(t) for t in texts] * 2, "prompt_text": texts * 2})
    con.register("_rows", rows)
    con.execute("create or replace table normalized_events as select * from _rows")
    con.unregister("_rows")


def _clusters(con) -> dict[str, str]:
    by_hash = dict(con.execute("select prompt_hash, cluster_id from prompt_clusters").fetchall())
    texts = con.execute("select distinct prompt_hash, prompt_text from normalized_events").fetchall()
    return {text: by_hash[h] for h, text in texts}


def _table(con) -> set[tuple]:
    return set(con.execute("select prompt_hash, cluster_id, kept_prompt_hash, round(similarity, 6) "
                           "from prompt_clusters").fetchall())


def test_normalization_lowercases_drops_punctuation_and_collapses_whitespace():
    texts = pa.array(["Hello,   World!\n", "hello world", "¿Qué tal?  ¡Muy bien!", "Привет — мир…", None, "..."])
    assert normalize(texts).to_pylist() == ["hello world", "hello world", "qué tal muy bien", "привет мир", "", ""]
    hashes, counts = token_hashes(texts)
    assert counts.tolist() == [2, 2, 4, 2, 0, 0]
    assert hashes[0:2].tolist() == hashes[2:4].tolist() and hashes[0] != hashes[1]
    assert len(set(hashes[4:8].tolist())) == 4


def _jaccard(a: str, b: str) -> float:
    values, starts = shingle_hashes(pa.array([a, b]), 3)
    sa, sb = set(values[:starts[1]].tolist()), set(values[starts[1]:].tolist())
    return len(sa & sb) / len(sa | sb)


def test_known_near_duplicates_cluster_and_distinct_prompts_do_not():
    assert [round(_jaccard(n, b), 2) for n, b in zip(NEAR, BASE)] == [0.9, 0.85]
    con = _warehouse(BASE + NEAR + DISTINCT)
    stats = assign_clusters(con)
    assert set(stats) == STAT_KEYS
    c = _clusters(con)
    assert c[NEAR[0]] == c[BASE[0]] and c[NEAR[1]] == c[BASE[1]]
    others = [c[t] for t in BASE + DISTINCT]
    assert len(set(others)) == len(others), "distinct prompts share a cluster"
    assert stats["prompts"] == 8 and stats["clusters"] == 6 and stats["near_duplicate_prompts"] == 2
    assert stats["prompts_in_near_duplicate_clusters"] == 4 and stats["edges"] == 2
    # cluster_id and kept member: the smallest prompt hash of the cluster
    for near, base in zip(NEAR, BASE):
        assert c[near] == min(_md5(near), _md5(base))
    sim = dict(con.execute("select prompt_hash, similarity from prompt_clusters").fetchall())
    assert all(sim[_md5(t)] == 1.0 for t in BASE[2:] + DISTINCT)
    assert all(0.7 <= sim[_md5(t)] <= 1.0 for t in NEAR)
    kept = con.execute("select count(*) from prompt_clusters where kept_prompt_hash = prompt_hash").fetchone()[0]
    assert kept == 6


def test_cluster_ids_are_deterministic_and_do_not_depend_on_arrival_order():
    first = _warehouse(BASE + NEAR + DISTINCT)
    assign_clusters(first)
    again = _warehouse(BASE + NEAR + DISTINCT)
    assign_clusters(again)
    reversed_ = _warehouse(list(reversed(BASE + NEAR + DISTINCT)))
    assign_clusters(reversed_)
    assert _table(first) == _table(again) == _table(reversed_)


def test_cached_signatures_are_reused_and_only_new_prompts_are_signed_and_compared():
    con = _warehouse(BASE + DISTINCT)
    first = assign_clusters(con)
    assert first["signed"] == 6 and first["compared"] == 6 and first["reused"] == 0
    _put(con, BASE + DISTINCT + NEAR)
    second = assign_clusters(con)
    assert second["signed"] == 2 and second["reused"] == 6 and second["compared"] == 2
    c = _clusters(con)
    assert c[NEAR[0]] == c[BASE[0]] and c[NEAR[1]] == c[BASE[1]]
    # The edges found earlier still hold clusters together when nothing new arrives.
    third = assign_clusters(con)
    assert third["signed"] == 0 and third["compared"] == 0 and third["new_edges"] == 0 and _clusters(con) == c
    # Built a day at a time or all at once: the same table.
    scratch = _warehouse(BASE + DISTINCT + NEAR)
    assign_clusters(scratch)
    assert _table(con) == _table(scratch)


def test_a_shingling_change_re_signs_everything_and_a_banding_change_only_re_compares():
    con = _warehouse(BASE + NEAR)
    assign_clusters(con)
    banding = assign_clusters(con, {"bands": 25, "rows": 4})
    assert banding["signed"] == 0 and banding["compared"] == len(BASE + NEAR)
    threshold = assign_clusters(con, {"bands": 25, "rows": 4, "threshold": 0.75})
    assert threshold["signed"] == 0 and threshold["compared"] == len(BASE + NEAR)
    fewer = assign_clusters(con, {"bands": 16, "rows": 4})
    assert fewer["signed"] == len(BASE + NEAR) and fewer["clusters"] == len(BASE)
    shingles = assign_clusters(con, {"shingle_words": 2})
    assert shingles["signed"] == len(BASE + NEAR) and shingles["compared"] == len(BASE + NEAR)
    assert con.execute("select count(distinct config) from prompt_signatures").fetchone()[0] == 1
    assert con.execute("select count(*) from prompt_signatures").fetchone()[0] == len(BASE + NEAR)
    assert con.execute("select count(*) from prompt_bands").fetchone()[0] == len(BASE + NEAR) * 20


def test_prompts_that_leave_the_window_are_forgotten():
    con = _warehouse(BASE + NEAR + DISTINCT)
    assign_clusters(con)
    _put(con, BASE + NEAR[1:] + DISTINCT)
    stats = assign_clusters(con)
    assert stats["forgotten"] == 1 and stats["prompts"] == 7 and stats["signed"] == 0
    gone = _md5(NEAR[0])
    for table in ("prompt_clusters", "prompt_signatures"):
        assert con.execute(f"select count(*) from {table} where prompt_hash = ?", [gone]).fetchone()[0] == 0
    c = _clusters(con)
    assert c[BASE[0]] == _md5(BASE[0]), "the base is a cluster of its own again"
    scratch = _warehouse(BASE + NEAR[1:] + DISTINCT)
    assign_clusters(scratch)
    assert _table(con) == _table(scratch)


def test_removing_the_prompt_between_two_near_duplicates_keeps_them_together():
    """Inside an LSH bucket each prompt is compared with the one before it; when the middle
    one leaves, the two around it are compared with each other."""
    a = BASE[1]
    b = NEAR[1]
    lo, hi = sorted([a, b], key=_md5)
    # the same words as ``lo`` (identical signature), with a hash between lo's and hi's
    middle = next(v for v in (lo + p for p in "!?.;:,") if _md5(lo) < _md5(v) < _md5(hi))
    con = _warehouse([lo, middle, hi])
    first = assign_clusters(con)
    assert first["clusters"] == 1
    edges = {tuple(r) for r in con.execute("select a, b from prompt_edges").fetchall()}
    ids = dict(con.execute("select prompt_hash, id from prompt_signatures").fetchall())
    assert (ids[_md5(lo)], ids[_md5(hi)]) not in edges, "the outer pair was compared only through the middle"
    _put(con, [lo, hi])
    stats = assign_clusters(con)
    assert stats["forgotten"] == 1 and stats["clusters"] == 1 and stats["new_edges"] == 1
    c = _clusters(con)
    assert c[lo] == c[hi] == _md5(lo)


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


def test_signatures_do_not_depend_on_batching_or_threads():
    texts = pa.array(BASE + NEAR + DISTINCT + ["", None, "one", "two words"] * 50)
    cfg = MinHashConfig()
    whole = signatures(texts, cfg, workers=1)
    chunked = signatures(texts, cfg, workers=2, chunk_texts=7, chunk_bytes=300)
    assert (whole == chunked).all()
    assert (signatures(texts.slice(3, 20), cfg) == whole[3:23]).all()


def test_short_and_non_english_texts_have_shingles():
    v, starts = shingle_hashes(pa.array(["hi", "", "Привет мир как дела", None]), 3)
    # one shingle for each text shorter than 3 words, two for the four Russian words
    assert list(starts) == [0, 1, 2, 4] and len(v) == 5
    assert len(set(v[2:4].tolist())) == 2 and v[1] == v[4], "empty and missing texts are the same"


def test_in_memory_clustering_matches_the_warehouse():
    texts = BASE + NEAR + DISTINCT
    labels, edges, similarity = cluster(signatures(pa.array(texts), MinHashConfig()), MinHashConfig())
    assert labels[0] == labels[4] and labels[1] == labels[5] and len(set(labels)) == 6
    assert len(edges) == 2 and (similarity >= 0.7).all()
