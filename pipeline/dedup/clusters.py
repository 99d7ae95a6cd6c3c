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
  distinct prompt (UINTEGER[num_perm]), computed once per prompt hash; config is the
  fingerprint of the settings that determine it; id is a dense surrogate key, assigned in
  prompt_hash order to the prompts a build signs (so later builds have larger ids).
- prompt_bands (h, id): the LSH band hashes of each signature, one row per band.
- prompt_edges (a, b, similarity): verified LSH candidates (ids, a < b) with estimated
  Jaccard >= threshold.
- prompt_dedup_state: the fingerprints of the settings the rows above were made with, the
  next free id, whether every signature has its band hashes, and the id below which every
  prompt has been compared.

A build (1) drops all of it when shingle_words, seed or bands x rows change, and the bands
and edges when only bands, rows or threshold change (then re-bands the cached signatures);
(2) signs the window's prompts without a signature, streaming their text in Arrow batches
and committing each batch's signatures and band hashes together (a crash keeps the work
done); (3) in one transaction: forgets prompts that left normalized_events, finds the
candidates of the prompts not compared yet by joining their band hashes against the stored
ones in DuckDB, verifies them, stores the edges, takes connected components over all edges
(scipy) and writes prompt_clusters: from scratch when everything was compared, else by
inserting the new prompts' rows, deleting the rows of prompts that left, and replacing the
rows whose cluster or similarity changed.

Candidates: within an LSH bucket (equal band hash), members are ordered by id and each is
compared with the one before it, so a bucket of k identical prompts costs k - 1
comparisons, not k(k-1)/2. New prompts have the largest ids, so a nightly build adds
exactly the comparisons of a from-scratch build in the same id order (ids of a build from
scratch follow prompt_hash, so in rare chains it can compare other pairs). When a prompt
leaves, its buckets are chained again so its neighbours get compared with each other.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.dedup.minhash import MinHashConfig, band_hashes, components, estimated_jaccard, signatures

SIGN_BATCH = 50_000  # prompts per Arrow batch signed and committed
READ_BATCH = 100_000  # rows per Arrow batch read back (signatures, candidate pairs)


def _columns(con, table: str) -> dict[str, str]:
    return dict(con.execute(
        "select column_name, data_type from information_schema.columns where table_name = ? and table_schema = 'main'",
        [table]).fetchall())


def _create_signatures(con, config: MinHashConfig) -> None:
    con.execute("create table if not exists prompt_signatures "
                f"(id ubigint, prompt_hash varchar, config varchar, signature uinteger[{config.num_perm}])")


def _ensure_tables(con, config: MinHashConfig) -> None:
    signature = _columns(con, "prompt_signatures").get("signature")
    if (signature and not signature.startswith("UINTEGER[")) or (
            _columns(con, "prompt_dedup_state") and "banded" not in _columns(con, "prompt_dedup_state")):
        # Layout of an earlier release: start over.
        for table in ("prompt_signatures", "prompt_edges", "prompt_compared", "prompt_bands", "prompt_dedup_state"):
            con.execute(f"drop table if exists {table}")
    _create_signatures(con, config)
    con.execute("create table if not exists prompt_bands (h ubigint, id ubigint)")
    con.execute("create table if not exists prompt_edges (a ubigint, b ubigint, similarity float)")
    con.execute("create table if not exists prompt_dedup_state "
                "(signature_config varchar, lsh_config varchar, next_id ubigint, banded boolean, compared_below ubigint)")


def _state(con) -> tuple[str | None, str | None, int, bool, int]:
    rows = con.execute("select signature_config, lsh_config, next_id, banded, compared_below "
                       "from prompt_dedup_state").fetchall()
    return rows[0] if rows else (None, None, 0, True, 0)


def _set_state(con, signature_config: str, lsh_config: str, next_id: int, banded: bool, compared_below: int) -> None:
    con.execute("delete from prompt_dedup_state")
    con.execute("insert into prompt_dedup_state values (?, ?, ?, ?, ?)",
                [signature_config, lsh_config, next_id, banded, compared_below])


