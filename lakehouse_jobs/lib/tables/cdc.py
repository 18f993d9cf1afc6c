"""AUTO CDC / `apply_changes` over Delta MERGE: a change feed -> current state (SCD1) or history (SCD2).

    apply_changes(spark, changes, path, keys=["customer_id"], sequence_by="sequence_num",
                  apply_as_deletes="operation = 'DELETE'", stored_as_scd_type=1)

Events may arrive out of order and more than once: `sequence_by` decides. SCD1 keeps
one row per key (the highest sequence seen, in the target too: an older event
never overwrites a newer row); a delete removes the key. SCD2 keeps every version
with `__START_AT` (its sequence) and `__END_AT` (the next event's sequence, null
while current); a delete closes the current version. The statements are SQL
(`MERGE INTO delta.`path``), so they run the same over Spark Connect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.names import quote, validate_column, validate_columns
from lakehouse_jobs.lib.tables.conflicts import retry_conflicts
from lakehouse_jobs.lib.tables.delta_io import DeltaCommit, check_writable, is_delta_table, last_commit, merge_commit, read_delta, write_tag

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

START, END = "__START_AT", "__END_AT"
_DELETE = "__is_delete"


def _delete_flag(apply_as_deletes: str | Column | None) -> Column:
    from pyspark.sql import functions as F

    if apply_as_deletes is None:
        return F.lit(False)
    condition = F.expr(apply_as_deletes) if isinstance(apply_as_deletes, str) else apply_as_deletes
    return F.coalesce(condition, F.lit(False))


def _columns(df: DataFrame, keys: Sequence[str], sequence_by: str, column_list: Sequence[str] | None, except_column_list: Sequence[str]) -> list[str]:
    names = list(column_list) if column_list else [c for c in df.columns if c not in except_column_list]
    for index, name in enumerate([*keys, sequence_by]):
        if name not in df.columns:
            raise SpecError("keys" if index < len(keys) else "sequence_by", f"column {name!r} is not in the change feed ({', '.join(df.columns)})")
    for name in [*keys, sequence_by]:
        if name not in names:
            names.append(name)
    validate_columns(names, "column_list")
    return names


def apply_changes(
    spark: SparkSession,
    source: DataFrame,
    target: str | Path,
    *,
    keys: Sequence[str],
    sequence_by: str,
    apply_as_deletes: str | Column | None = None,
    stored_as_scd_type: int = 1,
    column_list: Sequence[str] | None = None,
    except_column_list: Sequence[str] = (),
    table: str | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
) -> DeltaCommit:
    """Apply a batch of change events to the Delta table at `target` in one MERGE.

    A retryable Delta conflict runs the whole apply again (SCD2 re-reads the target's
    history) with backoff (tables/conflicts.py); `table` names the table in that error,
    `run_id` goes into the commit's userMetadata."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    validate_columns(keys, "keys")
    validate_column(sequence_by, "sequence_by")
    if not keys:
        raise SpecError("keys", "apply_changes needs at least one key column")
    if stored_as_scd_type not in (1, 2):
        raise SpecError("stored_as_scd_type", f"expected 1 or 2, got {stored_as_scd_type!r}")
    columns = _columns(source, keys, sequence_by, column_list, except_column_list)
    events = source.filter(F.col(quote(sequence_by)).isNotNull()).select(*[F.col(quote(c)) for c in columns], _delete_flag(apply_as_deletes).alias(_DELETE))
    # Duplicate deliveries of one event collapse; on a sequence tie a delete wins.
    events = events.withColumn("_n", F.row_number().over(Window.partitionBy(*keys, sequence_by).orderBy(F.col(_DELETE).desc()))).filter("_n = 1").drop("_n")
    path = str(target)
    check_writable(spark, path, table)
    tag = write_tag(spark, run_id)
    scd = _scd1 if stored_as_scd_type == 1 else _scd2
    commit, attempts = retry_conflicts(lambda: scd(spark, events, path, keys, sequence_by, columns, tag), path, table=table, log=log)
    commit.attempts = attempts
    return commit


def _create(spark: SparkSession, df: DataFrame, path: str, tag: str) -> DeltaCommit:
    df.write.format("delta").mode("overwrite").option("userMetadata", tag).save(path)
    return last_commit(spark, path, tag)


def _scd1(spark: SparkSession, events: DataFrame, path: str, keys: Sequence[str], sequence_by: str, columns: list[str], tag: str) -> DeltaCommit:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest = events.withColumn("_n", F.row_number().over(Window.partitionBy(*keys).orderBy(F.col(quote(sequence_by)).desc()))).filter("_n = 1").drop("_n")
    if not is_delta_table(path):
        return _create(spark, latest.filter(~F.col(_DELETE)).drop(_DELETE), path, tag)
    on = " AND ".join(f"t.{quote(k)} <=> s.{quote(k)}" for k in keys)
    newer = f"s.{quote(sequence_by)} > t.{quote(sequence_by)}"
    assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
    values = ", ".join(f"s.{quote(c)}" for c in columns)
    statement = (
        f"MERGE INTO {{target}} t USING {{source}} s ON {on} "  # noqa: S608 - every name validated and quoted
        f"WHEN MATCHED AND {newer} AND s.{_DELETE} THEN DELETE "
        f"WHEN MATCHED AND {newer} THEN UPDATE SET {assignments} "
        f"WHEN NOT MATCHED AND NOT s.{_DELETE} THEN INSERT ({', '.join(quote(c) for c in columns)}) VALUES ({values})"
    )
    return merge_commit(spark, latest, path, statement, tag)


