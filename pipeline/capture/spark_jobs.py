"""Capture as a Spark job (warehouse.engine: spark): one task per landing file runs the same
reader and contract validator as the DuckDB path (landing._capture_batches) and streams its
batches into the raw_feedback_events, raw_feedback_responses and raw_quarantine tables.

Landing files are read by the executors, so on a cluster the landing folder must be storage
every executor sees at the same path (a shared mount). A file is one task: a day split into
many files captures in parallel, one huge file does not."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipeline.capture.landing import (
    BATCH_ROWS,
    EVENTS_SCHEMA,
    MAX_RECORD_BYTES,
    QUARANTINE_SCHEMA,
    RESPONSES_SCHEMA,
    _capture_batches,
    landing_files,
)
from pipeline.core.spark_arrow import map_in_arrow_outputs, write_day

OUTPUTS = {
    "raw_feedback_events": EVENTS_SCHEMA,
    "raw_feedback_responses": RESPONSES_SCHEMA,
    "raw_quarantine": QUARANTINE_SCHEMA,
}


def capture_files(files: pa.Table, batch_rows: int = BATCH_ROWS, max_record_bytes: int = MAX_RECORD_BYTES):
    """The capture of a batch of landing files (columns path, rel, day), batch by batch."""
    for path, rel, day in zip(*(files.column(c).to_pylist() for c in ("path", "rel", "day"))):
        for batch in _capture_batches([(Path(path), rel)], day, batch_rows, max_record_bytes, "fast"):
            yield {"raw_feedback_events": batch.events, "raw_feedback_responses": batch.responses,
                   "raw_quarantine": batch.quarantine}


def capture_day(spark, landing_root: Path, day: str, schema: str = "prefline") -> dict[str, int]:
    """Capture landing_root/<day>/ into the Spark tables, replacing that day; returns row counts."""
    files = [(str(p), f"{day}/{p.name}", day) for p in landing_files(Path(landing_root) / day)]
    rows = {name: 0 for name in OUTPUTS}
    if not files:
        return rows | {"files": 0}
    listing = spark.sparkContext.parallelize(files, numSlices=len(files)).toDF("path string, rel string, day string")
    combined, tables = map_in_arrow_outputs(listing, capture_files, OUTPUTS)
    try:
        rows.update({r[0]: r[1] for r in combined.groupBy("_output").count().collect()})
        for name, df in tables.items():
            write_day(spark, df, name, [day], schema)
    finally:
        combined.unpersist()
    return rows | {"files": len(files)}
