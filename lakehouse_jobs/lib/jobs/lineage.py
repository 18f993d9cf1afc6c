"""Observed lineage: every Delta table a task attempt commits to becomes a Dagster materialization.

Around each attempt (`observe`), the run's SparkSession carries the attempt's identity
`lakehouse_jobs:<run_id>:<task_key>:<attempt>` in Delta's session conf
`spark.databricks.delta.commitInfo.userMetadata`, so every commit the task makes
through it (DataFrame writes, SQL INSERT/MERGE/CREATE, classic or Spark Connect)
records it in `commitInfo.userMetadata`. A writer's own `.option("userMetadata", ...)`
still wins for that write (Delta's rule), and that write is then not reported.

After the attempt, succeeded or failed, the lakehouse root is scanned for commits
with that identity (lakehouse_jobs/lib/tables/observed.py, which also holds the
asset-key rule), and each table is logged from the task's step as an
`AssetMaterialization` of its key (newest version, last operation, rows written,
path, task_key, observed=True); the step's output metadata lists them under
`written_tables`. Commits by other runs, processes or tasks carry another identity
(or none) and are not reported.

The session conf is set only on a session that exists: an attempt that never uses
Spark starts no JVM. When the attempt itself starts the process's session (the first
Spark task of a run process), the session is tagged as it is created
(`runtime.spark.when_session_created`: every session of the process comes from there).
The previous value is restored afterwards, so nested attempts (a child run's tasks)
tag their own commits and the parent's identity comes back.

Task types whose runner reports its own materializations (`TaskType.reports_lineage`,
e.g. pipeline_task's child asset run) are not observed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from lakehouse_jobs.lib.tables.observed import TableWrite, tables_written

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
IDENTITY_PREFIX = "lakehouse_jobs"


def identity(run_id: str, task_key: str, attempt: int) -> str:
    """What an attempt's commits carry in commitInfo.userMetadata."""
    return f"{IDENTITY_PREFIX}:{run_id}:{task_key}:{attempt}"


@dataclass
class Observed:
    """The tables one attempt wrote (filled when `observe` ends)."""

    writes: list[TableWrite] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return ["/".join(w.key) for w in self.writes]


def _tag(session: Any, value: str) -> str | None:
    """Set the conf on `session`; the value it replaces (None when unset)."""
    previous = session.conf.get(USER_METADATA_CONF, None)
    session.conf.set(USER_METADATA_CONF, value)
    return previous


def _untag(session: Any, previous: str | None) -> None:
    try:
        if previous is None:
            session.conf.unset(USER_METADATA_CONF)
        else:
            session.conf.set(USER_METADATA_CONF, previous)
    except Exception:  # noqa: BLE001, S110 - the task stopped the session: there is nothing left to restore
        pass


@contextlib.contextmanager
def _tagged_sessions(value: str) -> Iterator[None]:
    """The process's session tagged with `value` for the block, including one the block creates."""
    from lakehouse_jobs.lib.runtime import spark as spark_runtime  # no Spark machinery imported before a task runs

    tagged: list[tuple[Any, str | None]] = []
    existing = spark_runtime.process_session()
    if existing is not None:
        tagged.append((existing, _tag(existing, value)))
        try:
            yield
        finally:
            _untag(existing, tagged[0][1])
        return

    def on_created(session: Any) -> None:
        tagged.append((session, _tag(session, value)))

    with spark_runtime.when_session_created(on_created):
        try:
            yield
        finally:
            for session, previous in reversed(tagged):
                _untag(session, previous)


def materialization(write: TableWrite, task_key: str, run_id: str) -> dg.AssetMaterialization:
    metadata: dict[str, Any] = {
        "delta_version": dg.MetadataValue.int(write.version),
        "operation": dg.MetadataValue.text(write.operation or "unknown"),
        "path": dg.MetadataValue.path(str(write.table)),
        "task_key": dg.MetadataValue.text(task_key),
        "run_id": dg.MetadataValue.text(run_id),
        "commits": dg.MetadataValue.int(len(write.commits)),
        "observed": dg.MetadataValue.bool(True),
    }
    if write.rows is not None:
        metadata["rows"] = dg.MetadataValue.int(write.rows)
    if len(write.commits) > 1:
        metadata["delta_versions"] = dg.MetadataValue.json([c.version for c in write.commits])
    return dg.AssetMaterialization(
        asset_key=dg.AssetKey(list(write.key)), description=f"written by task {task_key} (observed in the Delta log)", metadata=metadata
    )


@contextlib.contextmanager
def observe(task_run: TaskRun, observed: Observed) -> Iterator[None]:
    """Tag the attempt's commits, then report every table it wrote (also when it fails)."""
    from lakehouse_jobs.lib.jobs.tasks.registry import get

    if get(task_run.task.kind).reports_lineage:
        yield
        return
    context = task_run.context
    value = identity(context.run_id, task_run.task.task_key, context.retry_number + 1)
    started = time.time()
    try:
        with _tagged_sessions(value):
            yield
    finally:
        _report(task_run, observed, value, started)


def _report(task_run: TaskRun, observed: Observed, value: str, started: float) -> None:
    context, task_key = task_run.context, task_run.task.task_key
    try:
        root = task_run.lakehouse().root_path
        observed.writes = tables_written(root, started, value)
    except Exception as exc:  # noqa: BLE001 - lineage must never change a task's result
        context.log.warning(f"{task_key}: observed lineage skipped, the lakehouse root could not be scanned ({type(exc).__name__}: {exc})")
        return
    for write in observed.writes:
        context.log_event(materialization(write, task_key, context.run_id))


def annotate(outcome: TaskOutcome, observed: Observed) -> TaskOutcome:
    """The outcome with the tables the attempt wrote in its step metadata (`written_tables`)."""
    if observed.writes:
        outcome.metadata = {**outcome.metadata, "written_tables": dg.MetadataValue.json(observed.keys)}
    return outcome
