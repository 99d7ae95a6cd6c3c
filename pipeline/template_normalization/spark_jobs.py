"""Template normalization as a Spark job (warehouse.engine: spark).

The day's kept events are grouped by a bucket of their prompt (md5 of the prompt JSON), so
every distinct prompt is parsed and screened once, as on DuckDB; each group's events and their
responses meet in one task (``cogroup().applyInArrow``), which runs the DuckDB path's own
function, normalize.normalize_day_slices, over those Arrow tables (an in-memory DuckDB is the
Arrow SQL engine inside the task: the same SQL, the same RE2 regular expressions, the same
md5). Groups are sized to about CHUNK_EVENTS kept events, so a task holds one slice of texts."""

from __future__ import annotations

import pyarrow as pa

from pipeline.core.spark_arrow import combined_batches, combined_ddl, split_outputs, write_day
from pipeline.template_normalization.normalize import CHUNK_EVENTS, normalize_day_slices

NORMALIZED_EVENTS = pa.schema([
    ("record_id", pa.string()), ("event_id", pa.string()), ("partition_date", pa.date32()),
    ("prompt_messages", pa.string()), ("prompt_text", pa.string()), ("prompt_hash", pa.string()),
    ("template_id", pa.string()), ("template_version", pa.string()), ("pii_kinds", pa.string()),
    ("edited_content", pa.string()), ("edited_hash", pa.string()),
])
NORMALIZED_RESPONSES = pa.schema([
    ("record_id", pa.string()), ("partition_date", pa.date32()), ("position", pa.int32()),
    ("response_id", pa.string()), ("content", pa.string()), ("response_hash", pa.string()), ("model", pa.string()),
])
REJECTIONS = pa.schema([
    ("record_id", pa.string()), ("event_id", pa.string()), ("partition_date", pa.date32()),
    ("reason", pa.string()), ("detail", pa.string()),
])
OUTPUTS = {
    "normalized_events": NORMALIZED_EVENTS,
    "normalized_responses": NORMALIZED_RESPONSES,
    "normalization_rejections": REJECTIONS,
}

_EVENTS = "record_id, event_id, partition_date, prompt_json, label_edited_content"
_RESPONSES = "record_id, partition_date, position, response_id, content, model"


def normalize_group(events: pa.Table, responses: pa.Table, pii_policy: str = "redact") -> pa.Table:
    """One group's kept events (and their responses) normalized: the three output tables as
    one combined Arrow table (see spark_arrow)."""
    import duckdb

    pieces = []
    con = duckdb.connect(config={"threads": 1})
    try:
        con.register("stg_feedback__events", events)
        con.register("int_feedback__filtered", events.select(["record_id", "partition_date"]).append_column(
            "kept", pa.repeat(pa.scalar(True), events.num_rows)))
        con.register("raw_feedback_responses", responses.cast(pa.schema(
            [f.with_type(pa.int32()) if f.name == "position" else f for f in responses.schema])))
        for day in sorted({d.isoformat() for d in events.column("partition_date").to_pylist()}):
            for tables in normalize_day_slices(con, day, pii_policy=pii_policy):
                pieces.extend(combined_batches(tables, OUTPUTS))
    finally:
        con.close()
    if not pieces:
        from pipeline.core.spark_arrow import struct_type

        return pa.table({"_output": pa.array([], pa.string()),
                         **{n: pa.array([], struct_type(s)) for n, s in OUTPUTS.items()}})
    return pa.Table.from_batches(pieces)


def normalize_days(spark, days: list[str], pii_policy: str = "redact", schema: str = "prefline",
                   chunk_events: int = CHUNK_EVENTS) -> dict[str, int]:
    """Normalize the kept events of ``days`` (from the dbt models on Spark) into the three
    Spark tables, replacing those days; returns row counts per table."""
    from pyspark.sql import functions as F

    day_list = ", ".join(f"date'{d}'" for d in days)
    kept = spark.sql(f"""
        select {', '.join('e.' + c.strip() for c in _EVENTS.split(','))}
        from {schema}.stg_feedback__events e
        join {schema}.int_feedback__filtered f on f.record_id = e.record_id
        where f.kept and e.partition_date in ({day_list}) and f.partition_date in ({day_list})
    """)
    n = kept.count()
    buckets = max(spark.sparkContext.defaultParallelism, -(-n // chunk_events))
    bucket = F.pmod(F.conv(F.substring(F.md5("prompt_json"), 1, 8), 16, 10).cast("bigint"), F.lit(buckets))
    # Materialized once: both sides of the cogroup read it (and a self-join needs no aliases).
    kept = kept.withColumn("_bucket", bucket).localCheckpoint()
    responses = spark.sql(f"select {_RESPONSES} from {schema}.raw_feedback_responses "
                          f"where partition_date in ({day_list})").join(
        kept.select("record_id", F.col("_bucket").alias("_response_bucket")), "record_id")

    def run(left: pa.Table, right: pa.Table) -> pa.Table:
        return normalize_group(left.drop_columns(["_bucket"]), right.drop_columns(["_response_bucket"]), pii_policy)

    combined = (kept.groupBy("partition_date", "_bucket")
                .cogroup(responses.groupBy("partition_date", "_response_bucket"))
                .applyInArrow(run, combined_ddl(OUTPUTS))).persist()
    try:
        counts = {row[0]: row[1] for row in combined.groupBy("_output").count().collect()}
        for name, df in split_outputs(combined, OUTPUTS).items():
            write_day(spark, df, name, days, schema)
    finally:
        combined.unpersist()
    return {name: counts.get(name, 0) for name in OUTPUTS}
