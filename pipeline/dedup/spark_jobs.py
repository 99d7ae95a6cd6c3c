"""Dedup's prompt stages as Spark jobs (warehouse.engine: spark), over the window's distinct
prompts in normalized_events, from scratch each build (the DuckDB path's caches of signatures,
edges and checked prompts are not kept on Spark).

- MinHash signing and LSH band hashes: mapInArrow over the distinct prompts, each task
  running minhash.signatures and minhash.band_hashes on its batch (data-parallel).
- Candidates: a Spark window over the band hashes chains each LSH bucket in prompt_hash order
  (the order the DuckDB path's ids follow on a build from scratch), each member with the one
  before it; the pairs are verified by minhash.estimated_jaccard in the executors.
- Connected components (union-find over the verified edges, scipy) run on the driver: the
  edges, not the prompts, travel there; labels go back as a small DataFrame, and each member's
  similarity to its cluster's kept member (the smallest prompt_hash) is computed in the
  executors again.
- Eval-set decontamination: mapInArrow over the distinct prompts, each task building the
  benchmark index once (decontam.match_prompts over its batches, in-task DuckDB for the word
  hashes) — the benchmark prompts ship with the task closure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.dedup.decontam import DecontamConfig, load_evalsets, match_prompts
from pipeline.dedup.minhash import MinHashConfig, band_hashes, components, estimated_jaccard, signatures

SIGNED = pa.schema([("prompt_hash", pa.string()), ("signature", pa.binary()), ("bands", pa.list_(pa.int64()))])
CLUSTERS = pa.schema([("prompt_hash", pa.string()), ("cluster_id", pa.string()),
                      ("kept_prompt_hash", pa.string()), ("similarity", pa.float64())])
CONTAMINATION = pa.schema([("prompt_hash", pa.string()), ("benchmark", pa.string()), ("item_id", pa.string()),
                           ("matched_text", pa.string())])

WINDOW_PROMPTS = ("select prompt_hash, min(prompt_text) as prompt_text from {schema}.normalized_events "
                  "where prompt_hash is not null group by prompt_hash")


def sign_batch(batch: pa.RecordBatch, config: MinHashConfig) -> pa.RecordBatch:
    """(prompt_hash, prompt_text) -> (prompt_hash, signature as num_perm little-endian uint32, band hashes)."""
    sigs = signatures(batch.column("prompt_text"), config, workers=1)
    bands = band_hashes(sigs, config).view(np.int64)
    return pa.RecordBatch.from_arrays([
        batch.column("prompt_hash"),
        pa.array([row.tobytes() for row in sigs.astype("<u4")], pa.binary()),
        pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel()), config.bands).cast(pa.list_(pa.int64())),
    ], schema=SIGNED)


def _matrix(column: pa.Array, num_perm: int) -> np.ndarray:
    if len(column) == 0:
        return np.empty((0, num_perm), dtype=np.uint32)
    return np.frombuffer(b"".join(column.to_pylist()), dtype="<u4").reshape(len(column), num_perm)


def similarity_batch(batch: pa.RecordBatch, num_perm: int) -> pa.RecordBatch:
    """(a, b, sig_a, sig_b) -> (a, b, similarity)."""
    sim = estimated_jaccard(_matrix(batch.column("sig_a"), num_perm), _matrix(batch.column("sig_b"), num_perm))
    return pa.RecordBatch.from_arrays([batch.column("a"), batch.column("b"), pa.array(sim, pa.float64())],
                                      names=["a", "b", "similarity"])


def signed_prompts(spark, config: MinHashConfig, schema: str = "prefline"):
    """The window's distinct prompts with their signatures and band hashes (persisted)."""
    prompts = spark.sql(WINDOW_PROMPTS.format(schema=schema))

    def run(batches):
        for batch in batches:
            yield sign_batch(batch, config)

    return prompts.mapInArrow(run, "prompt_hash string, signature binary, bands array<bigint>").persist()


