"""Near-duplicate clusters of the window's canonical prompts, written to the warehouse table
prompt_clusters (prompt_hash, cluster_id, kept_prompt_hash, similarity).

MinHash signatures are computed once per distinct prompt and cached by prompt hash in
prompt_signatures; verified LSH edges are kept in prompt_edges. A build signs only prompts it
has not seen and compares only LSH buckets that hold one, then takes connected components
over all edges: a nightly day costs its own prompts, not the history's. A change of shingling
re-signs everything; a change of banding or threshold re-compares everything.

cluster_id is the smallest prompt hash of the component (independent of arrival order), which
is also the kept member; similarity is the estimated Jaccard to it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.lib.hashing import content_id
from pipeline.lib.minhash import MinHashConfig, cluster, signatures
from pipeline.warehouse import replace_table

WINDOW_PROMPTS = "select prompt_hash, min(prompt_text) as prompt_text from normalized_events group by prompt_hash"


def _ensure_tables(con) -> None:
    con.execute("create table if not exists prompt_signatures (prompt_hash varchar, config varchar, signature blob)")
    con.execute("create table if not exists prompt_edges (a varchar, b varchar, similarity double, edge_config varchar)")
    con.execute("create table if not exists prompt_compared (prompt_hash varchar, edge_config varchar)")


def _as_matrix(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """Fixed-width signature blobs -> (n, num_perm) uint32, reading Arrow's buffers in place."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for arr in chunks:
        if len(arr) == 0:
            continue
        width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
        offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        parts.append(data.view(np.uint32).reshape(len(arr), num_perm))
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint32)
    return parts[0] if len(parts) == 1 else np.vstack(parts)


def _sign_new(con, config: MinHashConfig, fingerprint: str, batch_rows: int = 100_000) -> int:
    """Sign the window's prompts that have no signature yet, a batch at a time."""
    # A second cursor streams the prompts while the first inserts their signatures.
    reader_con = con.cursor()
    reader = reader_con.execute(
        f"""select p.prompt_hash, p.prompt_text from ({WINDOW_PROMPTS}) p
            anti join (select prompt_hash from prompt_signatures where config = ?) s using (prompt_hash)
            order by p.prompt_hash""",
        [fingerprint],
    ).to_arrow_reader(batch_rows)
    signed = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        sigs = np.ascontiguousarray(signatures(batch.column("prompt_text"), config))
        blob = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * config.num_perm), len(sigs), [None, pa.py_buffer(sigs)])
        rows = pa.table({"prompt_hash": batch.column("prompt_hash"), "config": pa.array([fingerprint] * len(sigs)),
                         "signature": blob})
        con.register("_new_signatures", rows)
        try:
            con.execute("insert into prompt_signatures select prompt_hash, config, signature::blob from _new_signatures")
        finally:
            con.unregister("_new_signatures")
        signed += len(sigs)
    reader_con.close()
    return signed


def assign_clusters(con, settings: dict | None = None) -> dict[str, int | float]:
    """Cluster the window's prompts. Returns prompts, signed (new this build), reused (from the
    signature cache), compared (prompts whose LSH buckets were compared this build), clusters,
    near_duplicate_prompts (members other than the kept one) and edges."""
    config = MinHashConfig.from_config(settings)
    fingerprint = config.fingerprint()
    edge_config = content_id({"signatures": fingerprint, "bands": config.bands, "rows": config.rows,
                              "threshold": config.threshold})[:16]
    _ensure_tables(con)
    con.execute("begin transaction")
    try:
        con.execute("delete from prompt_signatures where config <> ?", [fingerprint])
        con.execute("delete from prompt_edges where edge_config <> ?", [edge_config])
        signed = _sign_new(con, config, fingerprint)
        con.execute(
            "create or replace temp table _window as select prompt_hash, "
            f"row_number() over (order by prompt_hash) - 1 as idx from ({WINDOW_PROMPTS})"
        )
        # A prompt is compared once, when it first enters the window under this edge config;
        # prompts already compared keep their edges in prompt_edges.
        window = con.execute(
            """select w.prompt_hash,
                      w.prompt_hash not in (select prompt_hash from prompt_compared where edge_config = ?) as is_new
               from _window w order by w.idx""",
            [edge_config],
        ).to_arrow_table()
        hashes = window.column("prompt_hash").combine_chunks()
        is_new = window.column("is_new").to_numpy(zero_copy_only=False).astype(bool)
        # Signatures stream into one preallocated matrix: the only full-window copy held.
        sigs = np.empty((len(hashes), config.num_perm), dtype=np.uint32)
        reader = con.execute(
            """select s.signature from _window w
               join prompt_signatures s on s.prompt_hash = w.prompt_hash and s.config = ? order by w.idx""",
            [fingerprint],
        ).to_arrow_reader(100_000)
        filled = 0
        for batch in reader:
            part = _as_matrix(batch.column(0), config.num_perm)
            sigs[filled:filled + len(part)] = part
            filled += len(part)
        if filled != len(hashes):
            raise RuntimeError(f"{len(hashes) - filled} window prompts have no signature")
        known = con.execute(
            """select wa.idx as a, wb.idx as b from prompt_edges e
               join _window wa on wa.prompt_hash = e.a join _window wb on wb.prompt_hash = e.b"""
        ).fetchnumpy()
        known_edges = np.stack([known["a"], known["b"]], axis=1).astype(np.int64) if len(known["a"]) else None
        labels, edges, similarity = cluster(sigs, config, new=is_new, known_edges=known_edges)

        # New edges only (known ones are stored already), by prompt hash.
        fresh = ~(np.isin(edges[:, 0], np.flatnonzero(~is_new)) & np.isin(edges[:, 1], np.flatnonzero(~is_new)))
        if fresh.any():
            e = edges[fresh]
            con.register("_edges", pa.table({
                "a": hashes.take(pa.array(e[:, 0])), "b": hashes.take(pa.array(e[:, 1])),
                "similarity": pa.array(similarity[fresh]), "edge_config": pa.array([edge_config] * len(e)),
            }))
            try:
                con.execute("insert into prompt_edges select * from _edges")
            finally:
                con.unregister("_edges")
        con.execute("delete from prompt_compared where edge_config <> ? "
                    "or prompt_hash not in (select prompt_hash from _window)", [edge_config])
        con.execute("insert into prompt_compared select w.prompt_hash, ? from _window w "
                    "where w.prompt_hash not in (select prompt_hash from prompt_compared)", [edge_config])

        # The kept member is the smallest hash of its component: rows are in hash order, so
        # the first row of each label.
        _, first = np.unique(labels, return_index=True)
        rep = first[labels] if len(labels) else np.empty(0, dtype=np.int64)
        sim = np.ones(len(labels))
        members = np.flatnonzero(rep != np.arange(len(labels)))
        for lo in range(0, len(members), 200_000):
            m = members[lo:lo + 200_000]
            sim[m] = (sigs[m] == sigs[rep[m]]).mean(axis=1)
        cluster_ids = hashes.take(pa.array(rep))
        replace_table(con, "prompt_clusters", pa.table({
            "prompt_hash": hashes, "cluster_id": cluster_ids, "kept_prompt_hash": cluster_ids,
            "similarity": pa.array(sim),
        }))
        con.execute("drop table _window")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return {
        "prompts": len(labels),
        "signed": signed,
        "reused": len(labels) - signed,
        "compared": int(is_new.sum()),
        "clusters": int(len(first)),
        "near_duplicate_prompts": int(len(members)),
        "edges": int(len(edges)),
    }
