"""`OPTIMIZE`, `VACUUM` and `RESTORE` run by delta-rs, for an engine that cannot parse them (Sail).

Databricks notebooks and SQL files keep their tables with these three (pysail 0.7.2: "found OPTIMIZE
... expected something else"). A run's Sail session runs them here with delta-spark's meaning and
answers with its columns (measured on delta-spark 4.4):

- `OPTIMIZE t [WHERE <partition predicate>] [ZORDER BY (c, ...)]`: bin-packing or Z-order by
  delta-rs; the WHERE may name only partition columns (AND-ed comparisons with literals, as delta-rs
  takes them); ZORDER refuses partition columns and unknown ones, in Delta's words. Answer: `path`,
  `metrics` with delta-spark's struct; what delta-rs does not measure (zOrderStats, times,
  parallelism) is null.
- `VACUUM t [RETAIN n HOURS] [DRY RUN]`: retention checked against the table's
  `delta.deletedFileRetentionDuration` (default 7 days) unless
  `spark.databricks.delta.retentionDurationCheck.enabled` is false; a fractional n is rounded up
  (keeps more files, never fewer). Answer: the table's path, or with DRY RUN the files it would delete.
  One difference: with nothing to delete, delta-rs commits nothing (delta-spark records VACUUM START/END).
- `RESTORE [TABLE] t [TO] VERSION|TIMESTAMP AS OF x`: answer: delta-spark's six sizes and counts,
  computed from the table's files before and after.

Other forms (`VACUUM ... LITE|FULL|USING INVENTORY`, `OPTIMIZE ... FULL`, a WHERE delta-rs cannot take)
are refused in one sentence naming the setting that runs them on the JVM.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from lakehouse_jobs.lib.catalog.names import NAME_PATTERN as _NAME
from lakehouse_jobs.lib.catalog.names import written_name
from lakehouse_jobs.lib.engine_setting import ON_JVM
from lakehouse_jobs.lib.sql.delta_paths import PATH_PATTERN as _PATH
from lakehouse_jobs.lib.sql.delta_paths import Unsupported, statement_body

RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_TARGET = rf"(?:{_PATH}|{_NAME})"
_START = re.compile(r"(OPTIMIZE|VACUUM|RESTORE)\b", re.I)
_OPTIMIZE = re.compile(rf"OPTIMIZE\s+{_TARGET}(?:\s+WHERE\s+(.+?))?(?:\s+ZORDER\s+BY\s*(\(.*\)|[\w\s,`]+))?\Z", re.I | re.S)
_VACUUM = re.compile(rf"VACUUM\s+{_TARGET}(?:\s+RETAIN\s+(\d+(?:\.\d*)?)\s+HOURS)?(\s+DRY\s+RUN)?\Z", re.I | re.S)
_RESTORE = re.compile(rf"RESTORE\s+(?:TABLE\s+)?{_TARGET}\s+(?:TO\s+)?(VERSION|TIMESTAMP)\s+AS\s+OF\s+(.+)\Z", re.I | re.S)
_COMPARISON = re.compile(r"\s*`?(\w+)`?\s*(=|==|!=|<>|<=|>=|<|>)\s*('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[-+]?[\w.]+)\s*\Z", re.S)
_IN = re.compile(r"\s*`?(\w+)`?\s+(NOT\s+IN|IN)\s*\((.*)\)\s*\Z", re.I | re.S)
_STAT = "STRUCT<min: BIGINT, max: BIGINT, avg: DOUBLE, totalFiles: BIGINT, totalSize: BIGINT>"
_NUM_SIZE = "STRUCT<num: BIGINT, size: BIGINT>"
_FILES_SIZE = "STRUCT<numFiles: BIGINT, size: BIGINT>"
OPTIMIZE_SCHEMA = (
    f"path STRING, metrics STRUCT<numFilesAdded: BIGINT, numFilesRemoved: BIGINT, filesAdded: {_STAT}, filesRemoved: {_STAT}, "
    f"partitionsOptimized: BIGINT, zOrderStats: STRUCT<strategyName: STRING, inputCubeFiles: {_NUM_SIZE}, inputOtherFiles: {_NUM_SIZE}, "
    f"inputNumCubes: BIGINT, mergedFiles: {_NUM_SIZE}, numOutputCubes: BIGINT, mergedNumCubes: BIGINT>, clusteringStats: STRUCT<"
    f"inputZCubeFiles: {_FILES_SIZE}, inputOtherFiles: {_FILES_SIZE}, inputNumZCubes: BIGINT, mergedFiles: {_FILES_SIZE}, numOutputZCubes: BIGINT>, "
    "numBins: BIGINT, numBatches: BIGINT, totalConsideredFiles: BIGINT, totalFilesSkipped: BIGINT, preserveInsertionOrder: BOOLEAN, "
    "numFilesSkippedToReduceWriteAmplification: BIGINT, numBytesSkippedToReduceWriteAmplification: BIGINT, startTimeMs: BIGINT, "
    "endTimeMs: BIGINT, totalClusterParallelism: BIGINT, totalScheduledTasks: BIGINT, autoCompactParallelismStats: STRUCT<"
    "maxClusterActiveParallelism: BIGINT, minClusterActiveParallelism: BIGINT, maxSessionActiveParallelism: BIGINT, "
    "minSessionActiveParallelism: BIGINT>, deletionVectorStats: STRUCT<numDeletionVectorsRemoved: BIGINT, numDeletionVectorRowsRemoved: BIGINT>, "
    "numTableColumns: BIGINT, numTableColumnsWithStats: BIGINT>"
)
RESTORE_SCHEMA = (
    "table_size_after_restore BIGINT, num_of_files_after_restore BIGINT, num_removed_files BIGINT, num_restored_files BIGINT, "
    "removed_files_size BIGINT, restored_files_size BIGINT"
)

NamedPath = Callable[[Any, str], tuple[Any, dict[str, str]]]


def run(spark: Any, text: str, named_path: NamedPath | None = None) -> Any:
    """The answer of `text` when it is an OPTIMIZE, VACUUM or RESTORE (run here), else None."""
    body = statement_body(text)
    start = _START.match(body)
    if start is None:
        return None
    word = start.group(1).upper()
    match = {"OPTIMIZE": _OPTIMIZE, "VACUUM": _VACUUM, "RESTORE": _RESTORE}[word].match(body)
    if match is None:
        raise Unsupported(f"{word}: Sail's session runs {_FORMS[word]} (delta-rs), not this form; {ON_JVM}")
    if match.group(1) is None and named_path is None:
        return None
    path = match.group(1).replace("``", "`") if match.group(1) else str(named_path(spark, written_name(match.group(2)))[0])
    _check_table(word, path)
    return {"OPTIMIZE": _optimize, "VACUUM": _vacuum, "RESTORE": _restore}[word](spark, path, match.groups()[2:])


_FORMS = {
    "OPTIMIZE": "OPTIMIZE t [WHERE <partition predicate>] [ZORDER BY (columns)]",
    "VACUUM": "VACUUM t [RETAIN n HOURS] [DRY RUN]",
    "RESTORE": "RESTORE [TABLE] t [TO] VERSION|TIMESTAMP AS OF x",
}


def _check_table(word: str, path: str) -> None:
    from lakehouse_jobs.lib.tables.delta_io import is_delta_table

    if not is_delta_table(path):
        raise Unsupported(f"[DELTA_MISSING_DELTA_TABLE] {word}: {path} is not a Delta table")


def _optimize(spark: Any, path: str, parts: tuple[str | None, ...]) -> Any:
    import json

    from deltalake import DeltaTable

    where, zorder = parts
    table = DeltaTable(path)
    partitions = table.metadata().partition_columns
    filters = _partition_filters(where, partitions) if where else None
    columns = _zorder_columns(zorder, table, partitions) if zorder else []
    metrics = table.optimize.z_order(columns, partition_filters=filters) if columns else table.optimize.compact(partition_filters=filters)

    def stats(value: Any) -> tuple | None:
        value = json.loads(value) if isinstance(value, str) else value
        return (value["min"], value["max"], float(value["avg"]), value["totalFiles"], value["totalSize"]) if value else None

    row = (
        metrics["numFilesAdded"], metrics["numFilesRemoved"], stats(metrics.get("filesAdded")), stats(metrics.get("filesRemoved")),
        metrics.get("partitionsOptimized"), None, None, metrics.get("numBatches"), metrics.get("numBatches"),
        metrics.get("totalConsideredFiles"), metrics.get("totalFilesSkipped"), bool(metrics.get("preserveInsertionOrder")),
        0, 0, None, None, None, None, None, None, len(table.schema().fields), None,
    )  # fmt: skip
    return spark.createDataFrame([(_file_uri(path), row)], OPTIMIZE_SCHEMA)


def _partition_filters(where: str, partitions: list[str]) -> list[tuple[str, str, Any]]:
    """`p = 'a' AND q IN (1, 2)` as delta-rs' partition filters; Delta's refusal for a non-partition column."""
    filters = []
    for term in re.split(r"\s+AND\s+", where.strip(), flags=re.I):
        term = term.strip()
        while term.startswith("(") and term.endswith(")"):
            term = term[1:-1].strip()
        if (match := _IN.match(term)) is not None:
            column, value = match.group(1), [_literal(v) for v in match.group(3).split(",")]
            op = "not in" if match.group(2).upper().startswith("NOT") else "in"
        elif (match := _COMPARISON.match(term)) is not None:
            column, op, value = match.group(1), {"==": "=", "<>": "!="}.get(match.group(2), match.group(2)), _literal(match.group(3))
        else:
            raise Unsupported(f"OPTIMIZE ... WHERE {where.strip()}: Sail's session takes AND-ed comparisons of partition columns with literals; {ON_JVM}")
        if column not in partitions:
            raise Unsupported(
                f"[DELTA_NON_PARTITION_COLUMN_REFERENCE] Predicate references non-partition column '{column}'. "
                f"Only the partition columns may be referenced: [{', '.join(partitions)}]"
            )
        filters.append((column, op, value))
    return filters


def _literal(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _zorder_columns(text: str, table: Any, partitions: list[str]) -> list[str]:
    columns = [c.strip().strip("`") for c in text.strip().strip("()").split(",") if c.strip()]
    known = {f.name for f in table.schema().fields}
    for column in columns:
        if column in partitions:
            raise Unsupported(f"[DELTA_ZORDERING_ON_PARTITION_COLUMN] {column} is a partition column. Z-Ordering can only be performed on data columns")
        if column not in known:
            raise Unsupported(f"[DELTA_ZORDERING_COLUMN_DOES_NOT_EXIST] Z-Ordering column {column} does not exist in data schema.")
    return columns


def _vacuum(spark: Any, path: str, parts: tuple[str | None, ...]) -> Any:
    from deltalake import DeltaTable

    hours, dry_run = parts
    check = str(spark.conf.get(RETENTION_CHECK, "true")).strip().lower() != "false"
    retention = math.ceil(float(hours)) if hours is not None else None
    table = DeltaTable(path)
    minimum = _retention_hours(table.metadata().configuration.get("delta.deletedFileRetentionDuration"))
    if check and retention is not None and retention < minimum:
        raise Unsupported(
            "[DELTA_VACUUM_RETENTION_PERIOD_TOO_SHORT] The specified VACUUM retention period is too low and may corrupt this Delta table if "
            f"any writes are in progress. If no operations (insert, upsert, delete, optimize) are running, you can disable this safety check by "
            f"setting {RETENTION_CHECK} = false. Otherwise, use a retention period of at least {minimum:g} hours."
        )
    files = table.vacuum(retention_hours=retention, dry_run=bool(dry_run), enforce_retention_duration=False)
    rows = [(f"{_file_uri(path)}/{name}",) for name in files] if dry_run else [(_file_uri(path),)]
    return spark.createDataFrame(rows, "path STRING")


def _retention_hours(interval: str | None) -> float:
    """Delta's `interval N unit` (default `interval 1 week`) in hours."""
    match = re.fullmatch(r"\s*interval\s+(\d+(?:\.\d+)?)\s+(\w+?)s?\s*", interval or "interval 1 week", re.I)
    per = {"week": 168, "day": 24, "hour": 1, "minute": 1 / 60, "second": 1 / 3600, "millisecond": 1 / 3_600_000}
    if match is None or match.group(2).lower() not in per:
        return 168.0
    return float(match.group(1)) * per[match.group(2).lower()]


