"""What a task type's runner is given (`TaskRun`) and returns (`TaskOutcome`).

Kept apart from execution.py so task-type modules depend on this small contract,
not on how a Dagster step drives retries, run_if and timeouts around them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.engine_setting import ENGINE_ENV, ON_JVM
from lakehouse_jobs.lib.jobs import references
from lakehouse_jobs.lib.jobs.spec import JobSpec, TaskSpec
from lakehouse_jobs.lib.jobs.timeouts import ChildTaskError, TaskTimeout

if TYPE_CHECKING:
    import dagster as dg


@dataclass
class JobRuntime:
    """A compiled job: its spec, the assets and resources it was compiled with, and per-task
    state that task types computed at compile time (`TaskType.prepare`), by task key."""

    spec: JobSpec
    assets: Sequence[Any] = ()
    resources: Mapping[str, Any] | None = None
    prepared: dict[str, Any] = field(default_factory=dict)
    document: Any = None  # the JobsDocument the job came from (run_job_task finds its child job there)
    readings: dict[str, Any] = field(default_factory=dict)  # task key -> source_needs.Reading of its code (compile.read_tasks)

    def spark_resource(self) -> Any:
        """The job's `spark` resource (a default SparkResource without one)."""
        from lakehouse_jobs.lib.runtime.spark import SparkResource

        resource = (self.resources or {}).get("spark")
        return resource if isinstance(resource, SparkResource) else SparkResource()


@dataclass(frozen=True)
class JobSource:
    """Where a run's job was compiled from (`compile.reconstructable_job`'s arguments): a spec dict or
    file, the job's key and the Definitions its assets come from. `path` set: relative paths start
    at its folder."""

    spec: Mapping[str, Any] | None = None
    path: str | None = None
    job_key: str | None = None
    definitions: str | None = None

    @property
    def folder(self) -> Path | None:
        return Path(self.path).resolve().parent if self.path else None


class TaskFailure(Exception):
    """A task's failure whose message is the whole sentence the user sees (no exception type prepended)."""


class EngineRefused(TaskFailure):
    """The run's engine cannot run the task's code (`TaskRun.check_engine`): the same on every attempt, so not retried."""


@dataclass
class TaskOutcome:
    """One attempt's result: a state (SUCCESS, or FAILED/TIMEDOUT for a task that reports
    failures itself, like for_each), a condition outcome, and step metadata for the UI."""

    result_state: str
    outcome: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskRun:
    """One attempt of one task: raise to fail it (TaskTimeout to time it out), return a TaskOutcome."""

    task: TaskSpec
    references: references.ReferenceContext
    runtime: JobRuntime
    context: dg.OpExecutionContext
    timeout: float | None = None

    @property
    def body(self) -> dict[str, Any]:
        return self.task.body

    @property
    def prepared(self) -> Any:
        """What the task type's `prepare` returned for this task when the job was compiled."""
        return self.runtime.prepared.get(self.task.task_key)

    def resolve(self, value: Any) -> Any:
        """`value` with its `{{...}}` references substituted for this run."""
        return references.resolve(value, self.references)

    def spark(self) -> Any:
        """The run's SparkSession: the job's `spark` resource (embedded or job cluster), never a second JVM."""
        from lakehouse_jobs.lib.catalog import bind_root

        session = self.spark_resource().get_session()
        bind_root(session, self.lakehouse().root)  # catalog.schema.table resolves under this run's root
        return session

    def spark_resource(self) -> Any:
        """The job's `spark` resource, bound to this run (engine "auto" chooses for it)."""
        resource = self.runtime.spark_resource()
        resource.bind_run(self.context.instance, self.context.run_id, self.context.log)
        return resource

    def check_engine(self) -> None:
        """Before the task's code runs. Its code uses what Sail lacks (`runtime.readings`, read when the job was compiled):
        on the sail engine it is refused in one sentence naming the cell or line, before anything is written (SQL DML is
        left to the session, which refuses it on a table with the feed as the statement runs); under
        LAKEHOUSE_ENGINE=auto its run is on the JVM, which the task's log says once, with why."""
        reading = self.runtime.readings.get(self.task.task_key)
        if reading is None or reading.fits_sail:
            return
        resource = self.spark_resource()
        engine = resource.resolved_engine()
        if engine == "sail" and (refused := reading.refused_on_sail()).uses:
            raise EngineRefused(
                f"{self.task.task_key} cannot run on the sail engine: {refused.reason()} (docs/engines.md); "
                f"{ENGINE_ENV}=auto runs such a task's run on the JVM, or {ON_JVM}"
            )
        if engine == "spark" and resource.configured_engine() == "auto" and self.context.retry_number == 0:
            self.context.log.info(f"{self.task.task_key} runs on the JVM engine: {reading.reason()}.")

    def lakehouse(self) -> Any:
        """The job's `lakehouse` resource (its root confines every path a task reads or writes)."""
        from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource, default_root

        resource = (self.runtime.resources or {}).get("lakehouse")
        return resource if isinstance(resource, LakehouseResource) else LakehouseResource(root=default_root())

    def job_source(self) -> JobSource | None:
        """The spec source this run's job was rebuilt from (None when the run was not started through
        `compile.reconstructable_job`, e.g. from a code location or `execute_in_process`)."""
        from dagster._core.code_pointer import CustomPointer

        job = self.context.get_step_execution_context().job
        repository = getattr(job, "repository", None)
        pointer = getattr(repository, "pointer", None)
        if not isinstance(pointer, CustomPointer) or getattr(pointer.reconstructor_pointer, "fn_name", None) != "job_from_source":
            return None
        kwargs = dict(pointer.reconstructable_kwargs)
        return JobSource(kwargs.get("spec"), kwargs.get("path"), kwargs.get("job_key"), kwargs.get("definitions"))

    def job_folder(self) -> Path | None:
        """The folder of the file that declares the job (relative paths start there); None for a spec given as a dict."""
        return self.runtime.spec.base_dir

    def for_task(self, task: TaskSpec, references_context: references.ReferenceContext, timeout: float | None) -> TaskRun:
        """The same run for another (nested) task."""
        return replace(self, task=task, references=references_context, timeout=timeout)


def failure_message(exc: BaseException, runtime: JobRuntime | None = None) -> str:
    """A task failure in one line for the UI and the CLI (timeouts and child errors say it all themselves).

    With the job's `runtime`, a failure after Spark code ran on Sail names that engine and the setting
    that runs the task on the JVM (`SparkResource.failure_note`)."""
    if isinstance(exc, (TaskTimeout, ChildTaskError)):
        return str(exc)
    text = str(exc) if isinstance(exc, TaskFailure) else f"{type(exc).__name__}: {exc}"
    return text + (_engine_note(runtime) if runtime is not None else "")


def _engine_note(runtime: JobRuntime) -> str:
    from lakehouse_jobs.lib.runtime import sail

    if not sail.in_use():
        return ""
    return runtime.spark_resource().failure_note()
