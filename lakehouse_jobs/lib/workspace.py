"""Files a job names — notebooks, scripts, SQL files, dbt projects, wheels, jars — found as Databricks finds them.

- relative (`./src/job.py`, `../dbt_project`): from the folder of the file that declares the job
  (bundle semantics; for `%run`, from the calling notebook's folder);
- workspace paths (`/Workspace/...`, `/Users/...`, `/Repos/...`, `/Shared/...`): under the
  workspace root, a leading `/Workspace` dropped (`/Workspace/Users/a/nb` = `<root>/Users/a/nb`);
- `file:` URIs and other absolute paths: as given (`absolute_anywhere=True`, for programs a user
  points at: scripts, wheels, jars) or only inside the workspace root (notebooks, SQL, dbt);
- any other scheme (`dbfs:`, `s3:`...) is refused: this project reads local files only.

The workspace root is `$LAKEHOUSE_WORKSPACE_ROOT`, else the bundle root (the nearest folder above
the job's file holding `databricks.yml`), else its Git folder (the nearest holding `.git`, as a
Databricks Git folder is the unit a job's relative paths live in), else the job file's folder.
A path that leaves the root, also through a symlink, is refused with one sentence.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.uris import local_path

WORKSPACE_ROOT_ENV = "LAKEHOUSE_WORKSPACE_ROOT"
WORKSPACE_PREFIXES = ("/Workspace", "/Users", "/Repos", "/Shared")
ROOT_MARKERS = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml", ".git")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class WorkspacePathError(ValueError):
    """A path a job names that is not a local file inside the workspace (the message says which and why)."""


def workspace_root(job_dir: str | Path | None = None) -> Path:
    """Where workspace paths live and relative paths must stay (see the module docstring)."""
    configured = os.environ.get(WORKSPACE_ROOT_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    start = Path(job_dir or Path.cwd()).resolve()
    for marker in ROOT_MARKERS:
        for folder in (start, *start.parents):
            if (folder / marker).exists():
                return folder
    return start


def target(value: str, job_dir: str | Path | None, root: Path, what: str) -> tuple[Path, bool]:
    """(the path `value` names, whether the user gave it as an absolute local path); not checked for existence."""
    text = value.strip()
    if text.startswith("file:"):
        try:
            path = local_path(text, what)
        except SpecError as exc:
            raise WorkspacePathError(f"{what} {value!r}: {exc.message}") from None
        return (path, True) if path.is_absolute() else (Path(job_dir or Path.cwd()) / path, False)
    if _SCHEME.match(text) and not _DRIVE.match(text):
        raise WorkspacePathError(f"{what} {value!r} is not a local file; use a path relative to the job's file, a workspace path or a file: URI")
    posix = PurePosixPath(text)
    if posix.is_absolute() and posix.parts[1:] and f"/{posix.parts[1]}" in WORKSPACE_PREFIXES:
        parts = posix.parts[2:] if posix.parts[1] == "Workspace" else posix.parts[1:]
        return root.joinpath(*parts), False
    given = Path(text).expanduser()
    if given.is_absolute():
        return given, True
    return Path(job_dir or Path.cwd()) / given, False


def confine(path: Path, root: Path, what: str, value: str) -> Path:
    real = path.resolve()
    if not real.is_relative_to(root):
        raise WorkspacePathError(f"{what} {value!r} resolves to {real}, outside the workspace root {root} (set {WORKSPACE_ROOT_ENV} to widen it)")
    return real


def find(
    value: str,
    job_dir: str | Path | None,
    what: str,
    *,
    extensions: Sequence[str] = (),
    folder: bool = False,
    absolute_anywhere: bool = False,
    root: Path | None = None,
) -> Path:
    """The file (or folder) `value` names. `extensions`: tried in order when `value` has none of them."""
    if not isinstance(value, str) or not value.strip():
        raise WorkspacePathError(f"{what}: expected a path, got {value!r}")
    root = root or workspace_root(job_dir)
    path, absolute = target(value, job_dir, root, what)
    tried = [path] if not extensions or path.suffix in extensions else [path.with_name(path.name + ext) for ext in extensions]
    free = absolute and absolute_anywhere
    for candidate in tried:
        if not free:
            confine(candidate, root, what, value)  # a path outside is refused as such, found or not
        if candidate.is_dir() if folder else candidate.is_file():
            return candidate.resolve()
    raise WorkspacePathError(f"{what} {value!r} not found (tried {', '.join(str(p) for p in tried)})")


def find_one(pattern: str, job_dir: str | Path | None, what: str, suffix: str, *, root: Path | None = None) -> Path:
    """The one file a path or glob (`./dist/*.whl`) matches, relative ones confined to the workspace root."""
    root = root or workspace_root(job_dir)
    path, absolute = target(pattern, job_dir, root, what)
    matches = sorted(Path(p) for p in glob.glob(str(path)) if p.endswith(suffix) and Path(p).is_file())
    if not absolute:
        matches = [confine(match, root, what, pattern) for match in matches]
    if len(matches) != 1:
        found = f"no {suffix} file" if not matches else f"{len(matches)} files ({', '.join(m.name for m in matches)})"
        raise WorkspacePathError(f"{what} {pattern!r} matches {found} (looked for {path}); exactly one {suffix} file is needed")
    return matches[0].resolve()


# Tasks with `source: GIT` read their files from the job's git_source checkout (lib/git_source.py).
GIT, WORKSPACE = "GIT", "WORKSPACE"


def task_source(given: object, job: object) -> str:
    """A task's `source`: as given, else GIT when the job declares git_source, else WORKSPACE (Databricks' default)."""
    if given in (GIT, WORKSPACE):
        return str(given)
    return GIT if isinstance(job, Mapping) and job.get("git_source") else WORKSPACE


def repository_path_problem(value: str, what: str) -> str | None:
    """Why `value` cannot name a file of a git_source repository (it must be relative to its root), or None."""
    text = value.strip()
    if text.startswith(("/", "\\", "~")) or (_SCHEME.match(text) and not _DRIVE.match(text)) or _DRIVE.match(text):
        return f"{what} {value!r}: with source GIT, paths are relative to the root of the job's git_source repository"
    return None


def in_repository(value: str, checkout: Path, what: str, *, extensions: Sequence[str] = (), folder: bool = False) -> Path:
    """The file (or folder) `value` names in a git_source checkout, confined to it (WorkspacePathError otherwise)."""
    problem = repository_path_problem(value, what) if isinstance(value, str) else f"{what}: expected a path, got {value!r}"
    if problem:
        raise WorkspacePathError(problem)
    return find(value.strip(), checkout, what, extensions=extensions, folder=folder, root=checkout.resolve())