def _as_matrix(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """A column of signatures (arrays of num_perm uint32) -> (n, num_perm) uint32, from
    Arrow's value buffers without a per-row step."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=np.uint32).reshape(len(arr), num_perm)
             for arr in chunks if len(arr)]
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint32)
    return parts[0] if len(parts) == 1 else np.vstack(parts)


def _insert(con, table: str, data: pa.Table, select: str = "*") -> None:
    con.register("_rows", data)
    try:
        con.execute(f"insert into {table} select {select} from _rows")
    finally:
        con.unregister("_rows")


def _insert_bands(con, config: MinHashConfig, ids: np.ndarray, sigs: np.ndarray) -> None:
    bands = band_hashes(sigs, config)
    _insert(con, "prompt_bands", pa.table({"h": bands.ravel(), "id": np.repeat(ids.astype(np.uint64), config.bands)}))


def _band_all(con, config: MinHashConfig) -> None:
    """Band hashes of every stored signature (after a change of bands or rows)."""
    # The signatures are committed: a second connection streams them while this one inserts.
    reader_con = con.cursor()
    try:
        for batch in reader_con.sql("select id, signature from prompt_signatures").to_arrow_reader(READ_BATCH):
            if batch.num_rows:
                _insert_bands(con, config, batch.column("id").to_numpy(),
                              _as_matrix(batch.column("signature"), config.num_perm))
    finally:
        reader_con.close()


def _transaction(con, work) -> None:
    con.execute("begin transaction")
    try:
        work()
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _prepare(con, config: MinHashConfig) -> None:
    """Drop what a config change makes stale. Every stored signature has its band hashes
    when this returns (re-banded here after a change of bands x rows)."""
    fingerprint, lsh = config.fingerprint(), config.lsh_fingerprint()
    signature_config, lsh_config, next_id, banded, compared_below = _state(con)

    def invalidate() -> None:
        nonlocal next_id, banded, compared_below
        if signature_config != fingerprint:
            con.execute("drop table prompt_signatures")  # num_perm may change its type
            _create_signatures(con, config)
            con.execute("delete from prompt_bands")
            con.execute("delete from prompt_edges")
            next_id, banded, compared_below = 0, True, 0
        elif lsh_config != lsh:
            con.execute("delete from prompt_bands")
            con.execute("delete from prompt_edges")
            banded, compared_below = False, 0
        _set_state(con, fingerprint, lsh, next_id, banded, compared_below)

    if (signature_config, lsh_config) != (fingerprint, lsh):
        _transaction(con, invalidate)
    if not banded:
        def band() -> None:
            _band_all(con, config)
            con.execute("update prompt_dedup_state set banded = true")
        _transaction(con, band)


def _sign_new(con, config: MinHashConfig) -> int:
    """Sign the window's prompts that have no signature, a batch at a time; each batch's
    signatures and band hashes are committed together. Ids follow prompt_hash order within
    the build whatever order the batches come in, so they are deterministic."""
    fingerprint = config.fingerprint()
    # A second connection streams the prompts (from the committed state) while this one
    # inserts their signatures.
    reader_con = con.cursor()
    try:
        reader_con.execute("""
            create or replace temp table _unsigned as
            select prompt_hash, (row_number() over (order by prompt_hash) - 1)::ubigint as pos
            from (select distinct prompt_hash from normalized_events where prompt_hash is not null) e
            anti join prompt_signatures s using (prompt_hash)""")
        unsigned = reader_con.execute("select count(*) from _unsigned").fetchall()[0][0]
        if not unsigned:
            return 0
        first_id = _state(con)[2]
        # The ids are reserved first: a crash leaves a gap, never a reused id.
        _transaction(con, lambda: con.execute("update prompt_dedup_state set next_id = ?", [first_id + unsigned]))
        reader = reader_con.sql("""
            select u.pos, e.prompt_hash, e.prompt_text from normalized_events e join _unsigned u using (prompt_hash)
            qualify row_number() over (partition by e.prompt_hash) = 1""").to_arrow_reader(SIGN_BATCH)
        signed = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            ids = batch.column("pos").to_numpy() + np.uint64(first_id)
            sigs = signatures(batch.column("prompt_text"), config)

            def store(ids=ids, batch=batch, sigs=sigs) -> None:  # called at once, in this iteration
                _insert(con, "prompt_signatures", pa.table({
                    "id": ids, "prompt_hash": batch.column("prompt_hash"),
                    "signature": pa.FixedSizeListArray.from_arrays(pa.array(sigs.ravel()), config.num_perm),
                }), f"id, prompt_hash, '{fingerprint}', signature")
                _insert_bands(con, config, ids, sigs)

            _transaction(con, store)
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


class _Signatures:
    """Signatures of a set of ids, in memory: ``rows(ids)`` gives their rows of ``matrix``."""

    def __init__(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        self.order = np.argsort(ids, kind="stable")
        self.ids = ids[self.order]
        self.matrix = matrix

    @classmethod
    def fetch(cls, con, config: MinHashConfig, ids_sql: str) -> _Signatures:
        """One scan of prompt_signatures for the ids ``ids_sql`` selects (column id)."""
        table = con.sql(f"select s.id, s.signature from prompt_signatures s semi join ({ids_sql}) t on t.id = s.id"
                        ).to_arrow_table()
        return cls(table.column("id").to_numpy().astype(np.uint64),
                   _as_matrix(table.column("signature"), config.num_perm))

    def rows(self, ids: np.ndarray) -> np.ndarray:
        return self.order[np.searchsorted(self.ids, ids)]

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return estimated_jaccard(self.matrix[self.rows(a)], self.matrix[self.rows(b)])


def _compare(con, config: MinHashConfig, compared_below: int, run: bool) -> tuple[int, _Signatures]:
    """Chain every LSH bucket that holds a prompt with id >= compared_below (or lost a
    member), verify the new consecutive pairs and store those at or above the threshold.
    Returns the number of new edges and the signatures of every edge's ends (one scan)."""
    lo = int(compared_below)
    if not run:
        con.execute("create or replace temp table _pairs (a ubigint, b ubigint)")
    else:
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
            con.execute("delete from _pairs where exists "
                        "(select 1 from prompt_edges e where e.a = _pairs.a and e.b = _pairs.b)")
    sigs = _Signatures.fetch(con, config, """select a as id from _pairs union select b from _pairs
                                             union select a from prompt_edges union select b from prompt_edges""")
    kept = []
    for batch in con.sql("select a, b from _pairs").to_arrow_reader(READ_BATCH):
        if batch.num_rows == 0:
            continue
        a, b = batch.column("a").to_numpy(), batch.column("b").to_numpy()
        sim = sigs.similarity(a, b)
        ok = sim >= config.threshold
        kept.append(pa.table({"a": a[ok], "b": b[ok], "similarity": pa.array(sim[ok], type=pa.float32())}))
    con.execute("drop table _pairs")
    for part in kept:
        _insert(con, "prompt_edges", part)
    return sum(p.num_rows for p in kept), sigs


def _write_clusters(con, compared_below: int, forgotten: int, sigs: _Signatures) -> dict[str, int]:
    """Connected components over all stored edges -> prompt_clusters. From scratch when
    everything was compared by this build; otherwise the new prompts' rows are inserted, the
    rows of prompts that left deleted, and the rows whose cluster or similarity changed
    replaced (delete + insert: cheaper for DuckDB than an update spread over the table). A
    cluster only changes when it gains a member (then all its members are in _members) or
    loses one (then its old members are found in prompt_clusters)."""
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
    members = con.execute("select id, kept_id from _members").fetchnumpy()
    member_ids = np.asarray(members["id"], dtype=np.uint64)
    similarity = pa.table({"id": member_ids, "similarity": sigs.similarity(
        member_ids, np.asarray(members["kept_id"], dtype=np.uint64)) if len(member_ids) else np.empty(0)})
    con.register("_similarity", similarity)
    rows = """select s.prompt_hash,
                     coalesce(m.kept, s.prompt_hash) as cluster_id,
                     coalesce(m.kept, s.prompt_hash) as kept_prompt_hash,
                     coalesce(x.similarity, 1.0)::double as similarity
              from prompt_signatures s left join _members m on m.id = s.id left join _similarity x on x.id = s.id
              where {}"""
    lo = int(compared_below)
    try:
        if lo == 0 or not _columns(con, "prompt_clusters"):
            con.execute(f"create or replace table prompt_clusters as {rows.format('true')}")
        else:
            if forgotten:
                con.execute("delete from prompt_clusters where prompt_hash in (select prompt_hash from _gone)")
            old = f"select prompt_hash from _members where id < {lo}"
            if forgotten:  # members of clusters that lost one may be singletons now
                old += (" union select prompt_hash from prompt_clusters where cluster_id in "
                        "(select cluster_id from prompt_clusters where prompt_hash <> cluster_id)")
            con.execute(f"""
                create or replace temp table _changed as
                select t.* from ({rows.format(f's.prompt_hash in ({old})')}) t
                join prompt_clusters c on c.prompt_hash = t.prompt_hash
                where c.cluster_id <> t.cluster_id or c.kept_prompt_hash <> t.kept_prompt_hash
                   or c.similarity <> t.similarity""")
            con.execute("delete from prompt_clusters where prompt_hash in (select prompt_hash from _changed)")
            con.execute(f"insert into prompt_clusters select * from _changed "
                        f"union all {rows.format(f's.id >= {lo}')}")
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
    _ensure_tables(con, config)
    _prepare(con, config)
    signed = _sign_new(con, config)
    result: dict[str, int] = {}

    def compare_and_cluster() -> None:
        signature_config, lsh_config, next_id, banded, compared_below = _state(con)
        forgotten = _forget_gone(con)
        compared = con.execute("select count(*) from prompt_signatures where id >= ?",
                               [compared_below]).fetchall()[0][0]
        new_edges, sigs = _compare(con, config, compared_below, run=bool(compared or forgotten))
        result.update(_write_clusters(con, compared_below, forgotten, sigs), compared=int(compared),
                      forgotten=forgotten, new_edges=new_edges)
        _set_state(con, signature_config, lsh_config, next_id, banded, next_id)
        con.execute("drop table _gone")
        con.execute("drop table _rechain")

    _transaction(con, compare_and_cluster)
    stats = result
    return {"prompts": stats["prompts"], "signed": signed, "reused": stats["prompts"] - signed,
            "compared": stats["compared"], "forgotten": stats["forgotten"], "clusters": stats["clusters"],
            "near_duplicate_prompts": stats["near_duplicate_prompts"],
            "prompts_in_near_duplicate_clusters": stats["prompts_in_near_duplicate_clusters"],
            "edges": stats["edges"], "new_edges": stats["new_edges"]}
