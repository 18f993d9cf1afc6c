"""On Sail, a table step's write committed by delta-rs, which writes the change data feed Sail cannot.

Sail (pysail 0.7.2) cannot write a table whose protocol has the change data feed ("Unsupported
table features required: [ChangeDataFeed]", probe `write_cdf_table`), nor create one ("Table
features must be specified"), and every table the project makes has it, so its incremental
consumers read only what changed (`delta_io.CHANGE_FEED`). delta-rs writes such tables and their
change data (`_change_data` files for MERGE and predicate overwrites; appends and overwrites are
read from their add/remove actions, as Delta's reader does), so on Sail `write_delta` (medallion
tables, pipeline datasets) collects the result as Arrow and commits it with delta-rs, one commit
carrying the userMetadata Spark's writer would carry (run tag, refresh bookmark, task lineage).
A table made on either engine is then the same table, and the engines can take turns on it:
- a new table: created with its rows and the change data feed (a racer's creation fails the
  commit and the write runs again as Spark's loser would: tables/conflicts.py);
- overwrite: the table replaced, schema included (Spark's `overwriteSchema`);
- overwrite with `replaceWhere`: rows outside the predicate refused first (as the JVM's Delta
  refuses them), then only the rows it matches replaced (`predicate=`; delta-rs reads Spark's
  backticks, `<=>` and typed literals, measured);
- append: the table's schema enforced, or evolved with `merge_schema` (Spark's `mergeSchema`);
- merge: the same MERGE as `delta_io._merge` (`<=>` on the keys, UPDATE SET *, INSERT *, NOT
  MATCHED BY SOURCE DELETE, schema evolution); two source rows matching one target row are refused.
Where it differs from the JVM: the commit's `operationMetrics` use delta-rs' names
(`num_added_rows`, `num_target_rows_updated`, ...; `spark_metrics` adds Spark's names for them), and the result passes through the run's memory as Arrow (Sail's own writer
streams it): fine for laptop-scale tables, measured in bench/engines.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.names import quote

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame


# delta-rs' operationMetrics -> Spark's names for the same counts (Delta's WRITE and MERGE metrics)
SPARK_NAMES = {
    "num_added_rows": "numOutputRows", "num_added_files": "numFiles", "num_removed_files": "numRemovedFiles",
    "num_source_rows": "numSourceRows", "num_output_rows": "numOutputRows", "num_target_rows_inserted": "numTargetRowsInserted",
    "num_target_rows_updated": "numTargetRowsUpdated", "num_target_rows_deleted": "numTargetRowsDeleted",
    "num_target_rows_copied": "numTargetRowsCopied", "num_target_files_added": "numTargetFilesAdded",
    "num_target_files_removed": "numTargetFilesRemoved",
}  # fmt: skip


def spark_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A commit's `metrics` with Spark's names added for delta-rs' counts (a Spark commit's are left as they are)."""
    return {**metrics, **{SPARK_NAMES[k]: v for k, v in metrics.items() if k in SPARK_NAMES and SPARK_NAMES[k] not in metrics}}


def nullable_arrow(df: DataFrame) -> pa.Table:
    """`df`'s rows as Arrow with every column nullable, as Spark declares every Delta column it writes."""
    import pyarrow as pa

    rows = df.toArrow()
    return rows.cast(pa.schema([f.with_nullable(True) for f in rows.schema]))


def merge_predicate(keys: Sequence[str]) -> str:
    """The MERGE condition on `keys` (validated names), NULL matching NULL: Spark's and delta-rs' `<=>`."""
    return " AND ".join(f"t.{quote(k)} <=> s.{quote(k)}" for k in keys)


def write(df: DataFrame, path: str, mode: str, tag: str | None, *, merge_keys: Sequence[str] = (), delete_unmatched: bool = False,
          merge_schema: bool = False, partition_by: Sequence[str] = (), replace_where: str | None = None,
          create_with: dict[str, str] | None = None, overwrite_schema: bool = True) -> None:  # fmt: skip
    """Commit `df` to the Delta table at `path` (`mode`: overwrite, append or merge) with userMetadata `tag`;
    with `create_with` (the new table's properties) there is no table yet: it is created with the rows.
    `overwrite_schema=False`: an overwrite keeps the table's schema (evolved with `merge_schema`), as Spark's does."""
    from deltalake import CommitProperties, DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    rows = nullable_arrow(df)
    properties = CommitProperties(custom_metadata={"userMetadata": tag} if tag else None)
    if create_with is not None:
        try:
            write_deltalake(path, rows, mode="error", partition_by=list(partition_by) or None, configuration=create_with, commit_properties=properties)
        except DeltaError as exc:
            if "A table already exists" in str(exc):  # a racer created it first: a lost commit, run again (tables/conflicts.py)
                raise CommitFailedError(f"another writer created the table at {path} first") from None
            raise
        return
    table = DeltaTable(path)
    if mode == "merge":
        merger = table.merge(rows, merge_predicate(merge_keys), source_alias="s", target_alias="t", merge_schema=merge_schema, commit_properties=properties)
        merger = merger.when_matched_update_all().when_not_matched_insert_all()
        if delete_unmatched:
            merger = merger.when_not_matched_by_source_delete()
        merger.execute()
        return
    options: dict[str, Any] = {"commit_properties": properties, "partition_by": list(partition_by) or None}
    if mode == "append":
        options.update(mode="append", schema_mode="merge" if merge_schema else None)
    elif replace_where is not None:
        options.update(mode="overwrite", predicate=replace_where, schema_mode="merge" if merge_schema else None)
    else:
        options.update(mode="overwrite", schema_mode="overwrite" if overwrite_schema else ("merge" if merge_schema else None))
    write_deltalake(table, rows, **options)


def save_by_writer(df: DataFrame, path: str, mode: str | None, options: Mapping[str, Any], partition_by: Sequence[str]) -> bool:
    """A Spark DataFrameWriter's `save(path)` of user code on Sail, to a table with the change data feed (which Sail
    cannot write): committed here with Spark's meaning of the writer's mode and options; False when nothing was
    written (mode `ignore` on an existing table). Its `userMetadata` option rides along (observed lineage)."""
    lowered = {k.lower(): v for k, v in options.items()}
    truthy = lambda key: str(lowered.get(key, "false")).lower() == "true"  # noqa: E731
    wanted = (mode or "errorifexists").lower()
    if wanted == "ignore":
        return False
    from pyspark.errors import AnalysisException

    if wanted in ("error", "errorifexists", "default"):
        raise AnalysisException(f"[DELTA_PATH_EXISTS] Cannot write to already existent path {path} without setting OVERWRITE = 'true'.")
    predicate = lowered.get("replacewhere") if wanted == "overwrite" else None
    if predicate and df.filter(f"NOT coalesce(({predicate}), false)").limit(1).count():  # Spark's Delta refuses them; delta-rs writes them
        raise AnalysisException(
            f"[DELTA_REPLACE_WHERE_MISMATCH] Written data does not conform to partial table overwrite condition or constraint '{predicate}'."
        )
    write(
        df, path, "overwrite" if wanted == "overwrite" else "append", lowered.get("usermetadata"), merge_schema=truthy("mergeschema"),
        partition_by=partition_by, replace_where=predicate, overwrite_schema=truthy("overwriteschema"),
    )  # fmt: skip
    return True
