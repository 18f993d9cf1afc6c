"""Check a job spec and collect every problem as (`path.to.field`, message).

Nothing raises here: a user fixing a spec sees all of its mistakes at once,
each at the path of the bad field (e.g. `resources.jobs.x.tasks[1].depends_on[0].task_key`).

Linear in the spec: one pass over the tasks, one topological pass for the
`{{tasks.<key>...}}` references (ancestor sets as bitsets, freed once every
dependent has used them), a walk of shared YAML nodes once. Names are checked
with `fullmatch` (`$` accepts a trailing newline). Numbers have Databricks'
bounds (fields.INT32_MAX/INT64_MAX), so nothing overflows at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import references
from lakehouse_jobs.lib.jobs.automation.notifications import parse_notifications
from lakehouse_jobs.lib.jobs.automation.sections import trigger_problems
from lakehouse_jobs.lib.jobs.fields import INT32_MAX, INT64_MAX, Problems, brief
from lakehouse_jobs.lib.jobs.fields import at as _at
from lakehouse_jobs.lib.jobs.fields import boolean as _bool
from lakehouse_jobs.lib.jobs.fields import integer as _int
from lakehouse_jobs.lib.jobs.fields import unknown as _unknown
from lakehouse_jobs.lib.jobs.run_if import RUN_IF_VALUES
from lakehouse_jobs.lib.jobs.spec import job_entries
from lakehouse_jobs.lib.jobs.tasks import registry

# Used with fullmatch only.
TASK_KEY = re.compile(r"[A-Za-z0-9_\-]{1,100}")
JOB_KEY = re.compile(r"[A-Za-z0-9_\-]{1,100}")
PARAM_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,255}")
TAG_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,63}")
TASK_FIELDS = {
    "task_key", "description", "depends_on", "run_if", "max_retries", "min_retry_interval_millis", "retry_on_timeout",
    "timeout_seconds", "disabled",
}  # fmt: skip
TASK_NOTIFICATIONS = {"email_notifications", "webhook_notifications", "notification_settings", "health"}
# Databricks fields about clusters, libraries, permissions...: meaningless locally, accepted and ignored.
IGNORED_TASK_FIELDS = {"job_cluster_key", "existing_cluster_id", "new_cluster", "libraries", "environment_key", "compute", "disable_auto_optimization"}
JOB_FIELDS = {
    "name", "description", "tasks", "parameters", "timeout_seconds", "tags", "schedule", "trigger", "continuous",
    "email_notifications", "webhook_notifications", "notification_settings", "health", "max_concurrent_runs", "queue",
    "git_source",
}  # fmt: skip
WAIT_FIELDS = ("min_time_between_triggers_seconds", "wait_after_last_change_seconds")
IGNORED_JOB_FIELDS = {
    "job_clusters", "run_as", "access_control_list", "permissions", "format", "environments",
    "budget_policy_id", "performance_target", "edit_mode", "deployment", "usage_policy_id",
}  # fmt: skip


def validate_document(obj: Any, base_dir: str | Path | None = None) -> Problems:
    """Every problem of a job object or a bundle document; empty means valid.

    `base_dir`: the folder of the file that declares the jobs (task types resolve relative paths there).
    """
    base = Path(base_dir) if base_dir is not None else None
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
            if not isinstance(key, str) or not JOB_KEY.fullmatch(key):
                problems.append((path, "a job key uses letters, digits, _ and - (at most 100)"))
            problems.extend(validate_job(job, path, base, jobs=entries, job_key=key))
        problems.extend(_pipeline_problems(obj["resources"], base))
    else:  # `tasks` is optional, as in the bundle schema: a job without tasks runs and succeeds with nothing to do
        if not {"name", "tasks"} & set(obj):
            return [("", "expected a job object (with name and tasks) or a bundle document with resources.jobs")]
        problems.extend(validate_job(obj, "", base, jobs=entries, job_key=next(iter(entries))))
    return sorted(problems, key=lambda problem: _natural(problem[0]))


def _pipeline_problems(resources: Mapping[str, Any], base: Path | None) -> Problems:
    """The settings of the document's `resources.pipelines` (what its pipeline tasks run)."""
    from lakehouse_jobs.lib.pipelines.spec import check_pipeline

    pipelines = resources.get("pipelines")
    if pipelines is None:
        return []
    if not isinstance(pipelines, Mapping):
        return [("resources.pipelines", "expected a mapping of pipeline keys to pipelines")]
    return [problem for key, raw in pipelines.items() for problem in check_pipeline(raw, f"resources.pipelines.{key}", base)]


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def validate_job(job: Any, path: str, base_dir: Path | None = None, *, jobs: Mapping[str, Any] | None = None, job_key: str | None = None) -> Problems:
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
                if not isinstance(key, str) or not TAG_KEY.fullmatch(key):
                    problems.append((_at(path, f"tags.{key}"), "a tag name uses letters, digits, _ . and - (at most 63)"))
                elif not isinstance(value, (str, int, float, bool)):
                    problems.append((_at(path, f"tags.{key}"), "a tag value is a string"))
    problems.extend(trigger_problems(job, path))
    problems.extend(_section_bounds(job, path))
    tasks = job.get("tasks")
    if tasks is None:
        return problems
    if not isinstance(tasks, list):
        problems.append((_at(path, "tasks"), f"expected a list of tasks, got {type(tasks).__name__}"))
        return problems
    problems.extend(_tasks(tasks, _at(path, "tasks"), params, base_dir, jobs=jobs, job_key=job_key))
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
        if not isinstance(name, str) or not PARAM_NAME.fullmatch(name):
            problems.append((f"{where}.name", f"a parameter name uses letters, digits, _ - and . , got {brief(name)}"))
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


