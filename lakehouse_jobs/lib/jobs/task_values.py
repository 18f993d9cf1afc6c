"""Task values: small JSON values a task sets for the tasks downstream of it.

    from lakehouse_jobs.lib.jobs import task_values
    task_values.set("row_count", 42)                  # inside a task
    n = task_values.get("ingest", "row_count", default=0)

Like `dbutils.jobs.taskValues`: a value must be JSON-serializable and at most
48 KiB once serialized; downstream tasks read it with `get` or with the
reference `{{tasks.<task_key>.values.<name>}}`.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE_BYTES = 48 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_CURRENT: contextvars.ContextVar[TaskValueScope | None] = contextvars.ContextVar("lakehouse_jobs_task_values", default=None)


class TaskValueError(ValueError):
    """A value that cannot be stored (not JSON, too large, bad key) or read."""


@dataclass
class TaskValueScope:
    """The values of the running task and those of the tasks upstream of it."""

    task_key: str
    upstream: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def encode(key: str, value: Any) -> Any:
    """Check a value like Databricks does and return its JSON round-trip."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise TaskValueError(f"invalid task value key {key!r}; use letters, digits, _ and - (at most 128)")
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TaskValueError(f"task value {key!r} is not JSON-serializable: {exc}") from None
    size = len(text.encode())
    if size > MAX_VALUE_BYTES:
        raise TaskValueError(f"task value {key!r} is {size} bytes serialized; the limit is {MAX_VALUE_BYTES} (48 KiB)")
    return json.loads(text)


def set(key: str, value: Any) -> None:  # noqa: A001 - mirrors dbutils.jobs.taskValues.set
    scope = _CURRENT.get()
    if scope is None:
        raise TaskValueError("task_values.set() is only available inside a running job task")
    scope.values[key] = encode(key, value)


def get(task_key: str, key: str, default: Any = None, debug_value: Any = None) -> Any:
    """A value set by an upstream task (or by this task); `debug_value` outside a job run."""
    scope = _CURRENT.get()
    if scope is None:
        return debug_value
    if task_key == scope.task_key:
        return scope.values.get(key, default)
    if task_key not in scope.upstream:
        raise TaskValueError(f"task {task_key!r} is not upstream of {scope.task_key!r}; its values are not visible here")
    return (scope.upstream[task_key].get("values") or {}).get(key, default)


def bind(scope: TaskValueScope) -> contextvars.Token:
    return _CURRENT.set(scope)


def unbind(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def current() -> TaskValueScope | None:
    return _CURRENT.get()


__all__ = ["MAX_VALUE_BYTES", "TaskValueError", "TaskValueScope", "get", "set"]
