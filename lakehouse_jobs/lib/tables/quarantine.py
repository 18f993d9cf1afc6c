"""The quarantine: one Delta table for every record the lakehouse refused to load.

Lives at `$LAKEHOUSE_ROOT/_system/quarantine` (plugin state, not a medallion layer,
so it never shows up as an input of silver). Each row says where the record came
from (`source_table`, `file`, `line`), what it was (`raw`, the text as read) and
why it was refused (`reason`, plus `expectation` when an expect_or_drop rule
dropped it). Ingestion writes a batch's rows idempotently (a Delta app transaction:
the bronze table's app id, version = the batch number), so a retried batch is
quarantined once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.tables.delta_io import is_delta_table, read_delta

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

QUARANTINE_COLUMNS = ("source_table", "batch", "file", "line", "raw", "reason", "expectation", "run_id", "quarantined_at")
RAW_LIMIT = 100_000  # characters of a refused record kept; a binary blob is not worth more


@dataclass(frozen=True)
class Rejected:
    """One refused record (or a whole unreadable file, with `line=None`)."""

    file: str | None
    line: int | None
    raw: str | None
    reason: str
    expectation: str | None = None


def quarantine_path(lakehouse: Any) -> Path:
    return lakehouse.system_path("quarantine")


def quarantine_schema() -> StructType:
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    types = {"batch": LongType(), "line": LongType(), "quarantined_at": TimestampType()}
    return StructType([StructField(c, types.get(c, StringType()), True) for c in QUARANTINE_COLUMNS])


def append_rejected(lakehouse: Any, rows: Iterable[Rejected], source_table: str, batch: int, run_id: str | None, *, app_id: str) -> bool:
    """Append Python-side rejections at most once per (`app_id`, `batch`); False when already there.

    Written with delta-rs from Arrow, not with Spark: the rows are already in Python,
    and a Spark job for a few rows costs seconds on a cold JVM. The app transaction
    is the same Delta `txn` action Spark's txnAppId writes, checked against the very
    snapshot the commit builds on, so a racing writer of the same batch makes this
    commit fail (and the caller retry and find it there) instead of duplicating it."""
    import pyarrow as pa
    from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

    path = quarantine_path(lakehouse)
    target: Any = str(path)
    if is_delta_table(path):
        target = DeltaTable(str(path))
        if (target.transaction_version(app_id) or -1) >= batch:
            return False
    rows = list(rows)
    now = datetime.now(UTC)
    columns = {
        "source_table": [source_table] * len(rows),
        "batch": [batch] * len(rows),
        "file": [r.file for r in rows],
        "line": [r.line for r in rows],
        "raw": [None if r.raw is None else r.raw[:RAW_LIMIT] for r in rows],
        "reason": [r.reason for r in rows],
        "expectation": [r.expectation for r in rows],
        "run_id": [run_id] * len(rows),
        "quarantined_at": [now] * len(rows),
    }
    data = pa.table(columns, schema=_arrow_schema())
    write_deltalake(target, data, mode="append", commit_properties=CommitProperties(app_transactions=[Transaction(app_id, batch)]))
    return True


def _arrow_schema():
    import pyarrow as pa

    types = {"batch": pa.int64(), "line": pa.int64(), "quarantined_at": pa.timestamp("us", tz="UTC")}
    return pa.schema([pa.field(c, types.get(c, pa.string()), nullable=True) for c in QUARANTINE_COLUMNS])


def conform(df: DataFrame, source_table: str, batch: int | None, run_id: str | None) -> DataFrame:
    """Give a Spark-side rejection frame (file, line, raw, reason[, expectation]) the quarantine's columns."""
    from pyspark.sql import functions as F

    present = set(df.columns)
    filled = {
        "source_table": F.lit(source_table),
        "batch": F.lit(batch).cast("bigint"),
        "run_id": F.lit(run_id).cast("string"),
        "quarantined_at": F.current_timestamp(),
    }
    columns = []
    for name, field in zip(QUARANTINE_COLUMNS, quarantine_schema().fields, strict=False):
        if name in filled:
            columns.append(filled[name].alias(name))
        elif name in present:
            columns.append(F.col(name).cast(field.dataType).alias(name))
        else:
            columns.append(F.lit(None).cast(field.dataType).alias(name))
    return df.select(*columns)


def write_quarantine(spark: SparkSession, df: DataFrame, lakehouse: Any) -> None:
    """Append a Spark DataFrame of rejections (quarantine-shaped, see `conform`) to the quarantine."""
    df.write.format("delta").mode("append").save(str(quarantine_path(lakehouse)))


def read_quarantine(spark: SparkSession, lakehouse: Any, source_table: str | None = None) -> DataFrame:
    """The quarantine (optionally for one `layer.table`); an empty frame before anything was refused."""
    from pyspark.sql import functions as F

    path = quarantine_path(lakehouse)
    if not is_delta_table(path):
        return spark.createDataFrame([], quarantine_schema())
    df = read_delta(spark, path)
    return df if source_table is None else df.filter(F.col("source_table") == source_table)


def quarantined_version(lakehouse: Any, app_id: str) -> int:
    """The last batch the quarantine holds for `app_id` (-1 if none), read from its Delta log."""
    path = quarantine_path(lakehouse)
    log = path / "_delta_log"
    if not log.is_dir() or not any(n.endswith(".json") and n[0].isdigit() for n in os.listdir(log)):
        return -1  # not created yet (or being created right now by another run)
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        version = DeltaTable(str(path)).transaction_version(app_id)
    except TableNotFoundError:
        return -1
    return -1 if version is None else int(version)
