"""The job model: Databricks Jobs API 2.2 / Asset Bundle field names, as dataclasses.

Built only from documents that validate.py accepted (load.py does both), so the
model trusts its input. Two document shapes: one job object, or a bundle-shaped
document with `resources.jobs.<key>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.tasks import registry


@dataclass(frozen=True)
class Dependency:
    task_key: str
    outcome: str | None = None


@dataclass
class TaskSpec:
    task_key: str
    kind: str
    body: dict[str, Any]
    depends_on: tuple[Dependency, ...] = ()
    run_if: str = "ALL_SUCCESS"
    max_retries: int = 0
    min_retry_interval_millis: int = 0
    retry_on_timeout: bool = False
    timeout_seconds: int = 0
    disabled: bool = False
    description: str | None = None
    nested: TaskSpec | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TaskSpec:
        kind = registry.kind_of(raw)
        body = dict(raw[kind])
        nested_field = registry.get(kind).nested_field
        nested = cls.from_dict(body[nested_field]) if nested_field else None
        return cls(
            task_key=raw["task_key"],
            kind=kind,
            body=body,
            depends_on=tuple(Dependency(d["task_key"], d.get("outcome")) for d in raw.get("depends_on") or ()),
            run_if=raw.get("run_if") or "ALL_SUCCESS",
            max_retries=int(raw.get("max_retries", 0) or 0),
            min_retry_interval_millis=int(raw.get("min_retry_interval_millis", 0) or 0),
            retry_on_timeout=bool(raw.get("retry_on_timeout", False)),
            timeout_seconds=int(raw.get("timeout_seconds", 0) or 0),
            disabled=bool(raw.get("disabled", False)),
            description=raw.get("description"),
            nested=nested,
            raw=dict(raw),
        )


@dataclass
class JobSpec:
    key: str
    name: str
    tasks: list[TaskSpec]
    parameters: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, key: str, raw: Mapping[str, Any]) -> JobSpec:
        return cls(
            key=key,
            name=raw.get("name") or key,
            tasks=[TaskSpec.from_dict(task) for task in raw["tasks"]],
            parameters={p["name"]: parameter_text(p.get("default", "")) for p in raw.get("parameters") or ()},
            timeout_seconds=int(raw.get("timeout_seconds", 0) or 0),
            tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
            description=raw.get("description"),
            raw=dict(raw),
        )

    @cached_property
    def task_by_key(self) -> dict[str, TaskSpec]:
        return {task.task_key: task for task in self.tasks}

    @cached_property
    def dependents(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {task.task_key: [] for task in self.tasks}
        for task in self.tasks:
            for dep in task.depends_on:
                result[dep.task_key].append(task.task_key)
        return result

    @cached_property
    def leaves(self) -> list[str]:
        return [key for key, children in self.dependents.items() if not children]

    def descendants(self, keys: Iterable[str]) -> set[str]:
        """`keys` and every task downstream of them."""
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.add(key)
                stack.extend(self.dependents[key])
        return seen


@dataclass
class JobsDocument:
    jobs: dict[str, JobSpec]
    source: str = "<dict>"

    def job(self, key: str | None = None) -> JobSpec:
        """The job `key`, or the only job of the document."""
        if key is None:
            if len(self.jobs) != 1:
                raise SpecError("--job", f"{self.source} declares {len(self.jobs)} jobs ({', '.join(self.jobs)}); choose one")
            return next(iter(self.jobs.values()))
        if key not in self.jobs:
            raise SpecError("--job", f"{self.source} has no job {key!r}; it declares {', '.join(self.jobs)}")
        return self.jobs[key]


def parameter_text(value: Any) -> str:
    """Job parameters are strings; numbers and booleans are written as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def job_key_from_name(name: Any) -> str:
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", str(name or "")).strip("_").lower()
    return slug or "job"


def job_entries(obj: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """('bundle' | 'job', {key: job dict}) for the two document shapes."""
    if "resources" in obj:
        jobs = (obj.get("resources") or {}).get("jobs") if isinstance(obj.get("resources"), Mapping) else None
        return "bundle", dict(jobs) if isinstance(jobs, Mapping) else {}
    return "job", {job_key_from_name(obj.get("name")): dict(obj)}
