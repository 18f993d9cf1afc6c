"""What one task's Dagster step does: decide (run_if), resolve references, run, report.

Every task step ends by emitting its `result` output (its own state and those of
all its upstream tasks, with their task values) *before* failing the step when
the task itself failed. The jobs run with `require_upstream_step_success: false`,
so Dagster hands that output to the dependents even though the step is red:
they evaluate run_if themselves (Databricks semantics), and Dagster's
"re-execute from failure" picks exactly the failed tasks and their dependents.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from lakehouse_jobs.lib.jobs import lineage, references, session_state, task_values
from lakehouse_jobs.lib.jobs.automation.task_notifications import TaskAlerts
from lakehouse_jobs.lib.jobs.result_states import (
    DISABLED,
    FAILED,
    FILE_ARRIVAL_LOCATION_TAG,
    OWN_FAILURES,
    REPAIR_COUNT_TAG,
    TIMEDOUT,
    TRIGGER_TYPE_TAG,
    task_tag,
)  # fmt: skip
from lakehouse_jobs.lib.jobs.retries import RetryPolicy
from lakehouse_jobs.lib.jobs.run_if import decide, edge_state
from lakehouse_jobs.lib.jobs.spec import JobSpec, TaskSpec
from lakehouse_jobs.lib.jobs.task_run import EngineRefused, JobRuntime, TaskOutcome, TaskRun, failure_message
from lakehouse_jobs.lib.jobs.tasks.registry import run_task
from lakehouse_jobs.lib.jobs.timeouts import TaskTimeout

PARAMETERS_KEY = "lakehouse_job_parameters"


class JobParameters(dg.ConfigurableResource):
    """Job parameter values for this run (overrides of the spec's defaults), set in run config."""

    values: dict[str, str] = Field(default_factory=dict, description="name -> value; unset names keep the job's default.")


def merge_states(upstream: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for result in upstream:
        merged.update(result.get("tasks", {}))
    return merged


def run_start(context: dg.OpExecutionContext) -> float:
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time:
        return record.start_time
    return record.create_timestamp.timestamp() if record is not None else time.time()


def _trigger_type(tags: Mapping[str, str]) -> str:
    if TRIGGER_TYPE_TAG in tags:
        return tags[TRIGGER_TYPE_TAG]
    if "dagster/schedule_name" in tags:
        return "cron"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return "manual"


def job_parameters(spec: JobSpec, overrides: Mapping[str, str], base: references.ReferenceContext) -> dict[str, str]:
    """Defaults (their references resolved against the run), then the run's overrides."""
    values = {name: references.resolve(default, base) for name, default in spec.parameters.items()}
    values.update({name: str(value) for name, value in overrides.items() if name in spec.parameters})
    return values


def reference_context(context: dg.OpExecutionContext, runtime: JobRuntime, states: Mapping[str, Any], task_key: str) -> references.ReferenceContext:
    tags = context.run.tags
    base = references.ReferenceContext(
        job_id=runtime.spec.key,
        job_name=runtime.spec.name,
        run_id=context.run_id,
        start_time=datetime.fromtimestamp(run_start(context), UTC),
        trigger_type=_trigger_type(tags),
        file_arrival_location=tags.get(FILE_ARRIVAL_LOCATION_TAG),
        repair_count=int(tags.get(REPAIR_COUNT_TAG, "0")),
        tasks=states,
        task_key=task_key,
        execution_count=context.retry_number + 1,
    )
    overrides = getattr(context.resources, PARAMETERS_KEY).values
    unknown = sorted(set(overrides) - set(runtime.spec.parameters))
    if unknown:
        context.log.warning(f"ignoring run parameters the job does not declare: {', '.join(unknown)}")
    base.parameters = job_parameters(runtime.spec, overrides, base)
    return base


def execute_task(context: dg.OpExecutionContext, runtime: JobRuntime, task: TaskSpec, upstream: Sequence[Mapping[str, Any]]) -> Iterator[dg.Output]:
    """The body of a task's op: yields its `result` output, then fails the step if the task failed."""
    states = merge_states(upstream)
    edges = [edge_state(states[dep.task_key]["result_state"], dep.outcome, states[dep.task_key].get("outcome")) for dep in task.depends_on]
    skipped = DISABLED if task.disabled else decide(task.run_if, edges)
    values: dict[str, Any] = {}
    if skipped:
        outcome = TaskOutcome(skipped)
        TaskAlerts(context, runtime, task).skipped(skipped)
        context.log.info(
            f"{task.task_key}: {skipped} (run_if {task.run_if}, dependencies {dict(zip([d.task_key for d in task.depends_on], edges, strict=False))})"
        )
    else:
        outcome, values = _attempt(context, runtime, task, states)
    record = {"result_state": outcome.result_state, "outcome": outcome.outcome, "values": values, "error": outcome.error,
              "attempts": context.retry_number + 1, "run_id": context.run_id}  # fmt: skip
    states = {**states, task.task_key: record}
    context.instance.add_run_tags(context.run_id, {task_tag(task.task_key): outcome.result_state})
    metadata = {"result_state": outcome.result_state, "task_key": task.task_key, "attempts": context.retry_number + 1, **outcome.metadata}
    if values:
        metadata["task_values"] = dg.MetadataValue.json(values)
    if outcome.error:
        metadata["error"] = outcome.error
    yield dg.Output({"tasks": states}, "result", metadata=metadata)
    if outcome.result_state in OWN_FAILURES:
        raise dg.Failure(
            description=f"{task.task_key} {outcome.result_state}: {outcome.error}", metadata={"result_state": outcome.result_state}, allow_retries=False
        )


def _attempt(context: dg.OpExecutionContext, runtime: JobRuntime, task: TaskSpec, states: Mapping[str, Any]) -> tuple[TaskOutcome, dict[str, Any]]:
    policy = RetryPolicy.of(task.raw)
    alerts = TaskAlerts(context, runtime, task).start()
    scope = task_values.TaskValueScope(task.task_key, states)
    token = task_values.bind(scope)
    observed = lineage.Observed()  # the Delta tables this attempt commits to, reported as materializations
    try:
        ctx = reference_context(context, runtime, states, task.task_key)
        timeout = _effective_timeout(context, runtime, task)
        if timeout is not None and timeout <= 0:
            raise TaskTimeout(f"the job's timeout_seconds ({runtime.spec.timeout_seconds}) passed before {task.task_key} started")
        task_run = TaskRun(task, ctx, runtime, context, timeout)
        task_run.check_engine()
        with lineage.observe(task_run, observed), session_state.task_scope(context.log.info):
            outcome = run_task(task_run)
    except Exception as exc:  # the task's own failure: retried or reported
        timed_out = isinstance(exc, TaskTimeout)
        state, error = (TIMEDOUT if timed_out else FAILED), failure_message(exc, runtime)
        if policy.allows(context.retry_number, timed_out) and not isinstance(exc, EngineRefused) and not _job_deadline_passed(context, runtime):
            context.log.warning(f"{task.task_key} attempt {context.retry_number + 1} {state}: {error}; retrying in {policy.interval_seconds:g} s")
            alerts.stop()
            alerts.retrying(state, error)
            raise policy.request() from exc
        context.log.error(f"{task.task_key} {state} after {context.retry_number + 1} attempt(s): {error}")
        outcome = TaskOutcome(state, error=error)
    finally:
        task_values.unbind(token)
        alerts.stop()
    alerts.ended(outcome)
    return lineage.annotate(outcome, observed), dict(scope.values)


def _job_deadline(context: dg.OpExecutionContext, runtime: JobRuntime) -> float | None:
    if not runtime.spec.timeout_seconds:
        return None
    return run_start(context) + runtime.spec.timeout_seconds


def _job_deadline_passed(context: dg.OpExecutionContext, runtime: JobRuntime) -> bool:
    deadline = _job_deadline(context, runtime)
    return deadline is not None and time.time() >= deadline


def _effective_timeout(context: dg.OpExecutionContext, runtime: JobRuntime, task: TaskSpec) -> float | None:
    """The task's timeout_seconds, cut to what remains of the job's timeout_seconds."""
    limits = [float(task.timeout_seconds)] if task.timeout_seconds else []
    deadline = _job_deadline(context, runtime)
    if deadline is not None:
        limits.append(deadline - time.time())
    return min(limits) if limits else None
