"""The change data feed of a Delta table between two versions, on either engine.

On the JVM it is Delta's own reader (`readChangeFeed`). Sail has none (and refuses to create
a table with `delta.enableChangeDataFeed`, docs/engines.md), so there the feed is read by
delta-rs (`DeltaTable.load_cdf`, the library the project already reads Delta logs with) and
handed to the session as Arrow: the same rows and columns, `_change_type`,
`_commit_version` and `_commit_timestamp` included.

One difference, on purpose: delta-rs derives the feed from a commit's data files when the
table wrote no change files (a table made on Sail, or before its feed was on): appended
files are inserts, removed files deletes. For an append-only range that is exactly the feed;
for a rewrite it names every row of the rewritten files (a superset of the changed rows), which
an affected-keys refresh may recompute without changing its result. The JVM refuses such a
range ("change data missing") and the refresh recomputes fully.

The rows reach Sail as a staged Parquet file, not as an inline local relation (tables/staging.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

CHANGE_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


def read_changes(spark: SparkSession, path: str | Path, start: int, end: int, columns: Sequence[str] | None = None) -> DataFrame:
    """Rows changed by versions `start..end` of the table at `path`, with the change columns.

    `columns`: the only data columns the caller reads (delta-rs then reads only those; Spark's
    reader prunes the rest by itself, so the JVM's frame keeps them all)."""
    from lakehouse_jobs.lib.runtime import sail

    if sail.is_sail(spark):
        return _through_delta_rs(spark, path, start, end, columns)
    return spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", start).option("endingVersion", end).load(str(path))


def _through_delta_rs(spark: SparkSession, path: str | Path, start: int, end: int, columns: Sequence[str] | None) -> DataFrame:
    """delta-rs reads the feed (Rust, no JVM); the session gets it typed as the table's own columns."""
    import pyarrow as pa
    from deltalake import DeltaTable
    from pyspark.sql.functions import col as spark_col
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    from lakehouse_jobs.lib.tables.staging import stage_arrow

    table_schema = spark.read.format("delta").option("versionAsOf", end).load(str(path)).schema
    wanted = [f for f in table_schema.fields if columns is None or f.name in columns]
    names = [f.name for f in wanted]
    reader = DeltaTable(str(path)).load_cdf(starting_version=start, ending_version=end, columns=[*names, *CHANGE_COLUMNS])
    arrow = _plain_types(pa.RecordBatchReader.from_stream(reader).read_all()).select([*names, *CHANGE_COLUMNS])
    change = [StructField("_change_type", StringType()), StructField("_commit_version", LongType()), StructField("_commit_timestamp", TimestampType())]
    nullable = [StructField(f.name, f.dataType, True, f.metadata) for f in wanted]  # a feed's pre-images may hold nulls a column's writer never did
    schema = StructType([*nullable, *change])
    if arrow.num_rows == 0:
        return spark.createDataFrame([], schema=schema)
    staged = stage_arrow(spark, arrow)
    return staged.select(*[spark_col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _plain_types(table: pa.Table) -> pa.Table:
    """delta-rs answers strings and binaries as Arrow *view* types, which PySpark's converter does not know."""
    import pyarrow as pa

    def plain(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_string_view(kind):
            return pa.large_string()
        if pa.types.is_binary_view(kind):
            return pa.large_binary()
        if pa.types.is_struct(kind):
            return pa.struct([f.with_type(plain(f.type)) for f in kind])
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
            return pa.large_list(kind.value_field.with_type(plain(kind.value_type)))
        if pa.types.is_map(kind):
            return pa.map_(plain(kind.key_type), plain(kind.item_type))
        return kind

    schema = pa.schema([f.with_type(plain(f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)
