"""Read raw landing files into bronze rows, with lineage columns.

Bronze keeps every field as the producer sent it (strings), plus `_source_file`
and `_ingested_at`; typing happens in silver, where a bad value can be counted
instead of failing the load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_jobs.lib.engine_setting import ON_JVM
from lakehouse_jobs.lib.errors import SetupError, SpecError
from lakehouse_jobs.lib.names import validate_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

FORMATS = ("csv", "json")
CORRUPT = "_corrupt_record"


def landing_files(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    """Data files below `folder` (recursive), hidden and temporary files excluded, resolved and
    confined to `folder` (a link leading outside it is left out: see `ingest/discovery.py`)."""
    from lakehouse_jobs.lib.ingest.discovery import discover

    folder = folder.resolve()
    return discover(folder, suffixes).files if folder.is_dir() else []


def raw_schema(columns: Sequence[str], fmt: str) -> StructType:
    from pyspark.sql.types import StringType, StructField, StructType

    fields = [StructField(c, StringType(), True) for c in columns]
    if fmt == "json":
        fields.append(StructField(CORRUPT, StringType(), True))
    return StructType(fields)


def read_landing(
    spark: SparkSession,
    files: Sequence[Path | str],
    fmt: str,
    columns: Sequence[str],
) -> DataFrame:
    """Read `files` with every column as a string, plus `_source_file` and `_ingested_at`."""
    from pyspark.sql import functions as F

    if fmt not in FORMATS:
        raise SpecError("format", f"unknown landing format {fmt!r}; expected one of {', '.join(FORMATS)}")
    validate_columns(columns, "columns")
    schema = raw_schema(columns, fmt)
    if not files:
        df = spark.createDataFrame([], schema)
        return df.withColumn("_source_file", F.lit(None).cast("string")).withColumn("_ingested_at", F.current_timestamp())
    from lakehouse_jobs.lib.ingest.read import source_file, spark_paths
    from lakehouse_jobs.lib.runtime import sail

    if sail.is_sail(spark):  # its CSV reader fails on a malformed record, and it has no _metadata.file_path
        raise SetupError(
            f"read_landing cannot run on the sail engine: it needs Spark's PERMISSIVE reader and {sail.LACKS['file_lineage']}, which pysail {sail.PYSAIL_PIN} lacks; "
            f"ingestion_asset reads CSV on Sail (docs/engines.md); {ON_JVM}."
        )

    paths = spark_paths([Path(f) for f in files])
    if fmt == "csv":
        df = spark.read.schema(schema).option("header", "true").option("mode", "PERMISSIVE").csv(paths)
    else:
        df = spark.read.schema(schema).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT).json(paths)
    return df.withColumn("_source_file", source_file()).withColumn("_ingested_at", F.current_timestamp())
