"""`spark_jar_task`: run a JAR's main class through `spark-submit`, as Databricks runs a JAR task.

- `main_class_name`: the class whose `main(String[])` runs; it must be in one of the task's jars.
- `parameters`: the main method's arguments. Job parameters are not pushed down (a list-parameter
  task, as on Databricks): refer to them with `{{job.parameters.name}}` inside `parameters`.
- the jar comes from the task's `libraries: [{jar: ./target/app.jar}]` (relative to the folder of the
  file that declares the job, the current directory for a spec given as a dict; globs allowed,
  exactly one match per entry). The deprecated `jar_uri` is accepted as one more jar.
  Validation sees only the task body: a `libraries` jar is looked for when the task runs.

The application runs in its own driver JVM with the project's Delta jars and settings (see
runtime/spark_submit.py for where its master comes from); `SparkSession.builder().getOrCreate()` in
it returns that driver's session. Its output reaches the step's log; a non-zero exit or an uncaught
exception fails the task with the exit code and the exception's line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.runtime import spark_submit
from lakehouse_jobs.lib.runtime.python_main import ProgramFailed

FIELDS = ("main_class_name", "parameters", "jar_uri", "run_as_repl")
_SCALARS = (str, int, float, bool)


def job_folder(task_run: TaskRun) -> Path:
    """The folder relative paths of this task start from: the declaring file's, else the current directory."""
    folder = task_run.runtime.spec.base_dir
    return Path(folder) if folder is not None else Path.cwd()


def argv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_arguments(problems: Problems, body: Mapping[str, Any], ctx: CheckContext, what: str) -> None:
    params = body.get("parameters")
    if params is not None and (not isinstance(params, list) or not all(isinstance(p, _SCALARS) for p in params)):
        problems.append((ctx.at("parameters"), f"expected a list of strings ({what})"))


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{main_class_name, parameters}"):
        return problems
    fields.unknown(problems, body, ctx.path, set(FIELDS))
    fields.string(problems, body, "main_class_name", ctx.path, required=True, hint="the class whose main method runs, e.g. com.example.Main")
    name = body.get("main_class_name")
    if isinstance(name, str) and name.strip() and not spark_submit.JAVA_CLASS.fullmatch(name.strip()):
        problems.append((ctx.at("main_class_name"), f"{name!r} is not a Java class name (package.Class)"))
    check_arguments(problems, body, ctx, "the main method's arguments")
    fields.string(problems, body, "jar_uri", ctx.path)
    if isinstance(body.get("jar_uri"), str) and body["jar_uri"].strip():
        try:
            spark_submit.find_jar(body["jar_uri"], ctx.base_dir or Path.cwd(), "jar_uri")
        except spark_submit.SubmitError as exc:
            problems.append((ctx.at("jar_uri"), str(exc)))
    if body.get("run_as_repl") is False:
        problems.append((ctx.at("run_as_repl"), "run_as_repl false is no longer supported (Databricks deprecated it)"))
    return problems


def library_jars(task_run: TaskRun) -> list[Path]:
    """The jar of each `{jar: ...}` library of the task (other library kinds are logged as not used)."""
    libraries = task_run.task.raw.get("libraries")
    if libraries is None:
        return []
    if not isinstance(libraries, list):
        raise ProgramFailed("libraries: expected a list of libraries such as {jar: ./target/app.jar}", "")
    folder, found = job_folder(task_run), []
    for index, library in enumerate(libraries):
        where = f"libraries[{index}]"
        if not isinstance(library, Mapping):
            raise ProgramFailed(f"{where}: expected a library such as {{jar: ./target/app.jar}}, got {library!r}", "")
        if "jar" not in library:
            task_run.context.log.info(f"{where} ({', '.join(map(str, library))}) is not a jar: not used by the JVM application here")
            continue
        if not isinstance(library["jar"], str) or not library["jar"].strip():
            raise ProgramFailed(f"{where}.jar: expected the path of a jar file, got {library['jar']!r}", "")
        try:
            found.append(spark_submit.find_jar(library["jar"], folder, f"{where}.jar"))
        except spark_submit.SubmitError as exc:
            raise ProgramFailed(str(exc), "") from None
    return found


def submit(task_run: TaskRun, options: Sequence[str], jars: Sequence[str], application: Sequence[str], label: str) -> dict[str, Any]:
    """Run spark-submit for this task against the run's Spark master; the step metadata on success."""
    from lakehouse_jobs.lib.runtime.spark import SparkResource

    resource = (task_run.runtime.resources or {}).get("spark")
    resource = resource if isinstance(resource, SparkResource) else SparkResource()
    lakehouse = task_run.lakehouse()
    target = spark_submit.target(resource, lakehouse, f"{resource.app_name}:{task_run.task.task_key}")
    task_run.context.log.info(f"{label}: {target.note}")
    argv = spark_submit.command(target, options, jars, application)
    spark_submit.run_submit(
        argv,
        label=label,
        log=task_run.context.log.info,
        timeout=task_run.timeout,
        cwd=job_folder(task_run),
        env=spark_submit.environment(str(lakehouse.root_path)),
        timeout_label=task_run.task.task_key,
    )
    return {"master": target.master}


def run(task_run: TaskRun) -> TaskOutcome:
    body = task_run.body
    main_class = body["main_class_name"].strip()
    jars = library_jars(task_run)
    if isinstance(body.get("jar_uri"), str) and body["jar_uri"].strip():
        try:
            jars.append(spark_submit.find_jar(body["jar_uri"], job_folder(task_run), "jar_uri"))
        except spark_submit.SubmitError as exc:
            raise ProgramFailed(str(exc), "") from None
    if not jars:
        raise ProgramFailed(f"spark_jar_task needs the jar holding {main_class} in the task's libraries, e.g. libraries: [{{jar: ./target/app.jar}}]", "")
    try:
        primary = spark_submit.jar_with_class(jars, main_class)
    except spark_submit.SubmitError as exc:
        raise ProgramFailed(str(exc), "") from None
    if primary is None:
        raise ProgramFailed(f"main class {main_class} is in none of the task's jars ({', '.join(str(j) for j in jars)})", "")
    parameters = [argv_text(p) for p in task_run.resolve(list(body.get("parameters") or []))]
    others = [str(j) for j in jars if j != primary]
    metadata = submit(task_run, ["--class", main_class], others, [str(primary), *parameters], f"main class {main_class}")
    return TaskOutcome(SUCCESS, metadata={"main_class_name": main_class, "jar": str(primary), "parameters": len(parameters), **metadata})


TASK_TYPE = TaskType(name="spark_jar_task", check=check, run=run, description="run a JAR's main class through spark-submit")
