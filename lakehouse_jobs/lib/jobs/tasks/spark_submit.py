"""`spark_submit_task` (Databricks' legacy task): `spark-submit` with the task's argument list.

- `parameters`: spark-submit's options, then the application (a jar or Python file), then its
  arguments, e.g. `["--class", "org.example.Main", "./target/app.jar", "2024-01-01"]`. `{{...}}`
  references are resolved; job parameters are not pushed down (a list-parameter task).
- As on Databricks, the master, deploy mode and executor cores are the platform's: `--master`,
  `--deploy-mode`, `--executor-cores` (and their `--conf` forms) are refused, as are options that do
  not run an application here (`--remote`, `--kill`, `--status`, `--help`, `--version`).
- The application and the files of `--jars`, `--py-files`, `--files`, `--archives` and
  `--properties-file` are local paths: relative ones start at the folder of the file that declares
  the job (the current directory for a spec given as a dict) and stay inside it; they must exist
  when the job is validated. `--packages` resolves Maven coordinates through Ivy (network).

It runs like spark_jar_task (runtime/spark_submit.py): its own driver JVM against the run's master,
with the project's Delta jars (added to the task's `--jars`) and settings, output to the step's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.tasks.spark_jar import argv_text, job_folder, submit
from lakehouse_jobs.lib.runtime import spark_submit
from lakehouse_jobs.lib.runtime.python_main import ProgramFailed

# spark-submit's options that take a value (SparkSubmitOptionParser), and those that do not.
WITH_VALUE = {
    "--class", "--name", "--jars", "--packages", "--exclude-packages", "--repositories", "--py-files", "--files", "--archives",
    "--conf", "-c", "--properties-file", "--driver-memory", "--driver-java-options", "--driver-library-path", "--driver-class-path",
    "--executor-memory", "--driver-cores", "--total-executor-cores", "--num-executors", "--queue", "--proxy-user", "--principal",
    "--keytab", "--master", "--deploy-mode", "--executor-cores", "--remote", "--kill", "--status",
}  # fmt: skip
FLAGS = {"--verbose", "-v", "--supervise", "--help", "-h", "--version", "--usage-error"}
REFUSED = {
    "--master": "the master is the run's Spark (Databricks does not let a spark-submit task override it either)",
    "--deploy-mode": "the driver runs on this machine (Databricks does not let a spark-submit task override the deploy mode either)",
    "--executor-cores": "executor cores are the run's Spark's (Databricks does not let a spark-submit task override them either)",
    "--remote": "a spark-submit task runs a driver, not a Spark Connect client",
    "--kill": "it stops a submission instead of running an application",
    "--status": "it asks a submission's status instead of running an application",
    "--help": "it prints spark-submit's help instead of running an application",
    "-h": "it prints spark-submit's help instead of running an application",
    "--version": "it prints Spark's version instead of running an application",
    "--usage-error": "it prints spark-submit's usage instead of running an application",
}
REFUSED_CONF = {"spark.master": "--master", "spark.submit.deployMode": "--deploy-mode", "spark.executor.cores": "--executor-cores", "spark.remote": "--remote"}
PATH_LISTS = ("--jars", "--py-files", "--files", "--archives")


@dataclass
class Submission:
    """The task's spark-submit arguments, parsed: options (name, value, index), the application and its arguments."""

    options: list[tuple[str, str | None, int]] = field(default_factory=list)
    application: str | None = None
    application_index: int = -1
    arguments: list[str] = field(default_factory=list)


