"""The published files on warehouse.engine: spark. The marts the export reads are streamed from
Spark to the driver as Arrow and the export's own queries (export.EXPORT_QUERIES) run on them in
an in-process DuckDB, so both engines write the same files with the same code: same rows, same
order, same bytes, same version id. The export is one writer per file and stays on the driver;
the marts it reads are the published rows (already deduplicated, labeled and weighted)."""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

from pipeline.final_preference_set.export import ExportTables

# The warehouse tables export.EXPORT_QUERIES read.
EXPORT_INPUTS = ("fct_preference_pairs", "fct_preference_pair_sources", "fct_kto_rows", "int_events__deduped",
                 "fct_event_outcomes")


@contextmanager
def spark_export_tables(spark, schema: str = "prefline"):
    """Yields export.ExportTables over the Spark marts of ``schema``."""
    con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": False})
    try:
        for name in EXPORT_INPUTS:
            con.register(name, spark.table(f"{schema}.{name}").toArrow())
        yield ExportTables(con)
    finally:
        con.close()
