"""`python_callable_task` (ours): call a Python function named 'package.module:function'.

With a timeout the function runs in a spawned child process that is killed at the
deadline; without one it runs in the step's process (sharing its SparkSession).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_in_child


def resolve_callable(ref: Any) -> Callable[..., Any]:
    """The function `ref` names (or `ref` itself when it is already callable); ValueError otherwise."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"expected 'package.module:function' or a Python callable, got {ref!r}")
    module_name, sep, attr = ref.partition(":")
    if not sep:
        module_name, _, attr = ref.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"expected 'package.module:function', got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - user code: report why it does not import, in one line
        raise ValueError(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{ref!r} is not callable")
    return target


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{callable, parameters, named_parameters}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"callable", "parameters", "named_parameters"})
    if "callable" not in body:
        problems.append((ctx.at("callable"), "missing: 'package.module:function' or a Python callable"))
    else:
        try:
            resolve_callable(body["callable"])
        except ValueError as exc:
            problems.append((ctx.at("callable"), str(exc)))
    if "parameters" in body and not isinstance(body["parameters"], list):
        problems.append((ctx.at("parameters"), "expected a list (positional arguments)"))
    named = body.get("named_parameters")
    if named is not None and (not isinstance(named, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in named)):
        problems.append((ctx.at("named_parameters"), "expected a mapping of argument names to values"))
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    body, ctx = task_run.body, task_run.references
    fn = resolve_callable(body["callable"])
    args = task_run.resolve(list(body.get("parameters") or []))
    kwargs = task_run.resolve(dict(body.get("named_parameters") or {}))
    if "task_context" in inspect.signature(fn).parameters:
        kwargs["task_context"] = {"job_id": ctx.job_id, "job_name": ctx.job_name, "run_id": ctx.run_id, "task_key": ctx.task_key,
                                  "parameters": dict(ctx.parameters), "execution_count": ctx.execution_count}  # fmt: skip
    if task_run.timeout:
        call_in_child(fn, args, kwargs, task_run.timeout, label=task_run.task.task_key)
    else:
        fn(*args, **kwargs)
    return TaskOutcome(SUCCESS)


TASK_TYPE = TaskType(name="python_callable_task", check=check, run=run, description="call a Python function (this project's own task type)")
