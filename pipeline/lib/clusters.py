"""Near-duplicate clusters of the window's canonical prompts, written to the warehouse table
prompt_clusters (prompt_hash, cluster_id, kept_prompt_hash, similarity).

Every distinct prompt_hash of normalized_events gets one row:

- cluster_id: the smallest prompt_hash of its cluster (a connected component of verified
  near-duplicate edges), so it does not depend on arrival order or on which build saw which
  prompt first; a prompt with no near-duplicate is its own cluster.
- kept_prompt_hash: the cluster's kept member, by the same rule (= cluster_id).
- similarity: the signatures' estimated Jaccard to the kept member (1.0 for the kept one).

State kept in the warehouse, so that a nightly build costs its new prompts, not the history:

- prompt_signatures (id, prompt_hash, config, signature): the MinHash signature of each
  distinct prompt, num_perm little-endian uint32 in a blob, computed once per prompt hash;
  id is a dense surrogate key, assigned in prompt_hash order to the prompts a build signs.
- prompt_bands (h, id): one LSH band hash per band of each signature.
- prompt_edges (a, b, similarity): verified LSH candidates (ids, a < b) with estimated
  Jaccard >= threshold.
- prompt_dedup_state: the configs the rows above were made with, the next free id, and the
  id below which every signed prompt has been compared.

A build (1) drops all of it when the shingling/permutations change and the bands and edges
when bands, rows or threshold change, and forgets prompts that left the window; (2) signs
the window's prompts without a signature, streaming their text in Arrow batches and
committing a batch at a time (a crash keeps the signatures made so far); (3) in one
transaction, computes the band hashes of the new ids, finds candidates by joining them
against the stored bands in DuckDB, verifies them, stores the edges, takes connected
components over all edges and rewrites prompt_clusters.

Candidates: within an LSH bucket (equal band hash), members are ordered by id and each is
compared with the one before it. New prompts have the largest ids, so a nightly build adds
exactly the comparisons a build from scratch in the same id order would make, and a bucket
of k identical prompts costs k - 1 comparisons, not k(k-1)/2.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.lib.minhash import MinHashConfig, band_hashes, components, estimated_jaccard, signatures

SIGN_BATCH = 50_000  # prompts per Arrow batch signed and committed
READ_BATCH = 100_000  # rows per Arrow batch read back (signatures, candidate pairs)


def _columns(con, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_name = ? and table_schema = 'main'", [table]
    ).fetchall()}


def _ensure_tables(con) -> None:
    if _columns(con, "prompt_signatures") and "id" not in _columns(con, "prompt_signatures"):
        # Layout of an earlier release (no ids, edges by prompt hash): start over.
        for table in ("prompt_signatures", "prompt_edges", "prompt_compared"):
            con.execute(f"drop table if exists {table}")
    con.execute("create table if not exists prompt_signatures "
                "(id ubigint, prompt_hash varchar, config varchar, signature blob)")
    con.execute("create table if not exists prompt_bands (h ubigint, id ubigint)")
    con.execute("create table if not exists prompt_edges (a ubigint, b ubigint, similarity float)")
    con.execute("create table if not exists prompt_dedup_state "
                "(signature_config varchar, lsh_config varchar, next_id ubigint, compared_below ubigint)")


def _state(con) -> tuple[str | None, str | None, int, int]:
    rows = con.execute("select signature_config, lsh_config, next_id, compared_below from prompt_dedup_state").fetchall()
    return rows[0] if rows else (None, None, 0, 0)


def _set_state(con, signature_config: str, lsh_config: str, next_id: int, compared_below: int) -> None:
    con.execute("delete from prompt_dedup_state")
    con.execute("insert into prompt_dedup_state values (?, ?, ?, ?)",
                [signature_config, lsh_config, next_id, compared_below])


def _as_matrix(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """Signature blobs -> (n, num_perm) uint32, reading Arrow's buffers in place."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for arr in chunks:
        if len(arr) == 0:
            continue
        if pa.types.is_fixed_size_binary(arr.type):
            data = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * 4 * num_perm:]
            parts.append(data[:len(arr) * 4 * num_perm].view(np.uint32).reshape(len(arr), num_perm))
            continue
        if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
            arr = arr.cast(pa.large_binary())
        width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
        offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        parts.append(data.view(np.uint32).reshape(len(arr), num_perm))
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint32)
    return parts[0] if len(parts) == 1 else np.vstack(parts)


