"""Running prefline's plain Arrow functions as Spark jobs (warehouse.engine: spark).

A stage function takes Arrow data and returns one or more Arrow tables (capture: events,
responses, quarantine). Spark's ``mapInArrow`` and ``applyInArrow`` hand each task Arrow
batches and take one schema back, so several outputs travel as one row type: a ``_output``
column naming the table and one struct column per table, null in the other tables' rows. The
result is persisted once and split into one DataFrame per table, so the function runs once
per input batch however many tables it feeds.

Day tables are written partitioned by ``partition_date``; a day is replaced by Spark's
dynamic partition overwrite (the session sets ``partitionOverwriteMode=dynamic``), the
counterpart of warehouse.partition_replacement on DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

OUTPUT = "_output"

_SPARK_TYPES = {
    pa.string(): "string",
    pa.large_string(): "string",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
    pa.float64(): "double",
    pa.date32(): "date",
    pa.binary(): "binary",
}


def spark_type(arrow_type: pa.DataType) -> str:
    """The Spark SQL type of an Arrow column type prefline's tables use."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{spark_type(arrow_type.value_type)}>"
    try:
        return _SPARK_TYPES[arrow_type]
    except KeyError:
        raise TypeError(f"no Spark type for Arrow type {arrow_type}") from None


def ddl(schema: pa.Schema) -> str:
    """A Spark DDL schema string for an Arrow schema (backquoted names)."""
    return ", ".join(f"`{f.name}` {spark_type(f.type)}" for f in schema)


def spark_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow types Spark hands back and expects for ``schema``'s columns (timestamps are
    microseconds in the session time zone, UTC here; strings are plain utf8)."""
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC")
        elif t == pa.large_string():
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def combined_ddl(outputs: dict[str, pa.Schema]) -> str:
    structs = ", ".join(f"`{name}` struct<{ddl(s).replace('` ', '`: ')}>" for name, s in outputs.items())
    return f"`{OUTPUT}` string, {structs}"


def struct_type(schema: pa.Schema) -> pa.StructType:
    return pa.struct(list(spark_arrow_schema(schema)))


def combined_batches(tables: dict[str, pa.Table], outputs: dict[str, pa.Schema]) -> Iterator[pa.RecordBatch]:
    """One record batch per non-empty table: its rows in its struct column, the others null."""
    types = {name: struct_type(s) for name, s in outputs.items()}
    for name, table in tables.items():
        n = table.num_rows
        if n == 0:
            continue
        table = table.select(outputs[name].names).cast(spark_arrow_schema(outputs[name])).combine_chunks()
        columns = [pa.array([name] * n, pa.string())]
        for other, struct in types.items():
            if other == name:
                columns.append(pa.StructArray.from_arrays(
                    [table.column(i).chunk(0) if table.column(i).num_chunks else pa.array([], struct[i].type)
                     for i in range(table.num_columns)],
                    fields=list(struct)))
            else:
                columns.append(pa.nulls(n, struct))
        yield pa.RecordBatch.from_arrays(columns, names=[OUTPUT, *types])


def split_outputs(df, outputs: dict[str, pa.Schema]) -> dict:
    """The persisted combined DataFrame -> one DataFrame per output table."""
    from pyspark.sql import functions as F

    return {name: df.where(F.col(OUTPUT) == name).select(f"`{name}`.*") for name in outputs}


def map_in_arrow_outputs(df, fn: Callable[[pa.Table], Iterable[dict[str, pa.Table]]], outputs: dict[str, pa.Schema]):
    """Run ``fn`` on each Arrow batch of ``df`` in the executors (``fn`` yields dicts of output
    tables, as many as it likes, so a task streams); returns (persisted combined DataFrame,
    {table: DataFrame}). Unpersist the first once the tables are written."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for tables in fn(pa.Table.from_batches([batch])):
                yield from combined_batches(tables, outputs)

    combined = df.mapInArrow(run, combined_ddl(outputs)).persist()
    return combined, split_outputs(combined, outputs)


def write_day(spark, df, table: str, days: list[str], schema: str = "prefline") -> None:
    """Replace ``days`` of ``schema.table`` with the rows of ``df`` (the table is created
    partitioned by partition_date on first write; columns are matched by name). The days'
    partitions are dropped first, so a day that now has no rows ends empty."""
    name = f"{schema}.{table}"
    if not spark.catalog.tableExists(name):
        df.write.partitionBy("partition_date").format("parquet").saveAsTable(name)
        return
    for day in days:
        spark.sql(f"alter table {name} drop if exists partition (partition_date = date'{day}')")
    columns = spark.table(name).columns
    df.select(*[f"`{c}`" for c in columns]).write.insertInto(name)


def replace_table(spark, df, table: str, schema: str = "prefline") -> None:
    df.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{table}")