def _tasks(tasks: list[Any], path: str, params: set[str], base_dir: Path | None, **document: Any) -> Problems:
    problems: Problems = []
    index_of: dict[str, int] = {}
    kinds: dict[str, str | None] = {}
    check_task = partial(_task, base_dir=base_dir, **document)
    for index, task in enumerate(tasks):
        key = task.get("task_key") if isinstance(task, Mapping) else None
        if isinstance(key, str) and key in index_of:
            problems.append((f"{path}[{index}].task_key", f"duplicate task_key {brief(key)} (also {path}[{index_of[key]}])"))
        elif isinstance(key, str):
            index_of[key] = index
            kinds[key] = registry.kind_of(task)
    graph: dict[str, list[str]] = {}
    for index, task in enumerate(tasks):
        where = f"{path}[{index}]"
        problems.extend(check_task(task, where, False))
        if not isinstance(task, Mapping):
            continue
        upstream = _dependencies(problems, task, where, index_of, kinds)
        if upstream is not None and isinstance(task.get("task_key"), str) and index_of.get(task["task_key"]) == index:
            graph[task["task_key"]] = upstream
    for key in index_of:
        graph.setdefault(key, [])
    cycle = find_cycle(graph)
    if cycle:
        problems.append((f"{path}[{index_of[cycle[0]]}].depends_on", f"dependency cycle: {' -> '.join(cycle)}"))
        # no order to check references against: every task counts as upstream (the cycle is the problem)
        for index in index_of.values():
            problems.extend(_task_references(tasks[index], f"{path}[{index}]", params, _EVERY_TASK, index_of))
        return problems
    for key, ancestors in ancestor_sets(graph):
        index = index_of[key]
        problems.extend(_task_references(tasks[index], f"{path}[{index}]", params, ancestors, index_of))
    return problems