def cluster_prompts(spark, settings: dict | None = None, schema: str = "prefline") -> dict[str, int]:
    """(Re)create schema.prompt_clusters (prompt_hash, cluster_id, kept_prompt_hash, similarity)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    config = MinHashConfig.from_config(settings)
    signed = signed_prompts(spark, config, schema)
    try:
        buckets = signed.select("prompt_hash", F.explode("bands").alias("h"))
        chained = (buckets.withColumn("prev", F.lag("prompt_hash").over(Window.partitionBy("h").orderBy("prompt_hash")))
                   .where("prev is not null").select(F.col("prev").alias("a"), F.col("prompt_hash").alias("b"))
                   .distinct())
        sigs = signed.select("prompt_hash", "signature")
        pairs = (chained.join(sigs.withColumnRenamed("prompt_hash", "a").withColumnRenamed("signature", "sig_a"), "a")
                 .join(sigs.withColumnRenamed("prompt_hash", "b").withColumnRenamed("signature", "sig_b"), "b"))
        num_perm = config.num_perm

        def verify(batches):
            for batch in batches:
                yield similarity_batch(batch, num_perm)

        edges = (pairs.select("a", "b", "sig_a", "sig_b").mapInArrow(verify, "a string, b string, similarity double")
                 .where(F.col("similarity") >= config.threshold).select("a", "b").toArrow())
        # Driver: connected components over the verified edges only.
        a = edges.column("a").to_numpy(zero_copy_only=False).astype(str)
        b = edges.column("b").to_numpy(zero_copy_only=False).astype(str)
        nodes = np.unique(np.concatenate([a, b])) if len(a) else np.empty(0, dtype=str)
        labels = components(len(nodes), np.stack([np.searchsorted(nodes, a), np.searchsorted(nodes, b)], axis=1)
                            if len(a) else np.empty((0, 2), dtype=np.int64))
        # The smallest prompt_hash of each component is its kept member.
        # The smallest prompt_hash of each component is its kept member (nodes are sorted).
        n_labels = int(labels.max()) + 1 if len(labels) else 0
        first = np.full(n_labels, len(nodes), dtype=np.int64)
        np.minimum.at(first, labels, np.arange(len(nodes)))
        members = spark.createDataFrame(pa.table({
            "prompt_hash": pa.array(nodes, pa.string()),
            "kept": pa.array(nodes[first[labels]] if len(nodes) else nodes, pa.string()),
        }))
        with_sigs = (members.join(sigs, "prompt_hash")
                     .join(sigs.withColumnRenamed("prompt_hash", "kept").withColumnRenamed("signature", "sig_b"), "kept")
                     .select(F.col("prompt_hash").alias("a"), F.col("kept").alias("b"),
                             F.col("signature").alias("sig_a"), "sig_b"))
        member_sim = (with_sigs.mapInArrow(verify, "a string, b string, similarity double")
                      .select(F.col("a").alias("prompt_hash"), F.col("b").alias("kept"), "similarity"))
        clusters = (signed.select("prompt_hash").join(member_sim, "prompt_hash", "left").select(
            "prompt_hash",
            F.coalesce("kept", "prompt_hash").alias("cluster_id"),
            F.coalesce("kept", "prompt_hash").alias("kept_prompt_hash"),
            F.coalesce("similarity", F.lit(1.0)).cast("double").alias("similarity")))
        clusters.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.prompt_clusters")
        prompts = signed.count()
    finally:
        signed.unpersist()
    near = int(len(nodes) - n_labels)
    return {"prompts": int(prompts), "clusters": int(prompts) - near, "near_duplicate_prompts": near,
            "prompts_in_near_duplicate_clusters": int(len(nodes)), "edges": int(edges.num_rows)}


def contaminated_prompts(batch: pa.Table, items, config: DecontamConfig) -> pa.Table:
    import duckdb

    with duckdb.connect(config={"threads": 1}) as con:
        con.register("_prompts", batch)
        return match_prompts(con, "select prompt_hash, prompt_text from _prompts", items, config)


def detect_contamination(spark, evalsets_dir: Path, settings: dict | None = None,
                         schema: str = "prefline") -> dict[str, object]:
    """(Re)create schema.prompt_contamination for the window's distinct prompts."""
    config = DecontamConfig.from_config(settings)
    items = load_evalsets(evalsets_dir) if config.enabled else []
    prompts = spark.sql(WINDOW_PROMPTS.format(schema=schema))

    def run(batches):
        for batch in batches:
            found = contaminated_prompts(pa.Table.from_batches([batch]), items, config)
            yield from found.cast(CONTAMINATION).to_batches()

    from pipeline.core.spark_arrow import ddl

    found = prompts.mapInArrow(run, ddl(CONTAMINATION)).orderBy("prompt_hash")
    found.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.prompt_contamination")
    per_benchmark = {r[0]: r[1] for r in spark.sql(
        f"select benchmark, count(*) from {schema}.prompt_contamination group by 1 order by 1").collect()}
    n_prompts = spark.sql(WINDOW_PROMPTS.format(schema=schema)).count()
    contaminated = sum(per_benchmark.values())
    return {"eval_items": len(items), "prompts": int(n_prompts), "contaminated_prompts": int(contaminated),
            "contaminated_share": contaminated / n_prompts if n_prompts else 0.0, "per_benchmark": per_benchmark}
