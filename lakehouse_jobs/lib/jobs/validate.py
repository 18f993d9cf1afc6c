"""Check a job spec and collect every problem as (`path.to.field`, message).

Nothing raises here: a user fixing a spec sees all of its mistakes at once,
each at the path of the bad field (e.g. `resources.jobs.x.tasks[1].depends_on[0].task_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lakehouse_jobs.lib.jobs import references
from lakehouse_jobs.lib.jobs.tasks.python_callable import resolve_callable
from lakehouse_jobs.lib.jobs.tasks.condition import CONDITION_OPS, OUTCOMES
from lakehouse_jobs.lib.jobs.run_if import RUN_IF_VALUES
from lakehouse_jobs.lib.jobs.spec import LATER_TASK_TYPES, TASK_TYPES, job_entries
from lakehouse_jobs.lib.jobs.automation.sections import trigger_problems

TASK_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
JOB_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
PARAM_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,255}$")
TAG_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,63}$")
TASK_FIELDS = {
    "task_key", "description", "depends_on", "run_if", "max_retries", "min_retry_interval_millis", "retry_on_timeout",
    "timeout_seconds", "disabled", *TASK_TYPES, *LATER_TASK_TYPES,
}  # fmt: skip
TASK_NOTIFICATIONS = {"email_notifications", "webhook_notifications", "notification_settings", "health"}
# Databricks fields about clusters, libraries, permissions...: meaningless locally, accepted and ignored.
IGNORED_TASK_FIELDS = {"job_cluster_key", "existing_cluster_id", "new_cluster", "libraries", "environment_key", "compute", "disable_auto_optimization"}
JOB_FIELDS = {
    "name", "description", "tasks", "parameters", "timeout_seconds", "tags", "schedule", "trigger", "continuous",
    "email_notifications", "webhook_notifications", "notification_settings", "health", "max_concurrent_runs", "queue",
}  # fmt: skip
IGNORED_JOB_FIELDS = {
    "job_clusters", "git_source", "run_as", "access_control_list", "permissions", "format", "environments",
    "budget_policy_id", "performance_target", "edit_mode", "deployment", "usage_policy_id",
}  # fmt: skip

Problems = list[tuple[str, str]]


def _at(prefix: str, name: str) -> str:
    if name.startswith("["):
        return f"{prefix}{name}"
    return f"{prefix}.{name}" if prefix else name


def _int(problems: Problems, obj: Mapping[str, Any], name: str, path: str, minimum: int, maximum: int | None = None) -> None:
    if name not in obj or obj[name] is None:
        return
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((_at(path, name), f"expected an integer, got {value!r}"))
    elif value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        problems.append((_at(path, name), f"must be {bound}, got {value}"))


def _bool(problems: Problems, obj: Mapping[str, Any], name: str, path: str) -> None:
    if name in obj and not isinstance(obj[name], bool):
        problems.append((_at(path, name), f"expected true or false, got {obj[name]!r}"))


def _unknown(problems: Problems, obj: Mapping[str, Any], path: str, known: set[str], ignored: set[str] = frozenset()) -> None:
    for name in obj:
        if name not in known and name not in ignored:
            problems.append((_at(path, str(name)), "unknown field"))


def validate_document(obj: Any) -> Problems:
    """Every problem of a job object or a bundle document; empty means valid."""
    if not isinstance(obj, Mapping):
        return [("", f"expected a job object (with name and tasks) or a bundle document with resources.jobs, got {type(obj).__name__}")]
    shape, entries = job_entries(obj)
    problems: Problems = []
    if shape == "bundle":
        jobs = obj["resources"].get("jobs") if isinstance(obj["resources"], Mapping) else None
        if not isinstance(jobs, Mapping) or not jobs:
            return [("resources.jobs", "expected a mapping of job keys to jobs")]
        for key, job in entries.items():
            path = f"resources.jobs.{key}"
            if not isinstance(key, str) or not JOB_KEY.match(key):
                problems.append((path, "a job key uses letters, digits, _ and - (at most 100)"))
            problems.extend(validate_job(job, path))
    else:
        if "tasks" not in obj:
            return [("tasks", "missing: a job object needs tasks (or use a bundle document with resources.jobs.<key>)")]
        problems.extend(validate_job(obj, ""))
    return sorted(problems, key=lambda problem: _natural(problem[0]))


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def validate_job(job: Any, path: str) -> Problems:
    if not isinstance(job, Mapping):
        return [(path, f"expected a job object, got {type(job).__name__}")]
    problems: Problems = []
    _unknown(problems, job, path, JOB_FIELDS, IGNORED_JOB_FIELDS)
    if "name" in job and (not isinstance(job["name"], str) or not job["name"].strip()):
        problems.append((_at(path, "name"), "expected a non-empty string"))
    if "description" in job and not isinstance(job["description"], str):
        problems.append((_at(path, "description"), "expected a string"))
    _int(problems, job, "timeout_seconds", path, 0)
    params = _parameters(problems, job.get("parameters"), _at(path, "parameters"))
    tags = job.get("tags")
    if tags is not None:
        if not isinstance(tags, Mapping):
            problems.append((_at(path, "tags"), "expected a mapping of tag names to values"))
        else:
            for key, value in tags.items():
                if not isinstance(key, str) or not TAG_KEY.match(key):
                    problems.append((_at(path, f"tags.{key}"), "a tag name uses letters, digits, _ . and - (at most 63)"))
                elif not isinstance(value, (str, int, float, bool)):
                    problems.append((_at(path, f"tags.{key}"), "a tag value is a string"))
    problems.extend(trigger_problems(job, path))
    tasks = job.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        problems.append((_at(path, "tasks"), "expected a non-empty list of tasks"))
        return problems
    problems.extend(_tasks(tasks, _at(path, "tasks"), params))
    return problems


def _parameters(problems: Problems, params: Any, path: str) -> set[str]:
    names: set[str] = set()
    if params is None:
        return names
    if not isinstance(params, list):
        problems.append((path, "expected a list of {name, default}"))
        return names
    for index, param in enumerate(params):
        where = f"{path}[{index}]"
        if not isinstance(param, Mapping):
            problems.append((where, "expected {name, default}"))
            continue
        _unknown(problems, param, where, {"name", "default"})
        name = param.get("name")
        if not isinstance(name, str) or not PARAM_NAME.match(name):
            problems.append((f"{where}.name", f"a parameter name uses letters, digits, _ - and . , got {name!r}"))
            continue
        if name in names:
            problems.append((f"{where}.name", f"duplicate parameter {name!r}"))
        names.add(name)
        if "default" not in param:
            problems.append((f"{where}.default", "missing: every job parameter has a default"))
        elif not isinstance(param["default"], (str, int, float, bool)):
            problems.append((f"{where}.default", "expected a string, number or boolean"))
        else:
            for ref in references.references(param["default"]):
                problem = references.check(ref, parameters=(), ancestors=(), in_for_each=False, job_level=True)
                if problem:
                    problems.append((f"{where}.default", problem))
    return names


def _tasks(tasks: list[Any], path: str, params: set[str]) -> Problems:
    problems: Problems = []
    index_of: dict[str, int] = {}
    kinds: dict[str, str | None] = {}
    for index, task in enumerate(tasks):
        key = task.get("task_key") if isinstance(task, Mapping) else None
        if isinstance(key, str) and key in index_of:
            problems.append((f"{path}[{index}].task_key", f"duplicate task_key {key!r} (also {path}[{index_of[key]}])"))
        elif isinstance(key, str):
            index_of[key] = index
            kinds[key] = next((kind for kind in TASK_TYPES if kind in task), None)
    graph: dict[str, list[str]] = {}
    for index, task in enumerate(tasks):
        where = f"{path}[{index}]"
        problems.extend(_task(task, where, nested=False))
        if not isinstance(task, Mapping):
            continue
        deps = task.get("depends_on") or []
        if not isinstance(deps, list):
            problems.append((f"{where}.depends_on", "expected a list of {task_key, outcome}"))
            continue
        upstream = []
        for d_index, dep in enumerate(deps):
            d_where = f"{where}.depends_on[{d_index}]"
            if not isinstance(dep, Mapping) or not isinstance(dep.get("task_key"), str):
                problems.append((f"{d_where}.task_key" if isinstance(dep, Mapping) else d_where, "missing: a dependency names a task_key"))
                continue
            _unknown(problems, dep, d_where, {"task_key", "outcome"})
            dep_key = dep["task_key"]
            if dep_key not in index_of:
                problems.append((f"{d_where}.task_key", f"unknown task {dep_key!r}"))
                continue
            if dep_key == task.get("task_key"):
                problems.append((f"{d_where}.task_key", "a task cannot depend on itself"))
                continue
            if dep_key in upstream:
                problems.append((f"{d_where}.task_key", f"duplicate dependency on {dep_key!r}"))
            upstream.append(dep_key)
            if "outcome" in dep:
                if kinds.get(dep_key) != "condition_task":
                    problems.append((f"{d_where}.outcome", f"outcome is only allowed on a dependency on a condition_task; {dep_key!r} is not one"))
                elif dep["outcome"] not in OUTCOMES:
                    problems.append((f"{d_where}.outcome", f"expected \"true\" or \"false\", got {dep['outcome']!r}"))
        if isinstance(task.get("task_key"), str) and index_of.get(task["task_key"]) == index:
            graph[task["task_key"]] = upstream
    cycle = find_cycle(graph)
    if cycle:
        problems.append((f"{path}[{index_of[cycle[0]]}].depends_on", f"dependency cycle: {' -> '.join(cycle)}"))
    ancestors = {key: set(index_of) for key in index_of} if cycle else all_ancestors(graph)
    for key, index in index_of.items():
        problems.extend(_task_references(tasks[index], f"{path}[{index}]", params, ancestors.get(key, set()), set(index_of)))
    return problems


def _task(task: Any, where: str, nested: bool) -> Problems:
    if not isinstance(task, Mapping):
        return [(where, f"expected a task object, got {type(task).__name__}")]
    problems: Problems = []
    _unknown(problems, task, where, TASK_FIELDS | TASK_NOTIFICATIONS, IGNORED_TASK_FIELDS)
    for name in TASK_NOTIFICATIONS & set(task):
        problems.append((f"{where}.{name}", "task-level notifications are not supported yet; declare them on the job"))
    key = task.get("task_key")
    if key is None:
        problems.append((f"{where}.task_key", "missing: every task has a task_key"))
    elif not isinstance(key, str) or not TASK_KEY.match(key):
        problems.append((f"{where}.task_key", f"a task_key uses letters, digits, _ and - (at most 100), got {key!r}"))
    if "run_if" in task and task["run_if"] not in RUN_IF_VALUES:
        problems.append((f"{where}.run_if", f"unknown run_if {task['run_if']!r}; expected one of {', '.join(RUN_IF_VALUES)}"))
    _int(problems, task, "max_retries", where, -1)
    _int(problems, task, "min_retry_interval_millis", where, 0)
    _int(problems, task, "timeout_seconds", where, 0)
    _bool(problems, task, "retry_on_timeout", where)
    _bool(problems, task, "disabled", where)
    if nested and task.get("depends_on"):
        problems.append((f"{where}.depends_on", "the task of a for_each_task has no dependencies of its own"))
    later = [kind for kind in LATER_TASK_TYPES if kind in task]
    kinds = [kind for kind in TASK_TYPES if kind in task]
    if later:
        problems.append((f"{where}.{later[0]}", f"{later[0]} is not supported yet; supported task types: {', '.join(TASK_TYPES)}"))
    elif not kinds:
        problems.append((where, f"a task needs a type: one of {', '.join(TASK_TYPES)}"))
    elif len(kinds) > 1:
        problems.append((f"{where}.{kinds[1]}", f"a task has exactly one type; found {', '.join(kinds)}"))
    else:
        problems.extend(_BODY_CHECKS[kinds[0]](task[kinds[0]], f"{where}.{kinds[0]}", nested))
    return problems


def _condition(body: Any, where: str, nested: bool) -> Problems:
    if not isinstance(body, Mapping):
        return [(where, "expected {left, op, right}")]
    problems: Problems = []
    _unknown(problems, body, where, {"left", "op", "right"})
    for side in ("left", "right"):
        if side not in body:
            problems.append((f"{where}.{side}", "missing"))
        elif not isinstance(body[side], (str, int, float)) or isinstance(body[side], bool):
            problems.append((f"{where}.{side}", f"expected a string, got {body[side]!r}"))
    if body.get("op") not in CONDITION_OPS:
        problems.append((f"{where}.op", f"unknown op {body.get('op')!r}; expected one of {', '.join(CONDITION_OPS)}"))
    return problems


def _for_each(body: Any, where: str, nested: bool) -> Problems:
    if not isinstance(body, Mapping):
        return [(where, "expected {inputs, task, concurrency}")]
    problems: Problems = []
    _unknown(problems, body, where, {"inputs", "task", "concurrency"})
    if nested:
        problems.append((where, "a for_each_task cannot be nested inside another for_each_task"))
    inputs = body.get("inputs")
    if inputs is None:
        problems.append((f"{where}.inputs", "missing: a JSON array, a list, or a reference such as {{tasks.x.values.y}}"))
    elif isinstance(inputs, str):
        if not references.references(inputs):
            from lakehouse_jobs.lib.jobs.tasks.for_each import parse_inputs

            try:
                parse_inputs(inputs)
            except ValueError as exc:
                problems.append((f"{where}.inputs", str(exc)))
    elif not isinstance(inputs, list):
        problems.append((f"{where}.inputs", "expected a JSON array (string), a list, or a reference"))
    _int(problems, body, "concurrency", where, 1, 100)
    if "task" not in body:
        problems.append((f"{where}.task", "missing: the task to run for each input"))
    else:
        problems.extend(_task(body["task"], f"{where}.task", nested=True))
    return problems


def _python_callable(body: Any, where: str, nested: bool) -> Problems:
    if not isinstance(body, Mapping):
        return [(where, "expected {callable, parameters, named_parameters}")]
    problems: Problems = []
    _unknown(problems, body, where, {"callable", "parameters", "named_parameters"})
    if "callable" not in body:
        problems.append((f"{where}.callable", "missing: 'package.module:function' or a Python callable"))
    else:
        try:
            resolve_callable(body["callable"])
        except ValueError as exc:
            problems.append((f"{where}.callable", str(exc)))
    if "parameters" in body and not isinstance(body["parameters"], list):
        problems.append((f"{where}.parameters", "expected a list (positional arguments)"))
    named = body.get("named_parameters")
    if named is not None and (not isinstance(named, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in named)):
        problems.append((f"{where}.named_parameters", "expected a mapping of argument names to values"))
    return problems


def _pipeline(body: Any, where: str, nested: bool) -> Problems:
    if not isinstance(body, Mapping):
        return [(where, "expected {selection}")]
    problems: Problems = []
    _unknown(problems, body, where, {"selection", "pipeline_id", "full_refresh"})
    selection = body.get("selection", body.get("pipeline_id"))
    if selection is None:
        problems.append((f"{where}.selection", "missing: asset keys like 'silver/orders' or a selection like 'group:bronze'"))
    elif isinstance(selection, list):
        if not selection or not all(isinstance(item, str) and item for item in selection):
            problems.append((f"{where}.selection", "expected a non-empty list of asset keys or selection strings"))
    elif not isinstance(selection, str) or not selection.strip():
        problems.append((f"{where}.selection", "expected an asset selection string or a list of them"))
    _bool(problems, body, "full_refresh", where)
    return problems


_BODY_CHECKS = {"condition_task": _condition, "for_each_task": _for_each, "python_callable_task": _python_callable, "pipeline_task": _pipeline}


def _task_references(task: Mapping[str, Any], where: str, params: set[str], ancestors: set[str], known: set[str]) -> Problems:
    problems: Problems = []
    kind = next((kind for kind in TASK_TYPES if kind in task), None)
    if kind is None or not isinstance(task[kind], Mapping):
        return problems
    body = dict(task[kind])
    inner = body.pop("task", None) if kind == "for_each_task" else None
    scopes = [(body, f"{where}.{kind}", False)]
    if isinstance(inner, Mapping):
        inner_kind = next((k for k in TASK_TYPES if k in inner), None)
        if inner_kind:
            scopes.append((inner[inner_kind], f"{where}.{kind}.task.{inner_kind}", True))
    for value, path, in_for_each in scopes:
        for field_path, text in references.strings_in(value, path):
            for ref in references.references(text):
                problem = references.check(ref, parameters=params, ancestors=ancestors, in_for_each=in_for_each, tasks=known)
                if problem:
                    problems.append((field_path, problem))
    return problems


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None (iterative DFS: 1000s of tasks are fine)."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child):], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(graph.get(child, ()))))
                path.append(child)
    return None


def all_ancestors(graph: Mapping[str, list[str]]) -> dict[str, set[str]]:
    memo: dict[str, set[str]] = {}
    for key in topological(graph):
        memo[key] = set()
        for parent in graph.get(key, ()):
            memo[key] |= {parent, *memo.get(parent, ())}
    return memo


def topological(graph: Mapping[str, list[str]]) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    for start in graph:
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((parent, False) for parent in graph.get(node, ()) if parent not in done)
    return order

