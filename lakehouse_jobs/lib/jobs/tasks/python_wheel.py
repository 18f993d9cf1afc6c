"""`python_wheel_task`: call a package's entry point as a program, as Databricks runs a Python wheel.

- `package_name`, `entry_point`: the entry point named so in the distribution's metadata (any group,
  `console_scripts` first); if the metadata has none, the function `package_name.entry_point`
  (Databricks' documented fallback, `$packageName.$entryPoint()`).
- `parameters` (a list: argv as given) or `named_parameters` (a mapping: `--name=value` items), not
  both. Job parameters are pushed down into the named form and win over same-named task
  parameters (Databricks' rule); not into a positional `parameters` list.
- the package comes from the environment, from the task's `libraries: [{whl: ./dist/*.whl}]`
  (relative to the job's file, globs allowed, one match per entry), or from the job environment its
  `environment_key` names (runtime/environments.py), installed once per content into a cache and
  importable only while the task runs (runtime/wheels.py, with its isolation limits).

argv, `sys.exit`, failures at the user's line, output to the step's log and the run's SparkSession
work as for spark_python_task (runtime/python_main.py).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.tasks.spark_python import argv_text, job_folder
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout
from lakehouse_jobs.lib.runtime import environments, wheels
from lakehouse_jobs.lib.runtime.python_main import ProgramFailed, run_program

_SCALARS = (str, int, float, bool)


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{package_name, entry_point, parameters | named_parameters}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"package_name", "entry_point", "parameters", "named_parameters"})
    fields.string(problems, body, "package_name", ctx.path, required=True, hint="the distribution whose entry point runs")
    fields.string(problems, body, "entry_point", ctx.path, required=True, hint="an entry point name or a function of the package")
    params, named = body.get("parameters"), body.get("named_parameters")
    if params is not None and (not isinstance(params, list) or not all(isinstance(p, _SCALARS) for p in params)):
        problems.append((ctx.at("parameters"), "expected a list of strings (command-line arguments)"))
    if named is not None and (not isinstance(named, Mapping) or not all(isinstance(k, str) and k and isinstance(v, _SCALARS) for k, v in named.items())):
        problems.append((ctx.at("named_parameters"), "expected a mapping of parameter names to strings"))
    if params is not None and named is not None:
        problems.append((ctx.at("named_parameters"), "use parameters or named_parameters, not both"))
    return problems


def wheel_patterns(task_raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, pattern) of each `whl` library of the task; ProgramFailed for a malformed entry."""
    libraries = task_raw.get("libraries")
    if libraries is None:
        return []
    if not isinstance(libraries, list):
        raise ProgramFailed("libraries: expected a list of libraries such as {whl: ./dist/my_package-*.whl}", "")
    found = []
    for index, library in enumerate(libraries):
        if not isinstance(library, Mapping):
            raise ProgramFailed(f"libraries[{index}]: expected a library such as {{whl: ./dist/my_package-*.whl}}, got {library!r}", "")
        if "whl" in library:
            if not isinstance(library["whl"], str) or not library["whl"].strip():
                raise ProgramFailed(f"libraries[{index}].whl: expected the path of a wheel file, got {library['whl']!r}", "")
            found.append((f"libraries[{index}].whl", library["whl"]))
    return found


def command_line(task_run: TaskRun) -> list[str]:
    """The entry point's argv after its name: positional as given, else named (job parameters pushed down, winning)."""
    body = task_run.body
    if body.get("parameters") is not None:
        return [argv_text(p) for p in task_run.resolve(list(body["parameters"]))]
    named = {str(k): argv_text(v) for k, v in task_run.resolve(dict(body.get("named_parameters") or {})).items()}
    named.update(task_run.references.parameters)
    return [f"--{name}={value}" for name, value in named.items()]


def entry_point_function(package: str, name: str) -> Callable[[], Any]:
    """The function `name` of `package`: from its metadata's entry points, else `package.name`."""
    try:
        distribution = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        distribution = None
    if distribution is not None:
        matches = sorted((ep for ep in distribution.entry_points if ep.name == name), key=lambda ep: ep.group != "console_scripts")
        if matches:
            return matches[0].load()
    module_name = package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        if distribution is None:
            raise ProgramFailed(f"package {package!r} is not installed in the environment and no libraries whl of the task provides it", "") from None
        module = None
    target = getattr(module, name, None) if module is not None else None
    if not callable(target):
        raise ProgramFailed(f"package {package!r} has no entry point {name!r} (none in its metadata and no function {module_name}.{name})", "")
    return target


def package_roots(package: str) -> list[Path]:
    """Where the package's code lives (its frames are the user's), found without importing it."""
    try:
        spec = importlib.util.find_spec(package.replace("-", "_"))
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(location) for location in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin else []


def _installed(task_run: TaskRun) -> tuple[list[Path], dict[str, Any]]:
    folder = job_folder(task_run)
    installed, names, reused = [], [], 0
    for where, pattern in wheel_patterns(task_run.task.raw):
        try:
            wheel = wheels.find_wheel(pattern, folder)
            target, cached = wheels.install(wheel)
        except wheels.WheelError as exc:
            raise ProgramFailed(f"{where}: {exc}", "") from None
        installed.append(target)
        names.append(wheel.name)
        reused += cached
    try:  # a serverless task's environment_key (the job's environments[].spec.dependencies)
        from_environment, environment = environments.install(task_run.runtime.spec.raw, task_run.task.raw, folder)
    except environments.EnvironmentSetupError as exc:
        raise ProgramFailed(str(exc), "") from None
    metadata = {"wheels": names, "wheels_from_cache": reused} if names else {}
    return [*installed, *from_environment], {**metadata, **environment}


def run(task_run: TaskRun) -> TaskOutcome:
    body = task_run.body
    package, name = body["package_name"], body["entry_point"]
    folders, metadata = _installed(task_run)
    argv = [package, *command_line(task_run)]
    label = f"package {package} entry point {name}"
    session = task_run.spark()  # started before the clock: a JVM start is not the program's time

    def main() -> None:
        with wheels.activated(folders):
            roots = [*folders, *package_roots(package)]

            def is_user(filename: str) -> bool:
                return any(Path(filename).is_relative_to(root) for root in roots)

            run_program(lambda: entry_point_function(package, name)(), argv, label=label, log=task_run.context.log.info, is_user=is_user, session=session)

    call_with_timeout(main, task_run.timeout, label=task_run.task.task_key)
    return TaskOutcome(SUCCESS, metadata={"package_name": package, "entry_point": name, **metadata})


TASK_TYPE = TaskType(name="python_wheel_task", check=check, run=run, description="call a Python package's entry point as a program")