def _dependencies(problems: Problems, task: Mapping[str, Any], where: str, index_of: Mapping[str, int], kinds: Mapping[str, str | None]) -> list[str] | None:
    """The task's checked upstream keys (None when depends_on is not a list)."""
    deps = task.get("depends_on") or []
    if not isinstance(deps, list):
        problems.append((f"{where}.depends_on", "expected a list of {task_key, outcome}"))
        return None
    upstream: dict[str, None] = {}  # ordered, O(1) membership: a task may have thousands of dependencies
    for d_index, dep in enumerate(deps):
        d_where = f"{where}.depends_on[{d_index}]"
        if not isinstance(dep, Mapping) or not isinstance(dep.get("task_key"), str):
            problems.append((f"{d_where}.task_key" if isinstance(dep, Mapping) else d_where, "missing: a dependency names a task_key"))
            continue
        _unknown(problems, dep, d_where, {"task_key", "outcome"})
        dep_key = dep["task_key"]
        if dep_key not in index_of:
            problems.append((f"{d_where}.task_key", f"unknown task {brief(dep_key)}"))
            continue
        if dep_key == task.get("task_key"):
            problems.append((f"{d_where}.task_key", "a task cannot depend on itself"))
            continue
        if dep_key in upstream:
            problems.append((f"{d_where}.task_key", f"duplicate dependency on {dep_key!r}"))
        upstream[dep_key] = None
        if "outcome" in dep:
            outcomes = registry.get(kinds[dep_key]).outcomes if kinds.get(dep_key) else ()
            if not outcomes:
                problems.append((f"{d_where}.outcome", f"outcome is only allowed on a dependency on a condition_task; {dep_key!r} is not one"))
            elif dep["outcome"] not in outcomes:
                problems.append((f"{d_where}.outcome", f"expected {' or '.join(map(json.dumps, outcomes))}, got {brief(dep['outcome'])}"))
    return list(upstream)


def _section_bounds(job: Mapping[str, Any], path: str) -> Problems:
    """Databricks' upper bounds the section parsers do not check (they check types and lower bounds)."""
    problems: Problems = []
    trigger = job.get("trigger")
    if isinstance(trigger, Mapping):
        for kind, fields in (("file_arrival", WAIT_FIELDS), ("table_update", WAIT_FIELDS), ("periodic", ("interval",))):
            body = trigger.get(kind)
            for name in fields if isinstance(body, Mapping) else ():
                _upper(problems, body, name, _at(path, f"trigger.{kind}"), INT32_MAX)
    problems.extend(_health_bounds(job, path))
    return problems


def _health_bounds(owner: Mapping[str, Any], path: str) -> Problems:
    problems: Problems = []
    health = owner.get("health")
    rules = health.get("rules") if isinstance(health, Mapping) else None
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if isinstance(rule, Mapping):
            _upper(problems, rule, "value", _at(path, f"health.rules[{index}]"), INT64_MAX)
    return problems


def _upper(problems: Problems, obj: Mapping[str, Any], name: str, path: str, maximum: int) -> None:
    value = obj.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value > maximum:
        problems.append((_at(path, name), f"must be at most {maximum}, got a larger number"))


