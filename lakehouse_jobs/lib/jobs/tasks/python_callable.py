"""`python_callable_task` (ours): call a Python function named 'package.module:function'.

With a timeout the function runs in a spawned child process that is killed at the
deadline; without one it runs in the step's process (sharing its SparkSession).

Validation never imports the module (its top-level code could do anything): it checks
the reference's form and finds the module's file through the import system's finders
without executing it. The import, and the check that the function exists, happen when
the job runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from importlib.machinery import PathFinder
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_in_child


def split_ref(ref: str) -> tuple[str, str]:
    """'pkg.module:function' (or 'pkg.module.function') -> ('pkg.module', 'function'); ValueError when malformed."""
    module_name, sep, attr = ref.strip().partition(":")
    if not sep:
        module_name, _, attr = module_name.rpartition(".")
    if not module_name or not attr or not all(part.isidentifier() for part in (*module_name.split("."), *attr.split("."))):
        raise ValueError(f"expected 'package.module:function' (dotted Python names), got {fields.brief(ref)}")
    return module_name, attr


def resolve_callable(ref: Any) -> Callable[..., Any]:
    """The function `ref` names (or `ref` itself when it is already callable), imported now; ValueError otherwise."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"expected 'package.module:function' or a Python callable, got {fields.brief(ref)}")
    module_name, attr = split_ref(ref)
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


def find_module(module_name: str) -> str | None:
    """None when the module can be found without running any of its code, else why not.

    The top-level name goes through `importlib.util.find_spec` (the meta-path finders,
    editable installs included: finding a top-level module executes nothing); each
    submodule is looked up by `PathFinder` in its parent's search locations, so no parent
    package's `__init__` runs. Limit: a package that builds its `__path__` at import time
    (or a finder that only knows submodules once the parent ran) is found only if it is
    already imported in this process.
    """
    parts = module_name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError) as exc:
        return f"cannot look up module {parts[0]!r}: {exc}"
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if spec is None:
            return f"no module named {name!r} (checked without importing it)"
        if depth == len(parts):
            return None
        child = ".".join(parts[: depth + 1])
        if child in sys.modules:  # already imported (e.g. os.path, which os puts there itself)
            continue
        loaded = sys.modules.get(name)
        locations = getattr(loaded, "__path__", None) if loaded is not None else spec.submodule_search_locations
        if locations is None:
            return f"{name!r} is a module, not a package: it has no submodule {parts[depth]!r}"
        spec = PathFinder.find_spec(child, list(locations))
    return None


def _callable_problem(ref: Any) -> str | None:
    if callable(ref):
        return None
    if not isinstance(ref, str) or not ref.strip():
        return f"expected 'package.module:function' or a Python callable, got {fields.brief(ref)}"
    try:
        module_name, _ = split_ref(ref)
    except ValueError as exc:
        return str(exc)
    return find_module(module_name)


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{callable, parameters, named_parameters}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"callable", "parameters", "named_parameters"})
    if "callable" not in body:
        problems.append((ctx.at("callable"), "missing: 'package.module:function' or a Python callable"))
    else:
        problem = _callable_problem(body["callable"])
        if problem:
            problems.append((ctx.at("callable"), problem))
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