def _insert(con, table: str, data: pa.Table, select: str = "*") -> None:
    con.register("_rows", data)
    try:
        con.execute(f"insert into {table} select {select} from _rows")
    finally:
        con.unregister("_rows")


def _prepare(con, config: MinHashConfig) -> None:
    """Drop what a config change makes stale (committed before signing)."""
    fingerprint, lsh = config.fingerprint(), config.lsh_fingerprint()
    con.execute("begin transaction")
    try:
        signature_config, lsh_config, next_id, compared_below = _state(con)
        if signature_config != fingerprint:
            for table in ("prompt_signatures", "prompt_bands", "prompt_edges"):
                con.execute(f"delete from {table}")
            next_id = compared_below = 0
        elif lsh_config != lsh:
            con.execute("delete from prompt_bands")
            con.execute("delete from prompt_edges")
            compared_below = 0
        _set_state(con, fingerprint, lsh, next_id, compared_below)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _sign_new(con, config: MinHashConfig) -> int:
    """Sign the window's prompts that have no signature, in prompt_hash order, a batch at a
    time; each batch and the next free id are committed together."""
    fingerprint = config.fingerprint()
    # A second connection streams the prompts (from the committed state) while this one
    # inserts their signatures.
    reader_con = con.cursor()
    try:
        reader = reader_con.sql(
            """select e.prompt_hash, any_value(e.prompt_text) as prompt_text
               from normalized_events e anti join prompt_signatures s on s.prompt_hash = e.prompt_hash
               where e.prompt_hash is not null
               group by e.prompt_hash order by e.prompt_hash"""
        ).to_arrow_reader(SIGN_BATCH)
        signed = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            sigs = np.ascontiguousarray(signatures(batch.column("prompt_text"), config))
            con.execute("begin transaction")
            try:
                next_id = _state(con)[2]
                blobs = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * config.num_perm), len(sigs),
                                                             [None, pa.py_buffer(sigs)])
                _insert(con, "prompt_signatures", pa.table({
                    "id": pa.array(np.arange(next_id, next_id + len(sigs), dtype=np.uint64)),
                    "prompt_hash": batch.column("prompt_hash"),
                    "signature": blobs,
                }), f"id, prompt_hash, '{fingerprint}', signature::blob")
                con.execute("update prompt_dedup_state set next_id = ?", [next_id + len(sigs)])
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            signed += len(sigs)
    finally:
        reader_con.close()
    return signed


def _forget_gone(con) -> int:
    """Drop the cached rows of prompts that left normalized_events. Their LSH buckets are
    kept in _rechain: the members left there are chained again, so a removed prompt does not
    leave a gap between two prompts that were only compared through it."""
    con.execute("""create or replace temp table _gone as
                   select s.id, s.prompt_hash from prompt_signatures s
                   anti join normalized_events e on e.prompt_hash = s.prompt_hash""")
    gone = con.execute("select count(*) from _gone").fetchall()[0][0]
    con.execute("create or replace temp table _rechain as select distinct h from prompt_bands "
                f"where {'id in (select id from _gone)' if gone else 'false'}")
    if gone:
        con.execute("delete from prompt_bands where id in (select id from _gone)")
        con.execute("delete from prompt_edges where a in (select id from _gone) or b in (select id from _gone)")
        con.execute("delete from prompt_signatures where id in (select id from _gone)")
    return int(gone)