def _task(task: Any, where: str, nested: bool, base_dir: Path | None = None, **document: Any) -> Problems:
    if not isinstance(task, Mapping):
        return [(where, f"expected a task object, got {type(task).__name__}")]
    problems: Problems = []
    kinds = registry.kinds_in(task)
    refused = [name for name in task if isinstance(name, str) and registry.unavailable(name)]
    _unknown(problems, task, where, TASK_FIELDS | TASK_NOTIFICATIONS | set(kinds) | set(refused), IGNORED_TASK_FIELDS)
    for name in sorted(TASK_NOTIFICATIONS & set(task)) if nested else ():  # a for_each iteration sends none
        problems.append((f"{where}.{name}", "notifications are not sent for the iterations of a for_each_task; declare them on the for_each_task"))
    if not nested and not TASK_NOTIFICATIONS.isdisjoint(task):  # most tasks have none: no parse to pay for
        problems.extend(parse_notifications(task, where, task=True)[1])
        problems.extend(_health_bounds(task, where))
    key = task.get("task_key")
    if key is None:
        problems.append((f"{where}.task_key", "missing: every task has a task_key"))
    elif not isinstance(key, str) or not TASK_KEY.fullmatch(key):
        problems.append((f"{where}.task_key", f"a task_key uses letters, digits, _ and - (at most 100), got {brief(key)}"))
    if "run_if" in task and task["run_if"] not in RUN_IF_VALUES:
        problems.append((f"{where}.run_if", f"unknown run_if {brief(task['run_if'])}; expected one of {', '.join(RUN_IF_VALUES)}"))
    _int(problems, task, "max_retries", where, -1)
    _int(problems, task, "min_retry_interval_millis", where, 0)
    _int(problems, task, "timeout_seconds", where, 0)
    _bool(problems, task, "retry_on_timeout", where)
    _bool(problems, task, "disabled", where)
    if nested and task.get("depends_on"):
        problems.append((f"{where}.depends_on", "the task of a for_each_task has no dependencies of its own"))
    if refused:
        problems.append((f"{where}.{refused[0]}", registry.unavailable(refused[0])))
    elif not kinds:
        problems.append((where, f"a task needs a type: one of {', '.join(registry.task_types())}"))
    elif len(kinds) > 1:
        problems.append((f"{where}.{kinds[1]}", f"a task has exactly one type; found {', '.join(kinds)}"))
    else:
        kind = kinds[0]
        context = registry.CheckContext(
            f"{where}.{kind}", nested=nested, base_dir=base_dir, check_task=partial(_task, base_dir=base_dir, **document), **document
        )
        problems.extend(registry.get(kind).check(task[kind], context))
    return problems


def _task_references(task: Mapping[str, Any], where: str, params: set[str], ancestors: Container[str], known: Mapping[str, int]) -> Problems:
    problems: Problems = []
    kind = registry.kind_of(task)
    if kind is None or not isinstance(task[kind], Mapping):
        return problems
    body = dict(task[kind])
    nested_field = registry.get(kind).nested_field
    inner = body.pop(nested_field, None) if nested_field else None
    scopes = [(body, f"{where}.{kind}", False)]
    if isinstance(inner, Mapping):
        inner_kind = registry.kind_of(inner)
        if inner_kind:
            scopes.append((inner[inner_kind], f"{where}.{kind}.{nested_field}.{inner_kind}", True))
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
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(graph.get(child, ()))))
                path.append(child)
    return None


class _EveryTask:
    """Ancestors when the graph has a cycle: every task (nothing to order by; the cycle is reported)."""

    def __contains__(self, key: object) -> bool:
        return True


_EVERY_TASK = _EveryTask()


class Ancestors:
    """The ancestors of one task as a bitset over the topological positions (`key in ancestors`)."""

    __slots__ = ("_bits", "_position")

    def __init__(self, bits: int, position: Mapping[str, int]):
        self._bits, self._position = bits, position

    def __contains__(self, key: object) -> bool:
        at = self._position.get(key) if isinstance(key, str) else None
        return at is not None and (self._bits >> at) & 1 == 1


def ancestor_sets(graph: Mapping[str, list[str]]) -> Iterator[tuple[str, Ancestors]]:
    """(key, its ancestors) for every task of an acyclic graph, parents before children.

    One topological pass: a task's ancestors are the union of its parents' (an OR of
    Python ints, i.e. n/64 machine words), and a parent's bitset is dropped once its
    last dependent has used it, so memory stays near the widest layer of the graph.
    """
    order = topological(graph)
    position = {key: at for at, key in enumerate(order)}
    waiting = dict.fromkeys(order, 0)
    for key in order:
        for parent in graph.get(key, ()):
            waiting[parent] += 1
    bits: dict[str, int] = {}
    for key in order:
        mine = 0
        for parent in graph.get(key, ()):
            mine |= bits[parent] | (1 << position[parent])
            waiting[parent] -= 1
            if not waiting[parent]:
                del bits[parent]
        if waiting[key]:
            bits[key] = mine
        yield key, Ancestors(mine, position)


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
