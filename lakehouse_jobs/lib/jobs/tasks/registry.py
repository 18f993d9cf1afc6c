"""The task-type registry: each Databricks task type is one module, found by the field that names it.

A task type (`TaskType`) says how to check its body (with field paths), how to run
one attempt, and optionally what to prepare when the job is compiled. spec,
validate, compile, execution and the CLI ask the registry; none of them names a
task type. The built-in types live next to this module (one module each, listed in
BUILTIN_MODULES). Another package adds its own without touching this one:

- in code: `register_task_type(TaskType(name="my_task", check=..., run=...))`, run
  when the module defining it is imported (e.g. by the code location);
- as a plugin: an entry point in the group `lakehouse_jobs.task_types` whose value is
  `package.module:TASK_TYPE`, loaded the first time the registry is read (so the
  `lakehouse-jobs` CLI and every Dagster process see it too).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.fields import Problems, at

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.source_needs import Reading
    from lakehouse_jobs.lib.jobs.spec import TaskSpec
    from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun

ENTRY_POINT_GROUP = "lakehouse_jobs.task_types"
BUILTIN_MODULES = (
    "condition", "for_each", "python_callable", "pipeline", "notebook", "spark_python", "sql", "run_job", "python_wheel",
    "spark_jar", "spark_submit", "dbt",
)  # fmt: skip

# Databricks task types that need a workspace object or service that has no local counterpart.
REFUSED: dict[str, str] = {
    "dashboard_task": "it refreshes a Databricks AI/BI dashboard, a workspace object that does not exist locally",
    "power_bi_task": "it publishes to a Power BI workspace through Databricks' Power BI connection, which does not exist locally",
    "clean_rooms_notebook_task": "it runs inside a Databricks Clean Room shared with another party, which does not exist locally",
    "alert_task": "it evaluates a Databricks SQL alert, a workspace object that does not exist locally",
    "ai_runtime_task": "it runs on Databricks' serverless GPU AI runtime, which has no local counterpart",
    "gen_ai_compute_task": "it runs on Databricks' serverless GPU compute, which has no local counterpart",
}
# Databricks task types a later version runs; refused until their module is registered.
PLANNED: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckContext:
    """Where a task body sits: its field path, whether it is a for-each's nested task, the folder
    of the file that declares the job (relative paths start there), a checker for nested tasks, and
    the document's jobs (raw, by key) with the key of the job being checked (for run_job_task)."""

    path: str
    nested: bool = False
    base_dir: Path | None = None
    check_task: Callable[[Any, str, bool], Problems] | None = None
    jobs: Mapping[str, Any] | None = None
    job_key: str | None = None

    def at(self, name: str) -> str:
        return at(self.path, name)


@dataclass(frozen=True)
class PrepareContext:
    """Compile time: the job's assets (for types that select them) and the task's field path."""

    path: str
    assets: tuple[Any, ...] = ()
    cache: dict[str, Any] | None = None  # shared by every task of one compile (e.g. an asset graph)


@dataclass(frozen=True)
class TaskType:
    """One Databricks task type.

    name: the task field that holds its body (`condition_task`).
    check(body, ctx): every problem of the body as (path, message); nothing raises.
    run(task_run): one attempt; raise to fail (TaskTimeout to time out), else a TaskOutcome.
    prepare(task, ctx): compile-time state handed to run as `task_run.prepared`; raise SpecError
        with the field path when the job cannot be compiled (e.g. a selection of no asset).
    nested_field: the body field holding a nested task (for_each_task.task), if any.
    outcomes: values a dependent's `depends_on[].outcome` may name (condition_task: "true"/"false").
    needs_assets: running it needs the code location's assets (the CLI loads the definitions).
    reports_lineage: its runner logs the materializations of what it writes itself, so the tables
        its attempts commit to are not observed from the Delta logs (jobs/lineage.py).
    reading(task, ctx): at compile time, what the task's own code uses that Sail lacks
        (jobs/source_needs.Reading): LAKEHOUSE_ENGINE=auto runs it on Sail only when nothing is
        found, `sail` refuses it before it starts. None: its code is not read (it runs on the JVM under auto).
    """

    name: str
    check: Callable[[Any, CheckContext], Problems]
    run: Callable[[TaskRun], TaskOutcome]
    prepare: Callable[[TaskSpec, PrepareContext], Any] | None = None
    nested_field: str | None = None
    outcomes: tuple[str, ...] = ()
    needs_assets: bool = False
    description: str = ""
    reports_lineage: bool = False
    reading: Callable[[TaskSpec, CheckContext], Reading] | None = None


_TYPES: dict[str, TaskType] = {}
_LOADED = False
_LOCK = threading.RLock()


def register_task_type(task_type: TaskType, *, replace: bool = False) -> TaskType:
    """Make `task_type` known to validation, compilation, execution and the CLI."""
    if not isinstance(task_type, TaskType):
        raise TypeError(f"expected a TaskType, got {type(task_type).__name__}")
    if not task_type.name.endswith("_task") or not task_type.name.isidentifier():
        raise SpecError("name", f"a task type's field is an identifier ending in _task, got {task_type.name!r}")
    if task_type.name in REFUSED:
        raise SpecError("name", f"{task_type.name} is a Databricks task type refused locally: {REFUSED[task_type.name]}")
    with _LOCK:
        _load()
        if task_type.name in _TYPES and not replace and _TYPES[task_type.name] is not task_type:
            raise SpecError("name", f"task type {task_type.name} is already registered (pass replace=True to override it)")
        _TYPES[task_type.name] = task_type
    return task_type


def unregister_task_type(name: str) -> None:
    with _LOCK:
        _TYPES.pop(name, None)


def _load() -> None:
    """Import the built-in modules and the entry points once (each registers itself)."""
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        _LOADED = True
        for module in BUILTIN_MODULES:
            builtin = importlib.import_module(f"{__package__}.{module}").TASK_TYPE
            _TYPES.setdefault(builtin.name, builtin)
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin names itself, once, instead of breaking every job
                raise SpecError(f"entry point {entry.name}", f"cannot load task type {entry.value!r}: {type(exc).__name__}: {exc}") from None
            if not isinstance(loaded, TaskType):
                raise SpecError(f"entry point {entry.name}", f"{entry.value!r} is not a TaskType")
            _TYPES.setdefault(loaded.name, loaded)


def task_types() -> dict[str, TaskType]:
    """Every registered task type, by name (built-ins first)."""
    _load()
    return dict(_TYPES)


def get(name: str) -> TaskType:
    _load()
    try:
        return _TYPES[name]
    except KeyError:
        raise SpecError(name, f"unknown task type {name!r}; known: {', '.join(_TYPES)}") from None


def kinds_in(task: Mapping[str, Any]) -> list[str]:
    """The registered task-type fields present in a raw task, in registration order."""
    return [name for name in task_types() if name in task]


def kind_of(task: Mapping[str, Any]) -> str | None:
    found = kinds_in(task)
    return found[0] if found else None


def unavailable(name: str) -> str | None:
    """Why a Databricks task type that is not registered cannot run here (None when it is unknown)."""
    if name in REFUSED:
        return f"{name} cannot run locally: {REFUSED[name]}"
    if name in PLANNED and name not in task_types():
        return f"{name} is not supported yet; supported task types: {', '.join(task_types())}"
    return None


def run_task(task_run: TaskRun) -> TaskOutcome:
    """One attempt of `task_run.task`, by its type's runner."""
    return get(task_run.task.kind).run(task_run)
