"""Write a Spark DataFrame to a Delta table in one transaction and describe the commit.

Three write modes, as a medallion table needs them: `overwrite` (replace the
table, schema included), `append`, and `merge` (upsert on keys, optionally
deleting target rows the source no longer has).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.engine_setting import ENGINE_ENV, ON_JVM
from lakehouse_jobs.lib.errors import LakehouseError, SetupError, SpecError
from lakehouse_jobs.lib.names import validate_columns
from lakehouse_jobs.lib.tables import delta_rs_write
from lakehouse_jobs.lib.tables.conflicts import retry_conflicts, run_of
from lakehouse_jobs.lib.tables.lakehouse import is_delta_table
from lakehouse_jobs.lib.tables.write_errors import check_replace_where, explain

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

WRITE_MODES = ("overwrite", "append", "merge")
USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
# Tables the plugin creates keep Delta's change data feed, so incremental consumers
# (tables/incremental.py) read only what changed; appends and overwrites cost nothing
# more, MERGE/UPDATE/DELETE also write their changed rows under _change_data.
CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}


@dataclass(frozen=True)
class WriteSpec:
    """How a DataFrame lands in its table; validated when the asset is declared."""

    mode: str = "overwrite"
    merge_keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    delete_unmatched: bool = False
    merge_schema: bool = False

    def __post_init__(self) -> None:
        if self.mode not in WRITE_MODES:
            raise SpecError("write_mode", f"unknown write mode {self.mode!r}; expected one of {', '.join(WRITE_MODES)}")
        validate_columns(self.merge_keys, "merge_keys")
        validate_columns(self.partition_by, "partition_by")
        if self.mode == "merge" and not self.merge_keys:
            raise SpecError("merge_keys", "write_mode 'merge' needs at least one merge key")
        if self.mode != "merge" and (self.merge_keys or self.delete_unmatched):
            raise SpecError("merge_keys", f"merge_keys/delete_unmatched only apply to write_mode 'merge', not {self.mode!r}")


@dataclass
class DeltaCommit:
    """What one write did: the table version it produced and Delta's own metrics."""

    path: str
    version: int
    operation: str
    metrics: dict[str, int] = field(default_factory=dict)
    attempts: int = 1  # > 1 when concurrent commits won first and the write ran again (tables/conflicts.py)
    committed: bool = True  # False: Delta made no commit (e.g. a MERGE of no rows); version/operation are the table's latest
    tagged: bool = True  # the commit carries the writer's userMetadata (Sail's MERGE drops it)