def _history_events(spark: SparkSession, path: str, keys: Sequence[str], sequence_by: str, columns: list[str]) -> DataFrame | None:
    """The target's history turned back into events: each version's start, and deletes
    (a version closed at a sequence where no version of that key starts)."""
    from pyspark.sql import functions as F

    if not is_delta_table(path):
        return None
    history = read_delta(spark, path)
    starts = history.select(*[F.col(quote(c)) for c in columns], F.lit(False).alias(_DELETE))
    ended = history.filter(F.col(END).isNotNull()).select(*[F.col(quote(k)) for k in keys], F.col(END).alias("_at"))
    begun = history.select(*[F.col(quote(k)) for k in keys], F.col(START).alias("_at"))
    closes = ended.join(begun, [*keys, "_at"], "left_anti")
    deletes = closes.select(
        *[
            F.col(quote(c)) if c in keys else (F.col("_at").alias(c) if c == sequence_by else F.lit(None).cast(history.schema[c].dataType).alias(c))
            for c in columns
        ],
        F.lit(True).alias(_DELETE),
    )
    return starts.unionByName(deletes)


def _scd2(spark: SparkSession, events: DataFrame, path: str, keys: Sequence[str], sequence_by: str, columns: list[str], tag: str) -> DeltaCommit:
    """Rebuild the versions of every key from the target's history plus the new events, then
    MERGE the difference (unchanged versions are not rewritten as new rows)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    old = _history_events(spark, path, keys, sequence_by, columns)
    if old is not None:
        events = old.unionByName(events.select(*old.columns))
        events = events.withColumn("_n", F.row_number().over(Window.partitionBy(*keys, sequence_by).orderBy(F.col(_DELETE).desc()))).filter("_n = 1").drop("_n")
    order = Window.partitionBy(*keys).orderBy(F.col(quote(sequence_by)))
    versions = (
        events.withColumn(END, F.lead(F.col(quote(sequence_by))).over(order))
        .filter(~F.col(_DELETE))
        .withColumn(START, F.col(quote(sequence_by)))
        .select(*[F.col(quote(c)) for c in columns], START, END)
    )
    if old is None:
        return _create(spark, versions, path, tag)
    on = " AND ".join([*(f"t.{quote(k)} <=> s.{quote(k)}" for k in keys), f"t.{START} <=> s.{START}"])
    changed = " OR ".join(f"NOT (t.{quote(c)} <=> s.{quote(c)})" for c in [*columns, END])
    statement = (
        f"MERGE INTO {{target}} t USING {{source}} s ON {on} "
        f"WHEN MATCHED AND ({changed}) THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT * "
        "WHEN NOT MATCHED BY SOURCE THEN DELETE"
    )
    return merge_commit(spark, versions, path, statement, tag)


def scd2_current(history: DataFrame) -> DataFrame:
    """The current versions of an SCD2 table (what SCD1 would hold)."""
    from pyspark.sql import functions as F

    return history.filter(F.col(END).isNull())


def describe_changes(commit: DeltaCommit) -> dict[str, Any]:
    keys = ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")
    return {k: commit.metrics.get(k, 0) for k in keys}


def changes_asset(
    *,
    layer: str,
    name: str,
    source: str,
    keys: Sequence[str],
    sequence_by: str,
    apply_as_deletes: str | None = None,
    stored_as_scd_type: int = 1,
    column_list: Sequence[str] | None = None,
    except_column_list: Sequence[str] = (),
    owners: Sequence[str] | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare `<layer>/<name>` as `apply_changes` of the change feed the function prepares
    from the table `source` (it returns a DataFrame or a TableOutput with extra metadata)."""
    import inspect

    import dagster as dg

    from lakehouse_jobs.lib.tables.delta_io import describe
    from lakehouse_jobs.lib.tables.medallion import TableOutput, read_table, runtime, table_asset_args, table_key

    upstream = table_key(source, "source")
    table_key([layer, name], "name")  # refuses a bad layer or table name at declaration

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        @dg.asset(
            **table_asset_args(
                layer,
                name,
                description=description or inspect.getdoc(fn),
                owners=owners,
                metadata={"write_mode": f"apply_changes (SCD type {stored_as_scd_type})", "merge_keys": list(keys), "sequence_by": sequence_by},
            ),  # fmt: skip
            deps=[upstream],
        )
        def _asset(context):  # noqa: ANN001 - dg is imported locally
            spark, lakehouse = runtime(context)
            result = fn(read_table(spark, lakehouse, upstream))
            output = result if isinstance(result, TableOutput) else TableOutput(result)
            commit = apply_changes(
                spark, output.df, lakehouse.table_path(layer, name), keys=keys, sequence_by=sequence_by,
                apply_as_deletes=apply_as_deletes, stored_as_scd_type=stored_as_scd_type,
                column_list=column_list, except_column_list=except_column_list,
                table=f"{layer}/{name}", run_id=context.run_id, log=context.log.warning,
            )  # fmt: skip
            return dg.MaterializeResult(metadata={**describe(spark, commit), **describe_changes(commit), **output.metadata})

        return _asset

    return decorator
