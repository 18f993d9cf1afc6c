"""Dynamic value references: `{{job.parameters.x}}`, `{{tasks.a.values.n}}`, `{{input}}`...

Checked when a spec is validated (unknown names, tasks that are not upstream)
and substituted when a task starts, from the run's parameters, start time,
trigger tags and the states/values its upstream tasks produced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PATTERN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
TIME_ARGS = ("iso_weekday", "is_weekday", "iso_date", "iso_datetime", "year", "month", "day", "hour", "minute", "second", "timestamp_ms")
JOB_FIELDS = ("id", "name", "run_id", "repair_count")
TASK_FIELDS = ("name", "run_id", "execution_count")
TASK_REF_FIELDS = ("result_state", "run_id")
_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # fullmatch: `$` would accept a trailing newline
# Databricks: "Syntax errors in references ... are treated as a literal string. However, an invalid
# reference that belongs to a known namespace is not allowed." Outside these, {{...}} stays as written.
NAMESPACES = ("job", "task", "tasks", "input", "workspace")
WORKSPACE = {"id": "0", "url": "http://127.0.0.1:3000"}  # the local "workspace": make dev's Dagster UI
_PART = re.compile(r"`([^`]*)`|([^.`]+)")


class ReferenceError(ValueError):  # noqa: A001 - module-scoped: references.ReferenceError
    """A reference that cannot be resolved when the task starts (the task fails)."""


@dataclass
class ReferenceContext:
    """What a running task can see."""

    job_id: str
    job_name: str
    run_id: str
    start_time: datetime
    parameters: Mapping[str, str] = field(default_factory=dict)
    trigger_type: str = "manual"
    file_arrival_location: str | None = None
    repair_count: int = 0
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    task_key: str | None = None
    execution_count: int = 1
    input: Any = None
    has_input: bool = False


def parts_of(ref: str) -> list[str]:
    """`job.parameters.`a.b$`` -> ["job", "parameters", "a.b$"]: backticks escape special characters."""
    return [quoted if quoted else plain for quoted, plain in _PART.findall(ref)]


def known(ref: str) -> bool:
    """Whether `ref` belongs to a namespace Databricks knows (else the text stays literal)."""
    parts = parts_of(ref)
    return bool(parts) and parts[0] in NAMESPACES


def references(text: str) -> list[str]:
    return PATTERN.findall(text) if isinstance(text, str) else []


def check(
    ref: str, *, parameters: Collection[str], ancestors: Collection[str], in_for_each: bool, job_level: bool = False, tasks: Collection[str] = ()
) -> str | None:
    """None when `ref` is a valid reference at this place (or literal text outside the known namespaces), else the problem."""
    if not known(ref):
        return None
    parts = parts_of(ref)
    head = parts[0]
    if head == "workspace":
        return None if len(parts) == 2 and parts[1] in WORKSPACE else f"unknown reference {{{{{ref}}}}}; workspace has {', '.join(WORKSPACE)}"
    if head == "input":
        if not in_for_each:
            return f"{{{{{ref}}}}} is only available inside a for_each_task's task"
        return None
    if head == "job":
        if len(parts) == 2 and parts[1] in JOB_FIELDS:
            return None
        if len(parts) == 3 and parts[1] == "parameters":
            if job_level:
                return f"{{{{{ref}}}}}: a job parameter default cannot reference job parameters"
            return None if parts[2] in parameters else f"{{{{{ref}}}}}: unknown job parameter {parts[2]!r}"
        if len(parts) == 3 and parts[1] == "start_time":
            return None if parts[2] in TIME_ARGS else f"{{{{{ref}}}}}: unknown start_time argument; expected one of {', '.join(TIME_ARGS)}"
        if parts[1:] == ["trigger", "type"] or parts[1:] == ["trigger", "file_arrival", "location"]:
            return None
        return f"unknown reference {{{{{ref}}}}}"
    if head == "task" and len(parts) == 2 and parts[1] in TASK_FIELDS and not job_level:
        return None
    if head == "tasks" and len(parts) >= 3 and not job_level:
        key = parts[1]
        if tasks and key not in tasks:
            return f"{{{{{ref}}}}}: unknown task {key!r}"
        if key not in ancestors:
            return f"{{{{{ref}}}}}: task {key!r} is not upstream of this task (add it to depends_on)"
        if len(parts) == 3 and parts[2] in TASK_REF_FIELDS:
            return None
        if len(parts) == 4 and parts[2] == "values" and _NAME.fullmatch(parts[3]):
            return None
    return f"unknown reference {{{{{ref}}}}}"


def _time_arg(moment: datetime, arg: str) -> str:
    values = {
        "iso_weekday": moment.isoweekday(),
        "is_weekday": str(moment.isoweekday() <= 5).lower(),
        "iso_date": moment.date().isoformat(),
        "iso_datetime": moment.isoformat(),
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "timestamp_ms": int(moment.timestamp() * 1000),
    }
    return str(values[arg])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def lookup(ref: str, ctx: ReferenceContext) -> str:
    parts = parts_of(ref)
    head = parts[0]
    if head == "workspace" and len(parts) == 2 and parts[1] in WORKSPACE:
        return WORKSPACE[parts[1]]
    if head == "input":
        if not ctx.has_input:
            raise ReferenceError(f"{{{{{ref}}}}} outside a for_each iteration")
        value: Any = ctx.input
        for part in parts[1:]:
            if not isinstance(value, Mapping) or part not in value:
                raise ReferenceError(f"{{{{{ref}}}}}: the input {ctx.input!r} has no field {part!r}")
            value = value[part]
        return _text(value)
    if head == "job":
        job = {"id": ctx.job_id, "name": ctx.job_name, "run_id": ctx.run_id, "repair_count": str(ctx.repair_count)}
        if len(parts) == 2 and parts[1] in job:
            return job[parts[1]]
        if parts[1] == "parameters":
            if parts[2] not in ctx.parameters:
                raise ReferenceError(f"{{{{{ref}}}}}: the run has no parameter {parts[2]!r}")
            return str(ctx.parameters[parts[2]])
        if parts[1] == "start_time":
            return _time_arg(ctx.start_time, parts[2])
        if parts[1:] == ["trigger", "type"]:
            return ctx.trigger_type
        if parts[1:] == ["trigger", "file_arrival", "location"]:
            return ctx.file_arrival_location or ""
    if head == "task":
        return {"name": ctx.task_key or "", "run_id": f"{ctx.run_id}:{ctx.task_key}", "execution_count": str(ctx.execution_count)}[parts[1]]
    if head == "tasks":
        task = ctx.tasks.get(parts[1])
        if task is None:
            raise ReferenceError(f"{{{{{ref}}}}}: task {parts[1]!r} has no result in this run")
        if parts[2] == "result_state":
            return task["result_state"]
        if parts[2] == "run_id":
            return f"{task.get('run_id', ctx.run_id)}:{parts[1]}"
        values = task.get("values") or {}
        if parts[3] not in values:
            raise ReferenceError(f"{{{{{ref}}}}}: task {parts[1]!r} did not set the value {parts[3]!r}")
        return _text(values[parts[3]])
    raise ReferenceError(f"unknown reference {{{{{ref}}}}}")


def resolve(value: Any, ctx: ReferenceContext) -> Any:
    """Substitute every reference in a string (recursively in lists and dicts)."""
    if isinstance(value, str):
        return PATTERN.sub(lambda match: lookup(match.group(1), ctx) if known(match.group(1)) else match.group(0), value)
    if isinstance(value, list):
        return [resolve(item, ctx) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, ctx) for key, item in value.items()}
    return value


def strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string inside a spec value, to check its references.

    Iterative (no recursion limit) and linear in the distinct containers: a list or
    mapping reached twice (a YAML alias) is walked once, at its first path; walking
    it as a tree doubles the time per nesting level of aliases.
    """
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, (list, dict)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = (
                [(f"{where}[{index}]", child) for index, child in enumerate(item)]
                if isinstance(item, list)
                else [(f"{where}.{key}", child) for key, child in item.items()]
            )
            stack.extend(reversed(children))
