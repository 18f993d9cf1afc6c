"""`notebook_task`: run a Databricks notebook (.py/.sql source, .ipynb) on the run's SparkSession.

Fields: `notebook_path` (required; relative to the job file's folder, extension optional, or an
absolute workspace path mapped under $LAKEHOUSE_WORKSPACE_ROOT - see notebooks/paths.py),
`source` (WORKSPACE, or GIT: the notebook comes from the job's git_source checkout, the path relative
to the repository root; the default when the job declares git_source - see lib/git_source.py),
`base_parameters` (strings; `{{...}}` references resolved at run time), `warehouse_id`
(accepted and ignored: SQL cells run on the run's Spark session).

Widget values: base_parameters, then the job's parameters (pushed down: they win). The task's
step metadata holds the notebook path, the cells run, the exit value (`notebook_output`), the
notebook's markdown and its display() previews; cell output goes to the step's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib import git_source, workspace
from lakehouse_jobs.lib.jobs import fields, source_needs
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.source_needs import Reading
from lakehouse_jobs.lib.jobs.task_run import TaskFailure, TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout
from lakehouse_jobs.lib.notebooks import paths, runtime_module
from lakehouse_jobs.lib.notebooks.runner import NotebookRunner, unsupported_cells
from lakehouse_jobs.lib.notebooks.source import NotebookSourceError, parse_file
from lakehouse_jobs.lib.runtime.output import captured, redact

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.spec import TaskSpec

FIELDS = ("notebook_path", "source", "base_parameters", "warehouse_id")


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{notebook_path, source, base_parameters, warehouse_id}"):
        return problems
    fields.unknown(problems, body, ctx.path, FIELDS)
    fields.string(problems, body, "notebook_path", ctx.path, required=True, hint="the notebook to run")
    fields.one_of(problems, body, "source", ctx.path, ("WORKSPACE", "GIT"))
    fields.string(problems, body, "warehouse_id", ctx.path)
    job = (ctx.jobs or {}).get(ctx.job_key or "")
    source = workspace.task_source(body.get("source"), job)
    path = body.get("notebook_path")
    if source == workspace.GIT and ctx.jobs is not None and not (isinstance(job, Mapping) and job.get("git_source")):
        problems.append((ctx.at("source"), "source GIT reads the notebook from the job's git_source, which this job does not declare"))
    elif source == workspace.GIT and isinstance(path, str) and (problem := workspace.repository_path_problem(path, "notebook")):
        problems.append((ctx.at("notebook_path"), problem))
    params = body.get("base_parameters")
    if params is not None and (
        not isinstance(params, Mapping)
        or not all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool) for k, v in params.items())
    ):
        problems.append((ctx.at("base_parameters"), "expected a mapping of parameter names to string values"))
    if isinstance(path, str) and path.strip() and "{{" not in path and source != workspace.GIT:  # a GIT file exists at run time
        problems.extend((ctx.at("notebook_path"), message) for message in notebook_problems(path, ctx.base_dir))
    return problems


def notebook_problems(notebook_path: str, base_dir: Path | None) -> list[str]:
    """Why the notebook cannot run: not found, outside the root, unparsable, scala/r cells, also in
    the notebooks it `%run`s (followed statically; a `%run` path with a `$` or `{{` is left to run time)."""
    root = paths.workspace_root(base_dir)
    try:
        first = paths.resolve(notebook_path, base_dir, root)
    except paths.NotebookPathError as exc:
        return [str(exc)]
    problems: list[str] = []
    pending, seen = [first], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            notebook = parse_file(path)
        except NotebookSourceError as exc:
            problems.append(str(exc))
            continue
        problems.extend(unsupported_cells(notebook))
        for cell in notebook.cells:
            target = (cell.argument or cell.source).split()[:1] if cell.kind == "run" else []
            if target and "$" not in target[0] and "{{" not in target[0]:
                try:
                    pending.append(paths.resolve(target[0].strip("\"'"), path.parent, root))
                except paths.NotebookPathError as exc:
                    problems.append(f"{notebook.where(cell)}: %run {exc}")
    return problems


def parameters(task_run: TaskRun) -> dict[str, str]:
    """base_parameters (references resolved) with the job's parameters pushed down over them."""
    given = task_run.resolve({str(k): str(v) for k, v in (task_run.body.get("base_parameters") or {}).items()})
    return {**given, **{str(k): str(v) for k, v in task_run.references.parameters.items()}}


def run(task_run: TaskRun) -> TaskOutcome:
    base = task_run.job_folder()
    root = paths.workspace_root(base)
    notebook_path = task_run.resolve(task_run.body["notebook_path"])
    if workspace.task_source(task_run.body.get("source"), task_run.runtime.spec.raw) == workspace.GIT:
        base = root = git_source.run_checkout(task_run, TaskFailure)
        if problem := workspace.repository_path_problem(notebook_path, "notebook"):
            raise TaskFailure(problem)
    path = paths.resolve(notebook_path, base, root)
    secrets: set[str] = set()
    runner = NotebookRunner(
        task_run.spark(), task_run.lakehouse().root, root, parameters(task_run), secrets=secrets,
        run_child=lambda fn, timeout, label: call_with_timeout(fn, timeout or None, label),
    )  # fmt: skip
    log = task_run.context.log.info

    def execute() -> Any:
        with captured(log, secrets), runtime_module.bound(runner.namespace):
            return runner.run(path)

    result = call_with_timeout(execute, task_run.timeout, label=task_run.task.task_key)
    metadata: dict[str, Any] = {"notebook_path": str(result.path), "cells_run": result.cells_run}
    if result.exit_value is not None:
        metadata["notebook_output"] = redact(result.exit_value, secrets)  # secrets never reach the metadata
    if result.markdown:
        import dagster as dg

        metadata["markdown"] = dg.MetadataValue.md("\n\n".join(result.markdown))
    if result.displays:
        import dagster as dg

        metadata["display"] = dg.MetadataValue.md("\n\n---\n\n".join(result.displays))
    return TaskOutcome(SUCCESS, metadata=metadata)


def reading(task: TaskSpec, ctx: CheckContext) -> Reading:
    """What the notebook (and the notebooks it runs, the modules it imports) uses that Sail lacks."""
    body = task.body
    git = workspace.task_source(body.get("source"), (ctx.jobs or {}).get(ctx.job_key or "")) == workspace.GIT
    root = paths.workspace_root(ctx.base_dir)
    return source_needs.for_task("notebook", body.get("notebook_path"), git, lambda p: paths.resolve(p, ctx.base_dir, root), ctx.base_dir)


TASK_TYPE = TaskType(
    name="notebook_task", check=check, run=run, reading=reading, description="run a Databricks notebook (.py/.sql source or .ipynb) with a local dbutils"
)
