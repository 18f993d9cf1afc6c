"""`for_each_task`: run one nested task per input, at most `concurrency` at a time.

Iterations run on a thread pool inside the for_each task's Dagster step (a
Python callable with a timeout still gets its own killable process). Why not
Dagster dynamic outputs: the in-process executor (one shared SparkSession)
runs steps one at a time, so it could not honour `concurrency`; a pool can.
The task succeeds when every iteration succeeds (Databricks semantics).
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lakehouse_jobs.lib.jobs import fields, references, task_values
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS, TIMEDOUT
from lakehouse_jobs.lib.jobs.retries import RetryPolicy
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun, failure_message
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType, run_task
from lakehouse_jobs.lib.jobs.timeouts import TaskTimeout

MAX_INPUTS = 5000
MAX_CONCURRENCY = 100


@dataclass
class Iteration:
    index: int
    input: Any
    result_state: str
    attempts: int = 1
    error: str | None = None


def parse_inputs(value: Any) -> list[Any]:
    """A list, or a JSON array written as a string (as Databricks' `inputs` field)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"inputs must be a JSON array, got {value!r} ({exc.msg})") from None
    if not isinstance(value, list):
        raise ValueError(f"inputs must be a JSON array, got {json.dumps(value)}")
    if len(value) > MAX_INPUTS:
        raise ValueError(f"inputs has {len(value)} items; the limit is {MAX_INPUTS}")
    return value


def run_iterations(inputs: list[Any], concurrency: int, run_one: Callable[[int, Any], Iteration]) -> list[Iteration]:
    """Every iteration's result, in input order."""
    workers = max(1, min(int(concurrency or 1), MAX_CONCURRENCY, len(inputs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="for_each") as pool:
        futures = [pool.submit(contextvars.copy_context().run, run_one, index, item) for index, item in enumerate(inputs)]
        return [future.result() for future in futures]


def summary_state(iterations: list[Iteration]) -> str:
    return SUCCESS if all(it.result_state == SUCCESS for it in iterations) else FAILED


def summary_error(iterations: list[Iteration]) -> str | None:
    failed = [it for it in iterations if it.result_state != SUCCESS]
    if not failed:
        return None
    first = failed[0]
    return f"{len(failed)} of {len(iterations)} iterations did not succeed; first: input {json.dumps(first.input)} -> {first.result_state}: {first.error}"


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{inputs, task, concurrency}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"inputs", "task", "concurrency"})
    if ctx.nested:
        problems.append((ctx.path, "a for_each_task cannot be nested inside another for_each_task"))
    inputs = body.get("inputs")
    if inputs is None:
        problems.append((ctx.at("inputs"), "missing: a JSON array, a list, or a reference such as {{tasks.x.values.y}}"))
    elif isinstance(inputs, str):
        if not references.references(inputs):
            try:
                parse_inputs(inputs)
            except ValueError as exc:
                problems.append((ctx.at("inputs"), str(exc)))
    elif not isinstance(inputs, list):
        problems.append((ctx.at("inputs"), "expected a JSON array (string), a list, or a reference"))
    fields.integer(problems, body, "concurrency", ctx.path, 1, MAX_CONCURRENCY)
    if "task" not in body:
        problems.append((ctx.at("task"), "missing: the task to run for each input"))
    elif ctx.check_task is not None:
        problems.extend(ctx.check_task(body["task"], ctx.at("task"), True))
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    """Every iteration (with the nested task's own retries); the task succeeds iff all do."""
    task, ctx, context = task_run.task, task_run.references, task_run.context
    inputs = parse_inputs(task_run.resolve(task.body["inputs"]))
    nested = task.nested
    assert nested is not None
    policy = RetryPolicy.of(nested.raw)

    def run_one(index: int, item: Any) -> Iteration:
        iteration_ctx = references.ReferenceContext(**{**ctx.__dict__, "input": item, "has_input": True})
        retries = 0
        while True:
            iteration_ctx.execution_count = retries + 1
            token = task_values.bind(task_values.TaskValueScope(nested.task_key, ctx.tasks))
            try:
                run_task(task_run.for_task(nested, iteration_ctx, nested.timeout_seconds or None))
                return Iteration(index, item, SUCCESS, retries + 1)
            except Exception as exc:  # noqa: BLE001 - the iteration's failure, reported in the task's metadata
                timed_out = isinstance(exc, TaskTimeout)
                state, error = (TIMEDOUT if timed_out else FAILED), failure_message(exc, task_run.runtime)
            finally:
                task_values.unbind(token)
            if not policy.allows(retries, timed_out):
                return Iteration(index, item, state, retries + 1, error)
            context.log.info(f"{task.task_key} iteration {index} ({item!r}) {state}: retrying in {policy.interval_seconds:g} s")
            time.sleep(policy.interval_seconds)
            retries += 1

    iterations = run_iterations(inputs, int(task.body.get("concurrency") or 1), run_one)
    metadata = {
        "iterations": len(iterations),
        "succeeded": sum(it.result_state == SUCCESS for it in iterations),
        "iteration_states": [{"input": it.input, "result_state": it.result_state, "attempts": it.attempts, "error": it.error} for it in iterations],
    }
    return TaskOutcome(summary_state(iterations), error=summary_error(iterations), metadata=metadata)


TASK_TYPE = TaskType(name="for_each_task", check=check, run=run, nested_field="task", description="run a nested task once per input")