def _band_new(con, config: MinHashConfig, compared_below: int) -> int:
    """Band hashes of the signatures with id >= compared_below into prompt_bands."""
    # The signatures are committed: a second connection streams them while this one inserts.
    reader_con = con.cursor()
    count = 0
    try:
        reader = reader_con.sql(f"select id, signature from prompt_signatures where id >= {int(compared_below)}"
                                ).to_arrow_reader(READ_BATCH)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            ids = batch.column("id").to_numpy()
            bands = band_hashes(_as_matrix(batch.column("signature"), config.num_perm), config)
            _insert(con, "prompt_bands", pa.table({"h": bands.ravel(), "id": np.repeat(ids, config.bands)}))
            count += len(ids)
    finally:
        reader_con.close()
    return count


def _compare(con, config: MinHashConfig, compared_below: int) -> int:
    """Chain every LSH bucket that holds a prompt with id >= compared_below (or lost a
    member), verify the new consecutive pairs and store those at or above the threshold."""
    lo = int(compared_below)
    if lo == 0:
        members, touched = "prompt_bands", "true"
    else:
        members = (f"(select b.h, b.id from prompt_bands b semi join (select h from prompt_bands where id >= {lo} "
                   f"union select h from _rechain) t on b.h = t.h)")
        touched = f"(id >= {lo} or h in (select h from _rechain))"
    con.execute(f"""
        create or replace temp table _pairs as
        select distinct prev as a, id as b from (
            select h, id, lag(id) over (partition by h order by id) as prev from {members}
        ) where prev is not null and {touched}""")
    if lo:
        con.execute("delete from _pairs where exists (select 1 from prompt_edges e where e.a = _pairs.a and e.b = _pairs.b)")
    reader = con.sql("""
        select p.a, p.b, sa.signature as sa, sb.signature as sb from _pairs p
        join prompt_signatures sa on sa.id = p.a join prompt_signatures sb on sb.id = p.b"""
                     ).to_arrow_reader(READ_BATCH)
    kept = []
    for batch in reader:
        if batch.num_rows == 0:
            continue
        sim = estimated_jaccard(_as_matrix(batch.column("sa"), config.num_perm),
                                _as_matrix(batch.column("sb"), config.num_perm))
        ok = pa.array(sim >= config.threshold)
        kept.append(pa.table({"a": batch.column("a").filter(ok), "b": batch.column("b").filter(ok),
                              "similarity": pa.array(sim, type=pa.float32()).filter(ok)}))
    con.execute("drop table _pairs")
    for part in kept:
        _insert(con, "prompt_edges", part)
    return sum(p.num_rows for p in kept)


def _member_similarity(con, config: MinHashConfig) -> pa.Table:
    """(id, similarity): estimated Jaccard of each member of _members to its kept member,
    from one scan of their signatures."""
    table = con.sql("select s.id, s.signature from prompt_signatures s semi join _members m on m.id = s.id "
                    "order by s.id").to_arrow_table()
    ids = table.column("id").to_numpy()
    sigs = _as_matrix(table.column("signature"), config.num_perm)
    kept = con.sql("select id, kept_id from _members order by id").fetchnumpy()
    rows = np.searchsorted(ids, np.asarray(kept["id"], dtype=np.uint64))
    kept_rows = np.searchsorted(ids, np.asarray(kept["kept_id"], dtype=np.uint64))
    return pa.table({"id": pa.array(ids[rows], pa.uint64()),
                     "similarity": pa.array(estimated_jaccard(sigs[rows], sigs[kept_rows]))})