def _restore(spark: Any, path: str, parts: tuple[str | None, ...]) -> Any:
    from deltalake import DeltaTable

    kind, value = parts
    table = DeltaTable(path)
    before = _files(table)
    target: Any = _literal(value or "")
    if kind.upper() == "VERSION":
        versions = sorted(h["version"] for h in table.history())
        if not target.isdigit() or int(target) not in versions:
            raise Unsupported(
                f"[DELTA_CANNOT_RESTORE_TABLE_VERSION] Cannot restore table to version {target}. Available versions: [{versions[0]}, {versions[-1]}]."
            )
        target = int(target)
    else:
        target = _timestamp(target)
    try:
        table.restore(target)
    except Exception as exc:  # noqa: BLE001 - delta-rs' errors: a version or time the log does not hold
        raise Unsupported(f"RESTORE TO {kind.upper()} AS OF {value}: {str(exc).splitlines()[0]}") from None
    after = _files(DeltaTable(path))
    removed, restored = before.keys() - after.keys(), after.keys() - before.keys()
    row = (sum(after.values()), len(after), len(removed), len(restored), sum(before[f] for f in removed), sum(after[f] for f in restored))
    return spark.createDataFrame([row], RESTORE_SCHEMA)


def _timestamp(text: str) -> Any:
    """A `TIMESTAMP AS OF` literal as a datetime (a naive one in UTC, the session time zone the project sets); other
    forms go to delta-rs as written (its refusal is said in one sentence)."""
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _files(table: Any) -> dict[str, int]:
    actions = table.get_add_actions(flatten=True)
    return dict(zip(actions.column("path").to_pylist(), actions.column("size_bytes").to_pylist(), strict=True))


def _file_uri(path: str) -> str:
    return path if "://" in path or path.startswith("file:") else f"file:{path}"
