"""A batch's data commit: its rows, its manifest and its app transaction in one Delta commit, on either engine.

On the JVM, Spark's writer with `txnAppId`/`txnVersion`: delta-spark skips a batch the table
already holds. Sail's writer accepts those options and does not honour them (a repeated append
wrote its rows twice: probe `txn_idempotent_append`), so there the rows are collected as Arrow
and committed by delta-rs with the same `txn` action, built on the very snapshot the batch was
planned from: a batch the table already holds is skipped, and a racing commit of the same app id
after that snapshot makes this one fail (delta-rs' ConcurrentTransaction) and the run start over
with what is still missing. Either way the commit carries the manifest (`userMetadata`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_jobs.lib.ingest.manifest import committed_tag
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.runtime import sail
from lakehouse_jobs.lib.tables.delta_io import CHANGE_FEED, change_feed_options, is_delta_table
from lakehouse_jobs.lib.tables.delta_rs_write import nullable_arrow

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def commit_batch(data: DataFrame, table: Path, spec: IngestSpec, batch: int, meta: str, tag: str, read_version: int) -> tuple[int | None, int]:
    """Append `data` as batch `batch` of `table`; (its Delta version, rows written), or (None, 0)
    when the table already held the batch (another run committed it)."""
    spark = data.sparkSession
    if sail.is_sail(spark):
        return _commit_with_delta_rs(data, table, spec, batch, meta, tag, read_version)
    writer = data.write.format("delta").mode("append").option("txnAppId", spec.app_id).option("txnVersion", batch)
    writer = writer.option("userMetadata", meta).option("mergeSchema", "true").options(**change_feed_options(spark, table))
    writer.save(str(table))
    version = committed_tag(table, read_version, tag)
    return version, (_output_rows(table, version) if version is not None else 0)


def _commit_with_delta_rs(data: DataFrame, table: Path, spec: IngestSpec, batch: int, meta: str, tag: str, read_version: int) -> tuple[int | None, int]:
    from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

    rows = nullable_arrow(data)
    if read_version < 0:  # no table yet: create it empty (or find a racer's), then append on its first version
        try:  # version 0 or nothing: a racer's creation is the table then
            once = CommitProperties(max_commit_retries=0)
            DeltaTable.create(str(table), schema=rows.schema, mode="ignore", configuration=dict(CHANGE_FEED), commit_properties=once)
        except Exception:
            if not is_delta_table(table):
                raise
        read_version = 0
    snapshot = DeltaTable(str(table), version=read_version)
    if (snapshot.transaction_version(spec.app_id) or -1) >= batch:
        return None, 0
    properties = CommitProperties(custom_metadata={"userMetadata": meta}, app_transactions=[Transaction(spec.app_id, batch)])
    write_deltalake(snapshot, rows, mode="append", schema_mode="merge", commit_properties=properties)
    version = committed_tag(table, read_version, tag)
    return version, (rows.num_rows if version is not None else 0)


def _output_rows(table: Path, version: int) -> int:
    with (table / "_delta_log" / f"{version:020d}.json").open(encoding="utf-8") as handle:
        for line in handle:
            info = json.loads(line).get("commitInfo")
            if info:
                return int((info.get("operationMetrics") or {}).get("numOutputRows", 0))
    return 0