def _write_clusters(con, config: MinHashConfig, compared_below: int) -> dict[str, int]:
    """Connected components over all stored edges -> prompt_clusters. From scratch when
    everything was compared by this build; otherwise only the rows of prompts that are new,
    gone, or in a cluster of two or more before or after are rewritten (the rest are
    singletons both times)."""
    edges = con.execute("select a, b from prompt_edges").fetchnumpy()
    a = np.asarray(edges["a"], dtype=np.uint64)
    b = np.asarray(edges["b"], dtype=np.uint64)
    nodes = np.unique(np.concatenate([a, b]))
    labels = components(len(nodes), np.stack([np.searchsorted(nodes, a), np.searchsorted(nodes, b)], axis=1))
    con.register("_labels", pa.table({"id": nodes, "label": labels.astype(np.int64)}))
    try:
        con.execute("""
            create or replace temp table _members as
            select l.id, s.prompt_hash,
                   min(s.prompt_hash) over (partition by l.label) as kept,
                   arg_min(s.id, s.prompt_hash) over (partition by l.label) as kept_id
            from _labels l join prompt_signatures s on s.id = l.id""")
    finally:
        con.unregister("_labels")
    con.register("_similarity", _member_similarity(con, config))
    rows = """select s.prompt_hash,
                     coalesce(m.kept, s.prompt_hash) as cluster_id,
                     coalesce(m.kept, s.prompt_hash) as kept_prompt_hash,
                     coalesce(x.similarity, 1.0)::double as similarity
              from prompt_signatures s left join _members m on m.id = s.id left join _similarity x on x.id = s.id"""
    try:
        if compared_below == 0 or not _columns(con, "prompt_clusters"):
            con.execute(f"create or replace table prompt_clusters as {rows}")
        else:
            con.execute(f"""
                create or replace temp table _changed as
                select prompt_hash from _members
                union select prompt_hash from prompt_clusters where prompt_hash <> cluster_id
                union select cluster_id from prompt_clusters where prompt_hash <> cluster_id
                union select prompt_hash from prompt_signatures where id >= {int(compared_below)}
                union select prompt_hash from _gone""")
            con.execute("delete from prompt_clusters where prompt_hash in (select prompt_hash from _changed)")
            con.execute(f"insert into prompt_clusters select * from ({rows}) "
                        "where prompt_hash in (select prompt_hash from _changed)")
            con.execute("drop table _changed")
    finally:
        con.unregister("_similarity")
    prompts = con.execute("select count(*) from prompt_signatures").fetchall()[0][0]
    con.execute("drop table _members")
    near = len(nodes) - (int(labels.max()) + 1 if len(labels) else 0)
    return {"prompts": int(prompts), "clusters": int(prompts) - near, "near_duplicate_prompts": near,
            "prompts_in_near_duplicate_clusters": int(len(nodes)), "edges": int(len(a))}


def assign_clusters(con, cfg: dict | None = None) -> dict[str, int]:
    """Cluster the window's distinct prompts (normalized_events.prompt_hash) into
    prompt_clusters. ``cfg`` is the ``dedup:`` section of the config (missing keys take
    MinHashConfig's defaults).

    Returns:
      prompts: distinct prompts in the window (rows of prompt_clusters)
      signed: prompts signed by this build (no cached signature under this config)
      reused: prompts whose signature came from the cache (prompts - signed)
      compared: prompts whose LSH buckets were compared by this build (the new ones, or all
                after a change of bands, rows or threshold)
      forgotten: cached prompts dropped because they left the window
      clusters: distinct cluster_ids
      near_duplicate_prompts: prompts that are not their cluster's kept member
      prompts_in_near_duplicate_clusters: prompts in clusters of two or more
      edges: verified near-duplicate edges among the window's prompts
      new_edges: edges found by this build
    """
    config = MinHashConfig.from_config(cfg)
    _ensure_tables(con)
    _prepare(con, config)
    signed = _sign_new(con, config)
    con.execute("begin transaction")
    try:
        signature_config, lsh_config, next_id, compared_below = _state(con)
        compared = _band_new(con, config, compared_below)
        forgotten = _forget_gone(con)
        new_edges = _compare(con, config, compared_below) if compared or forgotten else 0
        stats = _write_clusters(con, config, compared_below)
        _set_state(con, signature_config, lsh_config, next_id, next_id)
        con.execute("drop table _gone")
        con.execute("drop table _rechain")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return {"prompts": stats["prompts"], "signed": signed, "reused": stats["prompts"] - signed,
            "compared": compared, "forgotten": forgotten, "clusters": stats["clusters"],
            "near_duplicate_prompts": stats["near_duplicate_prompts"],
            "prompts_in_near_duplicate_clusters": stats["prompts_in_near_duplicate_clusters"],
            "edges": stats["edges"], "new_edges": new_edges}