def parse(argv: Sequence[str]) -> tuple[Submission, list[tuple[int, str]]]:
    """spark-submit's argument list split as its parser does; problems as (index, sentence)."""
    parsed, problems = Submission(), []
    index = 0
    while index < len(argv):
        item = argv[index]
        if not item.startswith("-"):
            parsed.application, parsed.application_index, parsed.arguments = item, index, list(argv[index + 1 :])
            break
        name, _, inline = item.partition("=")
        if name in FLAGS and not inline:
            parsed.options.append((name, None, index))
        elif name in WITH_VALUE:
            if inline or "=" in item:
                parsed.options.append((name, inline, index))
            elif index + 1 < len(argv):
                parsed.options.append((name, argv[index + 1], index))
                index += 1
            else:
                problems.append((index, f"{name} needs a value"))
        else:
            problems.append((index, f"{item!r} is not a spark-submit option"))
        index += 1
    for name, value, at in parsed.options:
        if name in REFUSED:
            problems.append((at, f"{name} cannot be set here: {REFUSED[name]}"))
        elif name in ("--conf", "-c") and value is not None:
            key = value.partition("=")[0].strip()
            if key in REFUSED_CONF:
                option = REFUSED_CONF[key]
                problems.append((at, f"--conf {key} cannot be set here: {REFUSED[option]}"))
            elif "=" not in value:
                problems.append((at, f"--conf {value!r} is not key=value"))
    if parsed.application is None and not problems:
        problems.append(
            (len(argv), "no application: the parameters need a jar or Python file after the options, e.g. ['--class', 'org.example.Main', './app.jar']")
        )
    return parsed, problems


def localized(parsed: Submission, folder: Path) -> tuple[list[str], list[str], str]:
    """The options with their paths made absolute (the `--jars` values apart) and the application's path.

    SubmitError (with the option named) for a path that is not local, escapes the folder or is missing.
    """
    options: list[str] = []
    jars: list[str] = []
    for name, value, _ in parsed.options:
        if value is None:
            options.append(name)
            continue
        if name in PATH_LISTS:
            paths = [str(spark_submit.local_path(p, folder, name)) for p in value.split(",") if p.strip()]
            if name == "--jars":
                jars += paths
                continue
            value = ",".join(paths)
        elif name == "--properties-file":
            value = str(spark_submit.local_path(value, folder, name))
        options += [name, value]
    assert parsed.application is not None
    application = str(spark_submit.local_path(parsed.application, folder, "application"))
    return options, jars, application


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{parameters: [--class, Main, ./app.jar, arg...]}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"parameters"})
    params = body.get("parameters")
    if params is None:
        problems.append((ctx.at("parameters"), "missing: spark-submit's arguments, e.g. ['--class', 'org.example.Main', './app.jar']"))
        return problems
    if not isinstance(params, list) or not all(isinstance(p, (str, int, float, bool)) for p in params):
        problems.append((ctx.at("parameters"), "expected a list of strings (spark-submit's arguments)"))
        return problems
    parsed, found = parse([argv_text(p) for p in params])
    for index, message in found:
        problems.append((ctx.at(f"parameters[{index}]") if index < len(params) else ctx.at("parameters"), message))
    if not found and not any("{{" in str(p) for p in params):
        try:
            localized(parsed, ctx.base_dir or Path.cwd())
        except spark_submit.SubmitError as exc:
            problems.append((ctx.at("parameters"), str(exc)))
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    argv = [argv_text(p) for p in task_run.resolve(list(task_run.body.get("parameters") or []))]
    parsed, found = parse(argv)
    if found:
        raise ProgramFailed(f"spark_submit_task parameters[{found[0][0]}]: {found[0][1]}", "")
    try:
        options, jars, application = localized(parsed, job_folder(task_run))
    except spark_submit.SubmitError as exc:
        raise ProgramFailed(f"spark_submit_task parameters: {exc}", "") from None
    main_class = next((value for name, value, _ in parsed.options if name == "--class"), None)
    label = f"spark-submit {main_class or Path(application).name}"
    metadata = submit(task_run, options, jars, [application, *parsed.arguments], label)
    return TaskOutcome(SUCCESS, metadata={"application": application, **({"main_class": main_class} if main_class else {}), **metadata})


TASK_TYPE = TaskType(name="spark_submit_task", check=check, run=run, description="run spark-submit with the task's arguments (legacy)")