def change_feed_options(spark: SparkSession, path: str | Path) -> dict[str, str]:
    """Writer options that give the table at `path` its change data feed.

    A new table gets it at creation (the options); an existing one without it (made before
    this release, or by another tool) gets it once by ALTER TABLE, a metadata-only commit,
    so its consumers read changes from then on. On Sail, which refuses the property ("Table
    features must be specified"), neither (medallion writes there are delta-rs', which gives
    it: `write_delta`): a table Sail's writer made gets its feed at its next write on the JVM,
    and an incremental consumer recomputes fully until then ("change data missing")."""
    from lakehouse_jobs.lib.runtime import sail

    if sail.is_sail(spark):
        return {}
    if not is_delta_table(path):
        return dict(CHANGE_FEED)
    if change_feed_enabled(path) is False:
        spark.sql(f"ALTER TABLE {sql_path(path)} SET TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    return {}


def check_writable(spark: SparkSession, path: str | Path, table: str | None = None) -> None:
    """Refuse, before anything is written, a Spark write Sail cannot do: a table with the change data feed (every
    table a JVM run wrote) needs the table feature Sail lacks ("Unsupported table features required: [ChangeDataFeed]")."""
    from lakehouse_jobs.lib.runtime import sail

    if sail.is_sail(spark) and change_feed_enabled(path):
        raise SetupError(
            f"{table or path} has the change data feed (a run on the JVM engine wrote it), which pysail {sail.PYSAIL_PIN} cannot write "
            f"(docs/engines.md; {ENGINE_ENV}=auto runs such a step on the JVM); {ON_JVM}."
        )


def change_feed_enabled(path: str | Path) -> bool | None:
    """Whether the Delta table at `path` has its change data feed on (None: no table, or one delta-rs cannot read)."""
    if not is_delta_table(path):
        return None
    try:
        from deltalake import DeltaTable

        return DeltaTable(str(path)).metadata().configuration.get("delta.enableChangeDataFeed", "false").lower() == "true"
    except Exception:  # noqa: BLE001 - a table delta-rs cannot read: leave it as it is
        return None


def _check_columns(df: DataFrame, spec: WriteSpec) -> None:
    columns = set(df.columns)
    for label, names in (("merge_keys", spec.merge_keys), ("partition_by", spec.partition_by)):
        for index, name in enumerate(names):
            if name not in columns:
                raise SpecError(f"{label}[{index}]", f"column {name!r} is not in the result (columns: {', '.join(df.columns)})")


def write_tag(spark: SparkSession, run_id: str | None = None) -> str:
    """A commit's userMetadata: `lakehouse_jobs:<run_id>:<unique>`, so a writer that loses a
    conflict can name the run that won (tables/conflicts.py). Without `run_id`, the run of
    the task identity observed lineage set on the session (jobs/lineage.py), if any."""
    if run_id is None:
        try:
            run_id = run_of(spark.conf.get(USER_METADATA_CONF, None))
        except Exception:  # noqa: BLE001 - a stopped session: the write itself will say so
            run_id = None
    return f"lakehouse_jobs:{run_id}:{uuid.uuid4().hex}" if run_id else f"lakehouse_jobs:{uuid.uuid4().hex}"


def write_delta(
    spark: SparkSession,
    df: DataFrame,
    path: str | Path,
    spec: WriteSpec,
    *,
    table: str | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
    record: str = "",
    replace_where: str | None = None,
) -> DeltaCommit:
    """Commit `df` to the Delta table at `path` according to `spec`; return the commit.

    A retryable Delta conflict runs the write again with backoff (tables/conflicts.py);
    `table` names the table in that error, `run_id` goes into the commit's userMetadata,
    `log` hears about each retry. `record` follows the tag in userMetadata (an incremental
    refresh's bookmark, committed with the data); `replace_where` (overwrite only) replaces
    just the rows it matches, in the same one commit."""
    from lakehouse_jobs.lib.runtime import sail

    _check_columns(df, spec)
    path = str(path)
    tag = write_tag(spark, run_id) + record

    def attempt() -> DeltaCommit | None:
        # Decided again on every attempt: the loser of a race creating the table merges/appends on retry.
        if sail.is_sail(spark):  # Sail cannot write the change data feed every table here has: delta-rs commits (tables/delta_rs_write.py)
            return _write_with_delta_rs(df, path, spec, tag, replace_where)
        if spec.mode == "merge" and is_delta_table(path):
            change_feed_options(spark, path)
            return _merge(spark, df, path, spec, tag)
        writer = df.write.format("delta").option("userMetadata", tag).options(**change_feed_options(spark, path))
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        if spec.mode == "append":
            writer = writer.mode("append").option("mergeSchema", str(spec.merge_schema).lower())
        elif replace_where is not None and is_delta_table(path):
            writer = writer.mode("overwrite").option("replaceWhere", replace_where).option("mergeSchema", str(spec.merge_schema).lower())
        else:
            writer = writer.mode("overwrite").option("overwriteSchema", "true")
        try:
            writer.save(path)
        except Exception as exc:
            raise explain(exc, path) from exc
        return None

    merged, attempts = retry_conflicts(attempt, path, table=table, log=log)
    commit = merged or last_commit(spark, path, tag)
    if record and not (commit.committed and commit.tagged):
        # Delta commits nothing for a MERGE or replaceWhere of no rows; the bookmark must still advance,
        # or the same empty range would be read again by every later refresh. A metadata-only commit carries it.
        # On Sail it also follows each MERGE, whose commit drops userMetadata (docs/engines.md).
        retry_conflicts(lambda: _bookmark_commit(spark, path, tag), path, table=table, log=log)
        if not commit.committed:
            commit = last_commit(spark, path, tag)
            commit.committed = False
    commit.attempts = attempts
    return commit


def _write_with_delta_rs(df: DataFrame, path: str, spec: WriteSpec, tag: str, replace_where: str | None) -> None:
    exists = is_delta_table(path)
    replace_where = replace_where if exists and spec.mode == "overwrite" else None
    if replace_where is not None:
        check_replace_where(df, replace_where, path)
    try:
        delta_rs_write.write(
            df, path, spec.mode, tag, merge_keys=spec.merge_keys, delete_unmatched=spec.delete_unmatched, merge_schema=spec.merge_schema,
            partition_by=spec.partition_by, replace_where=replace_where, create_with=None if exists else dict(CHANGE_FEED),
        )  # fmt: skip
    except Exception as exc:
        raise explain(exc, path, spec.merge_keys) from exc


def _version(path: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(path).version()


HISTORY_READS = 20


def _history(path: str | Path, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` commit infos, each with its version.

    delta-rs numbers them down from the version it loaded, but lists the log afresh: a commit landing in
    between shifts every number by one (measured: two appenders racing, the first commit read as -1).
    Read again until the newest number matches the table's version loaded after the listing; a log that
    keeps changing through HISTORY_READS reads is an error (last_commit then asks Spark, whose history is
    read from one snapshot)."""
    from deltalake import DeltaTable

    for _ in range(HISTORY_READS):
        rows = DeltaTable(str(path)).history(limit)
        if not rows or rows[0]["version"] == DeltaTable(str(path)).version():
            return rows
    raise LakehouseError(f"the Delta log of {path} kept changing while its history was read ({HISTORY_READS} reads)")


def _untagged_merge(path: str, before: int) -> DeltaCommit | None:
    """Sail's MERGE commit, which carries no userMetadata: the untagged MERGE after version `before`
    (the table's pool lets one writer at a time in); None when the MERGE committed nothing."""
    for row in _history(path, 5):
        if row["version"] > before and row.get("operation") == "MERGE" and not row.get("userMetadata"):
            return DeltaCommit(path=path, version=int(row["version"]), operation="MERGE", metrics=_int_metrics(row), tagged=False)
    return None


def _bookmark_commit(spark: SparkSession, path: str, tag: str) -> None:
    """A commit without data whose userMetadata is `tag` (an ALTER TABLE; on Sail, which has no ALTER for a
    path, an empty delta-rs append)."""
    from lakehouse_jobs.lib.runtime import sail

    if sail.is_sail(spark):
        import pyarrow as pa
        from deltalake import CommitProperties, DeltaTable, write_deltalake

        table = DeltaTable(path)
        empty = pa.schema(table.schema().to_arrow()).empty_table()
        properties = CommitProperties(custom_metadata={"userMetadata": tag})
        write_deltalake(table, empty, mode="append", partition_by=table.metadata().partition_columns or None, commit_properties=properties)
        return
    with commit_metadata(spark, tag):
        spark.sql(f"ALTER TABLE {sql_path(path)} SET TBLPROPERTIES ('lakehouse_jobs.refreshed' = '{uuid.uuid4().hex}')")


def sql_path(path: str | Path) -> str:
    """`delta.`<path>`` for SQL; paths come from validated names, a backtick is refused."""
    text = str(path)
    if "`" in text:
        raise SpecError("path", f"a table path may not contain a backtick: {text}")
    return f"delta.`{text}`"


def _merge(spark: SparkSession, df: DataFrame, path: str, spec: WriteSpec, tag: str) -> None:
    """MERGE INTO in SQL, so it works the same on classic Spark and over Spark Connect."""
    condition = delta_rs_write.merge_predicate(spec.merge_keys)
    statement = (
        f"MERGE {'WITH SCHEMA EVOLUTION ' if spec.merge_schema else ''}INTO {{target}} t USING {{source}} s ON {condition} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *" + (" WHEN NOT MATCHED BY SOURCE THEN DELETE" if spec.delete_unmatched else "")
    )
    try:
        return merge_commit(spark, df, path, statement, tag)
    except Exception as exc:
        raise explain(exc, path, spec.merge_keys) from exc


def merge_commit(spark: SparkSession, df: DataFrame, path: str, statement: str, tag: str) -> DeltaCommit:
    """Run a MERGE (`merge_sql`) and return its commit (`committed=False`: it changed no row).

    On Sail, whose MERGE drops userMetadata, the commit is the untagged MERGE after the version the
    statement started from (`tagged=False`)."""
    from lakehouse_jobs.lib.runtime import sail

    before = _version(path) if sail.is_sail(spark) else None
    merge_sql(spark, df, path, statement, tag)
    commit = last_commit(spark, path, tag)
    if not commit.committed and before is not None:
        commit = _untagged_merge(path, before) or commit
    return commit


def merge_sql(spark: SparkSession, df: DataFrame, path: str | Path, statement: str, tag: str | None = None) -> str:
    """Run a MERGE `statement` whose `{target}`/`{source}` name the table and `df`; return the commit tag.

    The tag goes into the commit's userMetadata so `last_commit` finds this very commit.
    """
    from lakehouse_jobs.lib.runtime import sail
    from lakehouse_jobs.lib.tables.staging import stage_frame

    tag = tag or write_tag(spark)
    view = f"_lakehouse_merge_{uuid.uuid4().hex}"
    (stage_frame(df) if sail.is_sail(spark) else df).createOrReplaceTempView(view)  # Sail's MERGE computes its source more than once
    try:
        with commit_metadata(spark, tag):
            spark.sql(statement.format(target=sql_path(path), source=view))
    finally:
        spark.catalog.dropTempView(view)
    return tag


@contextlib.contextmanager
def commit_metadata(spark: SparkSession, tag: str) -> Iterator[None]:
    """Every Delta commit of the session inside carries `tag` in commitInfo.userMetadata (SQL has no writer option)."""
    previous = spark.conf.get(USER_METADATA_CONF, None)
    spark.conf.set(USER_METADATA_CONF, tag)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(USER_METADATA_CONF)
        else:
            spark.conf.set(USER_METADATA_CONF, previous)


def last_commit(spark: SparkSession, path: str, tag: str | None = None) -> DeltaCommit:
    """The commit carrying `tag` (or the latest one) with its operation metrics as ints.

    Read from the table's _delta_log with delta-rs (milliseconds); Spark's
    DESCRIBE HISTORY (a Spark job) only when delta-rs cannot read the table.
    """
    try:
        rows = _history(path, 20)
    except Exception:  # noqa: BLE001 - a table feature delta-rs lacks: ask Spark
        rows = [r.asDict() for r in spark.sql(f"DESCRIBE HISTORY {sql_path(path)} LIMIT 20").collect()]
    match = next((r for r in rows if tag is None or r.get("userMetadata") == tag), None)
    committed = match is not None
    match = match or rows[0]
    return DeltaCommit(path=path, version=int(match["version"]), operation=match["operation"], metrics=_int_metrics(match), committed=committed)


def _int_metrics(commit: dict[str, Any]) -> dict[str, int]:
    metrics = delta_rs_write.spark_metrics(commit.get("operationMetrics") or {})
    return {k: int(v) for k, v in metrics.items() if str(v).lstrip("-").isdigit()}


def _log_row_count(path: str | Path) -> int | None:
    """Rows of the current version from the log's per-file statistics, or None if they can't say."""
    try:
        from deltalake import DeltaTable

        table = DeltaTable(str(path))
        if "deletionVectors" in (table.protocol().reader_features or []):
            return None  # file stats count rows a deletion vector has removed
        counts = table.get_add_actions(flatten=True).column("num_records").to_pylist()
    except Exception:  # noqa: BLE001 - unreadable by delta-rs: let Spark count
        return None
    return None if any(c is None for c in counts) else int(sum(counts))


def read_delta(spark: SparkSession, path: str | Path, version: int | None = None) -> DataFrame:
    if not is_delta_table(path):
        raise LakehouseError(f"no Delta table at {path}: materialize its asset first.")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(path))


def table_row_count(spark: SparkSession, path: str | Path) -> int:
    """Row count of the current version: from Delta's file statistics, else a Spark count."""
    count = _log_row_count(path)
    return count if count is not None else read_delta(spark, path).count()


def describe(spark: SparkSession, commit: DeltaCommit) -> dict[str, Any]:
    """Dagster metadata for a commit: row count, version, schema, path, operation metrics."""
    import dagster as dg

    from lakehouse_jobs.lib.tables.schema import table_schema

    schema = read_delta(spark, commit.path).schema  # resolved from the log, no Spark job
    return {
        "dagster/row_count": dg.MetadataValue.int(table_row_count(spark, commit.path)),
        "dagster/column_schema": dg.MetadataValue.table_schema(table_schema(schema)),
        "dagster/uri": dg.MetadataValue.url(Path(commit.path).as_uri()),
        "path": dg.MetadataValue.path(commit.path),
        "delta_version": dg.MetadataValue.int(commit.version),
        "delta_operation": dg.MetadataValue.text(commit.operation),
        "delta_operation_metrics": dg.MetadataValue.json(commit.metrics),
        **({"delta_write_attempts": dg.MetadataValue.int(commit.attempts)} if commit.attempts > 1 else {}),
    }
