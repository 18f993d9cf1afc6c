"""A task's environment: `environment_key` -> the job's `environments[].spec.dependencies`.

Databricks' serverless tasks (`python_wheel_task`, `spark_python_task`) name an environment of the
job instead of `libraries`, and its dependencies are installed before the task runs. That is how
Databricks' own templates ship a bundle's wheel (`dependencies: [../dist/*.whl]`). Here:

- a local wheel (a path or glob ending in `.whl`, relative to the job's file; bundles make it
  absolute) is installed like a `libraries: [{whl}]` entry: by content, `--no-deps`, importable only
  while the task runs (runtime/wheels.py);
- every other entry (`pandas==2.2.3`, `-r ./requirements.txt`, a local project folder, `-e ./pkg`
  installed non-editable) goes to pip as given, with its dependencies, into a cache keyed by the
  list (like a notebook's `%pip install`); packages from an index need the network.

`spec.client` / `environment_version` pick a Databricks runtime image: they have no local meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.runtime import wheels


class EnvironmentSetupError(ValueError):
    """A task's environment that cannot be found or installed (one sentence naming the field)."""


def dependencies(job_raw: Mapping[str, Any], task_raw: Mapping[str, Any]) -> list[str]:
    """The dependency lines of the task's `environment_key` (empty without one)."""
    key = task_raw.get("environment_key")
    if key is None:
        return []
    environments = job_raw.get("environments") or []
    for environment in environments if isinstance(environments, list) else []:
        if isinstance(environment, Mapping) and environment.get("environment_key") == key:
            spec = environment.get("spec") or {}
            found = spec.get("dependencies") or [] if isinstance(spec, Mapping) else []
            if not isinstance(found, list) or not all(isinstance(d, str) for d in found):
                raise EnvironmentSetupError(f"environments[{key}].spec.dependencies: expected a list of strings")
            return [d.strip() for d in found if d.strip()]
    raise EnvironmentSetupError(f"environment_key: the job has no environment {key!r} (environments[].environment_key)")


def _local(entry: str, folder: Path) -> str:
    """A requirement whose local path is made absolute from the job's folder (pip runs elsewhere)."""
    for prefix in ("-r ", "--requirement ", "-e ", "--editable "):
        if entry.startswith(prefix):
            path = entry[len(prefix) :].strip()
            absolute = str(path if Path(path).is_absolute() else folder / path)
            return absolute if prefix.strip() in ("-e", "--editable") else f"{prefix.strip()} {absolute}"
    if entry.startswith((".", "/")) and not entry.startswith("//"):
        return str(entry if Path(entry).is_absolute() else folder / entry)
    return entry


def install(job_raw: Mapping[str, Any], task_raw: Mapping[str, Any], folder: Path) -> tuple[list[Path], dict[str, Any]]:
    """(folders to put on sys.path while the task runs, metadata) for the task's environment."""
    lines = dependencies(job_raw, task_raw)
    if not lines:
        return [], {}
    folders: list[Path] = []
    names: list[str] = []
    others: list[str] = []
    for entry in lines:
        if entry.endswith(".whl") and not entry.startswith("-"):
            try:
                wheel = wheels.find_wheel(entry, folder)
                target, _ = wheels.install(wheel)
            except wheels.WheelError as exc:
                raise EnvironmentSetupError(f"environments[{task_raw.get('environment_key')}].spec.dependencies: {exc}") from None
            folders.append(target)
            names.append(wheel.name)
        else:
            others.extend(_local(entry, folder).split(" ", 1) if entry.startswith(("-r ", "--requirement ")) else [_local(entry, folder)])
    if others:
        try:
            target, _ = wheels.install_requirements(others)
        except wheels.WheelError as exc:
            raise EnvironmentSetupError(f"environments[{task_raw.get('environment_key')}].spec.dependencies: {exc}") from None
        folders.append(target)
    return folders, {"environment": str(task_raw.get("environment_key")), "environment_dependencies": lines}
