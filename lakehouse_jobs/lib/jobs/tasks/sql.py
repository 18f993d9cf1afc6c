"""`sql_task` with a `file`: run the statements of a .sql file, in order, on the run's SparkSession.

Fields: `file` {`path`, `source`} (required here; `path` relative to the job file's folder, or an
absolute workspace path under $LAKEHOUSE_WORKSPACE_ROOT as for notebooks; `source` WORKSPACE or GIT,
the default when the job declares git_source: the file then comes from its checkout at the run's
commit, `path` relative to the repository root - lib/git_source.py), `parameters` (name ->
string; `{{...}}` references resolved at run time), `warehouse_id` (accepted and ignored: the
statements run on the run's Spark session). `query`, `alert` and `dashboard` name Databricks SQL
workspace objects and are refused.

Parameters: the task's, then the job's (pushed down, they win). In the file, `:name` markers are
bound by Spark (`spark.sql(text, args=...)`), and the legacy `{{name}}` / `${name}` forms are
replaced as text. Each statement is its own transaction (Delta commits per statement): those
before a failing statement stay applied. The last statement's result is previewed in the step's
metadata (first rows, row count).
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
from lakehouse_jobs.lib.sql.statements import StatementError, preview, run_statements, split_statements

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.spec import TaskSpec

FIELDS = ("file", "parameters", "warehouse_id", "query", "alert", "dashboard")
PREVIEW_ROWS = 20
WORKSPACE_OBJECTS = {
    "query": "it runs a saved Databricks SQL query, a workspace object that does not exist locally; put its text in a .sql file and use file",
    "alert": "it evaluates a Databricks SQL alert, a workspace object that does not exist locally",
    "dashboard": "it refreshes a Databricks SQL dashboard, a workspace object that does not exist locally",
}


def sql_file(path: str, base_dir: Path | None) -> Path:
    """The .sql file `path` names: relative from the job file's folder, `/Workspace/...` under the workspace root.

    ValueError (WorkspacePathError) with one sentence naming the path tried, or why it is refused.
    """
    return workspace.find(path, base_dir, "SQL file")


def _string_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool) for k, v in value.items())


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{file: {path, source}, parameters, warehouse_id}"):
        return problems
    fields.unknown(problems, body, ctx.path, FIELDS)
    fields.string(problems, body, "warehouse_id", ctx.path)
    for name, reason in WORKSPACE_OBJECTS.items():
        if name in body:
            problems.append((ctx.at(name), f"sql_task.{name} cannot run locally: {reason}"))
    if "file" not in body:
        if not any(name in body for name in WORKSPACE_OBJECTS):
            problems.append((ctx.at("file"), "missing: a sql_task runs a .sql file ({path, source})"))
        return problems
    file = body["file"]
    where = ctx.at("file")
    if not fields.body(problems, file, where, "{path, source}"):
        return problems
    fields.unknown(problems, file, where, ("path", "source"))
    fields.string(problems, file, "path", where, required=True, hint="the .sql file to run")
    fields.one_of(problems, file, "source", where, ("WORKSPACE", "GIT"))
    job = (ctx.jobs or {}).get(ctx.job_key or "")
    source = workspace.task_source(file.get("source"), job)
    if source == workspace.GIT and ctx.jobs is not None and not (isinstance(job, Mapping) and job.get("git_source")):
        problems.append((f"{where}.source", "source GIT reads the file from the job's git_source, which this job does not declare"))
    elif source == workspace.GIT and isinstance(file.get("path"), str) and (problem := workspace.repository_path_problem(file["path"], "SQL file")):
        problems.append((f"{where}.path", problem))
    params = body.get("parameters")
    if params is not None and not _string_map(params):
        problems.append((ctx.at("parameters"), "expected a mapping of parameter names to string values"))
    path = file.get("path")
    if isinstance(path, str) and path.strip() and "{{" not in path and source != workspace.GIT:  # a GIT file exists at run time
        try:
            sql_file(path.strip(), ctx.base_dir)
        except ValueError as exc:
            problems.append((f"{where}.path", str(exc)))
    return problems


def parameters(task_run: TaskRun) -> dict[str, str]:
    """The task's parameters (references resolved) with the job's parameters pushed down over them."""
    given = task_run.resolve({str(k): str(v) for k, v in (task_run.body.get("parameters") or {}).items()})
    return {**given, **{str(k): str(v) for k, v in task_run.references.parameters.items()}}


def run(task_run: TaskRun) -> TaskOutcome:
    import dagster as dg

    try:
        value = str(task_run.resolve(task_run.body["file"]["path"])).strip()
        if workspace.task_source(task_run.body["file"].get("source"), task_run.runtime.spec.raw) == workspace.GIT:
            path = workspace.in_repository(value, git_source.run_checkout(task_run), "SQL file")
        else:
            path = sql_file(value, task_run.job_folder())
        text = path.read_text(encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise TaskFailure(f"sql_task.file.path: {exc}") from None
    statements = split_statements(text)
    if not statements:
        raise TaskFailure(f"{path} holds no SQL statement")
    values = parameters(task_run)
    spark = task_run.spark()

    def execute() -> Any:
        try:
            return preview(run_statements(spark, statements, values, source=str(path)), PREVIEW_ROWS)
        except StatementError as exc:
            raise TaskFailure(str(exc)) from None

    result = call_with_timeout(execute, task_run.timeout, label=task_run.task.task_key)
    task_run.context.log.info(f"{path}: {len(statements)} statement(s) run; the last returned {result['row_count']} row(s)")
    metadata: dict[str, Any] = {"sql_file": str(path), "statements_run": len(statements), "row_count": result["row_count"]}
    if result["columns"]:
        metadata["preview"] = dg.MetadataValue.md(_markdown(result))
    return TaskOutcome(SUCCESS, metadata=metadata)


def _markdown(result: Mapping[str, Any]) -> str:
    columns = result["columns"]

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in result["rows"]]
    shown = len(result["rows"])
    if result["row_count"] > shown:
        lines.append(f"\n{shown} of {result['row_count']} rows")
    return "\n".join(lines)


def reading(task: TaskSpec, ctx: CheckContext) -> Reading:
    """What the .sql file's statements use that Sail lacks."""
    file = task.body.get("file")
    if not isinstance(file, Mapping):
        return source_needs.Reading()  # a saved query, alert or dashboard: refused when the job is checked
    git = workspace.task_source(file.get("source"), (ctx.jobs or {}).get(ctx.job_key or "")) == workspace.GIT
    return source_needs.for_task("sql", file.get("path"), git, lambda p: sql_file(p, ctx.base_dir), ctx.base_dir)


TASK_TYPE = TaskType(name="sql_task", check=check, run=run, reading=reading, description="run the statements of a .sql file on the run's SparkSession")
