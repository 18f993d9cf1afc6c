"""`spark_python_task`: run a Python file as `__main__` on the run's SparkSession, as a Databricks driver does.

- `python_file`: relative to the folder of the file that declares the job (the current directory for
  a spec given as a dict), a `file:` URI, or an absolute path; a relative path must stay inside that
  folder. It must exist when the job is validated.
- `parameters`: the script's `sys.argv[1:]`. Job parameters are not pushed down (a list-parameter
  task, as on Databricks): refer to them with `{{job.parameters.name}}` inside `parameters`.
- `source`: WORKSPACE or GIT (the default when the job declares `git_source`): a GIT file is read
  from the job's git_source checkout at the run's commit, `python_file` relative to the repository
  root (lib/git_source.py).

The script runs in the step's process (runpy, `run_name="__main__"`), its folder first on sys.path
as `python file.py` would have it; `SparkSession.builder.getOrCreate()` returns the run's session.
`sys.exit(0)` succeeds, another exit code or an exception fails the task with the code or the
script's line; print() output reaches the step's log.
"""

from __future__ import annotations

import re
import runpy
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib import git_source, workspace
from lakehouse_jobs.lib.jobs import fields, source_needs
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.source_needs import Reading
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout
from lakehouse_jobs.lib.runtime.python_main import ProgramFailed, run_program

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.spec import TaskSpec

SOURCES = ("WORKSPACE", "GIT")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_PACKAGE_DIR = Path(__file__).resolve().parents[3]  # lakehouse_jobs/: never the user's frames


def job_folder(task_run: TaskRun) -> Path:
    """The folder relative paths of this task start from: the declaring file's, else the current directory."""
    return task_run.job_folder() or Path.cwd()


def local_file(value: str, folder: Path, what: str) -> Path:
    """The local file `value` names (a path or `file:` URI; relative ones from `folder`, confined to the workspace root).

    ValueError (WorkspacePathError) with one sentence naming the path tried otherwise.
    """
    return workspace.find(value, folder, what, absolute_anywhere=True)


def _argument(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{python_file, parameters, source}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"python_file", "parameters", "source"})
    fields.string(problems, body, "python_file", ctx.path, required=True, hint="the Python file to run")
    fields.one_of(problems, body, "source", ctx.path, SOURCES)
    job = (ctx.jobs or {}).get(ctx.job_key or "")
    source = workspace.task_source(body.get("source"), job)
    if source == workspace.GIT:  # the file exists at run time, in the checkout
        if ctx.jobs is not None and not (isinstance(job, Mapping) and job.get("git_source")):
            problems.append((ctx.at("source"), "source GIT reads the file from the job's git_source, which this job does not declare"))
        elif isinstance(body.get("python_file"), str) and (problem := workspace.repository_path_problem(body["python_file"], "python_file")):
            problems.append((ctx.at("python_file"), problem))
    elif isinstance(body.get("python_file"), str) and body["python_file"].strip():
        try:
            local_file(body["python_file"], ctx.base_dir or Path.cwd(), "python_file")
        except ValueError as exc:
            problems.append((ctx.at("python_file"), str(exc)))
    params = body.get("parameters")
    if params is not None and (not isinstance(params, list) or not all(_argument(p) for p in params)):
        problems.append((ctx.at("parameters"), "expected a list of strings (the script's command-line arguments)"))
    return problems


def argv_text(value: Any) -> str:
    """A command-line argument as text (booleans and numbers as JSON writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextmanager
def script_folder_first(folder: Path) -> Iterator[None]:
    """`folder` first on sys.path (as `python script.py` does); modules imported from it are dropped afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:
            pass
        for name in [n for n in sys.modules if n not in before]:
            file = getattr(sys.modules.get(name), "__file__", None)
            if file and Path(file).resolve().is_relative_to(folder) and not Path(file).resolve().is_relative_to(_PACKAGE_DIR):
                sys.modules.pop(name, None)


def run(task_run: TaskRun) -> TaskOutcome:
    body = task_run.body
    try:
        if workspace.task_source(body.get("source"), task_run.runtime.spec.raw) == workspace.GIT:
            path = workspace.in_repository(body["python_file"], git_source.run_checkout(task_run), "python_file")
        else:
            path = local_file(body["python_file"], job_folder(task_run), "python_file")
    except ValueError as exc:
        raise ProgramFailed(str(exc), "") from None
    argv = [str(path), *(argv_text(p) for p in task_run.resolve(list(body.get("parameters") or [])))]
    folder = path.parent

    def is_user(filename: str) -> bool:
        file = Path(filename)
        return file.is_relative_to(folder) and not file.is_relative_to(_PACKAGE_DIR) and "site-packages" not in file.parts

    session = task_run.spark()  # started before the clock: a JVM start is not the script's time

    def main() -> None:
        with script_folder_first(folder):
            run_program(
                lambda: runpy.run_path(str(path), run_name="__main__"),
                argv,
                label=f"python file {path}",
                log=task_run.context.log.info,
                is_user=is_user,
                at_line=lambda file, line: f"python file {file}, line {line}",
                session=session,
            )

    call_with_timeout(main, task_run.timeout, label=task_run.task.task_key)
    return TaskOutcome(SUCCESS, metadata={"python_file": str(path), "parameters": len(argv) - 1})


def reading(task: TaskSpec, ctx: CheckContext) -> Reading:
    """What the script (and the modules it imports from its own folders) uses that Sail lacks."""
    body = task.body
    git = workspace.task_source(body.get("source"), (ctx.jobs or {}).get(ctx.job_key or "")) == workspace.GIT
    return source_needs.for_task("python", body.get("python_file"), git, lambda p: local_file(p, ctx.base_dir or Path.cwd(), "python_file"), ctx.base_dir)


TASK_TYPE = TaskType(name="spark_python_task", check=check, run=run, reading=reading, description="run a Python file as __main__ on the run's SparkSession")
