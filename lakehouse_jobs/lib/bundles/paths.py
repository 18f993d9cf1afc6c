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
mistaken for one. As in Databricks, a path must stay inside the sync root (the bundle folder,
widened by `sync.paths`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from lakehouse_jobs.lib.bundles.problems import Problems
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


def sync_root(root: Path, sync: Any, root_file: str) -> Path:
    """The folder translated paths must stay in: the bundle folder, widened to hold every `sync.paths` entry (databricks/cli sync_infer_root)."""
    folders = [root]
    entries = sync.get("paths") if isinstance(sync, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, str) and entry.strip():
            folders.append((Path(file_of(entries, index, root_file) or root_file).parent / entry).resolve())
    return Path(os.path.commonpath([str(f) for f in folders]))


class Translator:
    """Makes the local paths of a bundle's jobs and pipelines absolute, refusing any that leaves the sync root."""

    def __init__(self, root: Path, problems: Problems):
        self.root = root
        self.problems = problems

    def absolute(self, value: str, file: str, field: str) -> str:
        path = (Path(file).parent / value.strip()).resolve()
        if not path.is_relative_to(self.root):
            self.problems.add(file, field, f"{value!r} resolves to {path}, outside the bundle folder {self.root} (list its folder in sync.paths to include it)")
        text = path.as_posix()
        if any(text == p or text.startswith(p + "/") for p in WORKSPACE_PREFIXES):
            return "file://" + quote(text)
        return str(path)

    def field(self, node: dict, key: str, file: str, path: str) -> None:
        value = node.get(key)
        if isinstance(value, str) and is_local(value):
            node[key] = self.absolute(value, file_of(node, key, file) or file, f"{path}.{key}")

    def dependencies(self, items: Any, file: str, path: str) -> None:
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, str):
                continue
            where, at = file_of(items, index, file) or file, f"{path}[{index}]"
            flag = re.match(r"^(-r|-e) (.+)$", item)
            if flag and is_local(flag.group(2).strip()):
                items[index] = f"{flag.group(1)} {self.absolute(flag.group(2), where, at)}"
            elif is_local_library(item):
                items[index] = self.absolute(item, where, at)

    def task(self, task: Any, file: str, path: str) -> None:
        if not isinstance(task, dict):
            return
        for kind, *fields in TASK_FIELDS:
            node, at = task.get(kind), f"{path}.{kind}"
            for name in fields[:-1]:
                node, at = (node.get(name) if isinstance(node, dict) else None), f"{at}.{name}"
            if isinstance(node, dict):
                self.field(node, fields[-1], file_of(task, kind, file) or file, at)
        libraries = task.get("libraries")
        for index, library in enumerate(libraries if isinstance(libraries, list) else []):
            if isinstance(library, dict):
                for name in LIBRARY_FIELDS:
                    self.field(library, name, file_of(libraries, index, file) or file, f"{path}.libraries[{index}]")
        for_each = task.get("for_each_task")
        if isinstance(for_each, dict):
            self.task(for_each.get("task"), file_of(task, "for_each_task", file) or file, f"{path}.for_each_task.task")

    def job(self, job: dict, file: str, path: str) -> None:
        if job.get("git_source") is None:
            tasks = job.get("tasks")
            for index, task in enumerate(tasks if isinstance(tasks, list) else []):
                self.task(task, file_of(tasks, index, file) or file, f"{path}.tasks[{index}]")
        environments = job.get("environments")
        for index, environment in enumerate(environments if isinstance(environments, list) else []):
            spec = environment.get("spec") if isinstance(environment, dict) else None
            if isinstance(spec, dict):
                self.dependencies(spec.get("dependencies"), file_of(environments, index, file) or file, f"{path}.environments[{index}].spec.dependencies")

    def pipeline(self, pipeline: dict, file: str, path: str) -> None:
        self.field(pipeline, "root_path", file, path)
        libraries = pipeline.get("libraries")
        for index, library in enumerate(libraries if isinstance(libraries, list) else []):
            where = file_of(libraries, index, file) or file
            for kind, name in PIPELINE_LIBRARY_FIELDS:
                if isinstance(library, dict) and isinstance(library.get(kind), dict):
                    self.field(library[kind], name, file_of(library, kind, where) or where, f"{path}.libraries[{index}].{kind}")
        environment = pipeline.get("environment")
        if isinstance(environment, dict):
            self.dependencies(environment.get("dependencies"), file_of(pipeline, "environment", file) or file, f"{path}.environment.dependencies")


def translate(config: dict, root: Path, root_file: str, problems: Problems) -> None:
    """Translate every local path field of `resources.jobs` and `resources.pipelines`, in place."""
    translator = Translator(sync_root(root, config.get("sync"), root_file), problems)
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    for kind, visit in (("jobs", translator.job), ("pipelines", translator.pipeline)):
        entries = resources.get(kind) if isinstance(resources.get(kind), dict) else {}
        for key, resource in entries.items():
            if isinstance(resource, dict):
                visit(resource, file_of(entries, key, root_file) or root_file, f"resources.{kind}.{key}")
