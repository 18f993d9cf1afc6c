"""The job model: Databricks Jobs API 2.2 / Asset Bundle field names, as dataclasses.

Built by load.py only from documents that validate.py accepted, so the model
trusts its input (and knows no task type: the registry does). Two document shapes: one job object, or a bundle-shaped
document with `resources.jobs.<key>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import SpecError


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
    base_dir: Path | None = None  # the folder of the file that declares the job: relative task paths start there

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
    """The jobs of one document, and its `resources.pipelines` (what a `pipeline_task`'s `pipeline_id` names)."""

    jobs: dict[str, JobSpec]
    source: str = "<dict>"
    pipelines: dict[str, Any] = field(default_factory=dict)

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
