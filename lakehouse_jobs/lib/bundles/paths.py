"""Path translation: every local path of a job or pipeline becomes absolute, from the file that declared it.

The fields and rules of databricks/cli's translate_paths mutator (bundle/config/mutator/paths/):
tasks' (and for_each tasks') `notebook_task.notebook_path`, `spark_python_task.python_file`,
`dbt_task.project_directory`, `sql_task.file.path`, `libraries[].requirements`,
`libraries[].whl|jar`; jobs' `environments[].spec.dependencies` that are local (`./x.whl`,
`-r ./requirements.txt`, `-e ./pkg`); pipelines' `libraries[].notebook.path|file.path|glob.include`,
`root_path` and `environment.dependencies`. Left alone: absolute paths (workspace paths such as
`/Workspace/...`), URLs and `file:` URIs, package names, and every task path of a job that has
`git_source` (its paths live in the repository). Here "translated" means the absolute local
path (Databricks writes the synced workspace path); a translated path that starts like a
workspace path (`/Users/...`, e.g. a macOS home) is written as a `file://` URI so it is not
mistaken for one.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from lakehouse_jobs.lib.bundles.tree import file_of

TASK_FIELDS = (
    ("notebook_task", "notebook_path"),
    ("spark_python_task", "python_file"),
    ("dbt_task", "project_directory"),
    ("sql_task", "file", "path"),
    ("alert_task", "workspace_path"),
)
LIBRARY_FIELDS = ("whl", "jar", "requirements")
PIPELINE_LIBRARY_FIELDS = (("notebook", "path"), ("file", "path"), ("glob", "include"))
WORKSPACE_PREFIXES = ("/Workspace", "/Users", "/Repos", "/Shared", "/Volumes")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PACKAGE = re.compile(r"^[A-Za-z0-9\-_]+\s?(\[.*\])?\s?((==|!=|<=|>=|~=|>|<)\s?[0-9][0-9A-Za-z.+!_-]*,?)*$")


def is_local(value: str) -> bool:
    """A path relative to its file (databricks/cli libraries.IsLocalPath): not absolute, no scheme."""
    text = value.strip().strip("\"'")
    return bool(text) and not PurePosixPath(text).is_absolute() and not _SCHEME.match(text) and not Path(text).is_absolute()


def is_local_library(value: str) -> bool:
    """An environment dependency that is a local path rather than a package (libraries.IsLibraryLocal)."""
    text = value.strip()
    if text.startswith("."):
        return True
    if re.search(r"(^|\s+)--?[a-zA-Z0-9-]+(([\s|=]+)|$)", text) or _PACKAGE.match(text) or " @ " in text:
        return False
    return is_local(text)


def absolute(value: str, file: str) -> str:
    path = (Path(file).parent / value.strip()).resolve()
    text = path.as_posix()
    if any(text == p or text.startswith(p + "/") for p in WORKSPACE_PREFIXES):
        return "file://" + quote(text)
    return str(path)


def _translate(node: dict, key: str, file: str) -> None:
    value = node.get(key)
    if isinstance(value, str) and is_local(value):
        node[key] = absolute(value, file_of(node, key, file) or file)


def _dependencies(items: Any, file: str) -> None:
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if not isinstance(item, str):
            continue
        where = file_of(items, index, file) or file
        flag = re.match(r"^(-r|-e) (.+)$", item)
        if flag and is_local(flag.group(2).strip()):
            items[index] = f"{flag.group(1)} {absolute(flag.group(2), where)}"
        elif is_local_library(item):
            items[index] = absolute(item, where)


def _task(task: Any, file: str) -> None:
    if not isinstance(task, dict):
        return
    for kind, *fields in TASK_FIELDS:
        node = task.get(kind)
        for field in fields[:-1]:
            node = node.get(field) if isinstance(node, dict) else None
        if isinstance(node, dict):
            _translate(node, fields[-1], file_of(task, kind, file) or file)
    libraries = task.get("libraries")
    if isinstance(libraries, list):
        for index, library in enumerate(libraries):
            if isinstance(library, dict):
                for field in LIBRARY_FIELDS:
                    _translate(library, field, file_of(libraries, index, file) or file)
    for_each = task.get("for_each_task")
    if isinstance(for_each, dict):
        _task(for_each.get("task"), file_of(task, "for_each_task", file) or file)


def translate(config: dict, default_file: str) -> None:
    """Translate every local path field of `resources.jobs` and `resources.pipelines`, in place."""
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    jobs = resources.get("jobs") if isinstance(resources.get("jobs"), dict) else {}
    for key, job in jobs.items():
        if not isinstance(job, dict):
            continue
        file = file_of(jobs, key, default_file) or default_file
        if job.get("git_source") is None:
            tasks = job.get("tasks")
            for index, task in enumerate(tasks if isinstance(tasks, list) else []):
                _task(task, file_of(tasks, index, file) or file)
        environments = job.get("environments")
        for index, environment in enumerate(environments if isinstance(environments, list) else []):
            spec = environment.get("spec") if isinstance(environment, dict) else None
            if isinstance(spec, dict):
                _dependencies(spec.get("dependencies"), file_of(environments, index, file) or file)
    pipelines = resources.get("pipelines") if isinstance(resources.get("pipelines"), dict) else {}
    for key, pipeline in pipelines.items():
        if not isinstance(pipeline, dict):
            continue
        file = file_of(pipelines, key, default_file) or default_file
        _translate(pipeline, "root_path", file)
        libraries = pipeline.get("libraries")
        for index, library in enumerate(libraries if isinstance(libraries, list) else []):
            where = file_of(libraries, index, file) or file
            for kind, field in PIPELINE_LIBRARY_FIELDS:
                if isinstance(library, dict) and isinstance(library.get(kind), dict):
                    _translate(library[kind], field, file_of(library, kind, where) or where)
        environment = pipeline.get("environment")
        if isinstance(environment, dict):
            _dependencies(environment.get("dependencies"), file_of(pipeline, "environment", file) or file)
