"""On Sail, a table step's write to a table with the change data feed, committed by delta-rs.

Sail (pysail 0.7.2) cannot write a table whose protocol has the change data feed ("Unsupported
table features required: [ChangeDataFeed]", probe `write_cdf_table`), and every table a JVM run
wrote has it (`delta_io.change_feed_options`): without this, a lakehouse the JVM built once
(`make materialize`) would send every later refresh back to the JVM. delta-rs writes such
tables and their change data (`_change_data` files for MERGE and predicate overwrites; appends
and overwrites are read from their add/remove actions, as Delta's reader does), so there the
result is collected as Arrow and committed by delta-rs in one commit carrying the same
userMetadata Spark's writer would carry (run tag, refresh bookmark, task lineage):
- overwrite: the table replaced, schema included (Spark's `overwriteSchema`);
- overwrite with `replaceWhere`: rows outside the predicate refused first (as the JVM's Delta
  refuses them), then only the rows it matches replaced (`predicate=`; delta-rs reads Spark's
  backticks, `<=>` and typed literals, measured);
- append: the table's schema enforced, or evolved with `merge_schema` (Spark's `mergeSchema`);
- merge: the same MERGE as `delta_io._merge` (`<=>` on the keys, UPDATE SET *, INSERT *, NOT
  MATCHED BY SOURCE DELETE, schema evolution); two source rows matching one target row are refused.
Where it differs from the JVM: the commit's `operationMetrics` use delta-rs' names
(`num_added_rows`, `num_target_rows_updated`, ...) and its operation is delta-rs' (`WRITE`,
`MERGE`). A new table is still written by Sail itself (it cannot set the property: no feed until
a JVM write gives it one; docs/engines.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.names import quote

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame


def nullable_arrow(df: DataFrame) -> pa.Table:
    """`df`'s rows as Arrow with every column nullable, as Spark declares every Delta column it writes."""
    import pyarrow as pa

    rows = df.toArrow()
    return rows.cast(pa.schema([f.with_nullable(True) for f in rows.schema]))


def merge_predicate(keys: Sequence[str]) -> str:
    """The MERGE condition on `keys` (validated names), NULL matching NULL: Spark's and delta-rs' `<=>`."""
    return " AND ".join(f"t.{quote(k)} <=> s.{quote(k)}" for k in keys)


def write(df: DataFrame, path: str, mode: str, tag: str, *, merge_keys: Sequence[str] = (), delete_unmatched: bool = False,
          merge_schema: bool = False, partition_by: Sequence[str] = (), replace_where: str | None = None) -> None:  # fmt: skip
    """Commit `df` to the existing Delta table at `path` (`mode`: overwrite, append or merge) with userMetadata `tag`."""
    from deltalake import CommitProperties, DeltaTable, write_deltalake

    rows = nullable_arrow(df)
    properties = CommitProperties(custom_metadata={"userMetadata": tag})
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
        options.update(mode="overwrite", schema_mode="overwrite")
    write_deltalake(table, rows, **options)
