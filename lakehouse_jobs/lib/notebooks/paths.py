"""Where a `notebook_path` (or a `%run` / `dbutils.notebook.run` target) is on this machine.

- relative (`./bronze_ingest`, `../lib/setup`): from the folder of the file that declares the
  job (for `%run` and `notebook.run`: from the calling notebook's folder);
- absolute workspace paths (`/Workspace/...`, `/Users/...`, `/Repos/...`, `/Shared/...`): under
  the workspace root, env `LAKEHOUSE_WORKSPACE_ROOT` (default: the job file's folder), with a
  leading `/Workspace` dropped (`/Workspace/Users/a/nb` and `/Users/a/nb` are `<root>/Users/a/nb`);
- any other absolute path must already lie inside the workspace root.

The extension is optional, as in Databricks: `.py`, `.sql`, then `.ipynb` are tried in that
order. A path that leaves the workspace root (also through a symlink) is refused.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

WORKSPACE_ROOT_ENV = "LAKEHOUSE_WORKSPACE_ROOT"
EXTENSIONS = (".py", ".sql", ".ipynb")
WORKSPACE_PREFIXES = ("/Workspace", "/Users", "/Repos", "/Shared")


class NotebookPathError(ValueError):
    """A notebook path that does not name a notebook file inside the workspace root."""


def workspace_root(job_dir: str | Path | None = None) -> Path:
    """`$LAKEHOUSE_WORKSPACE_ROOT`, else the job file's folder, else the current directory."""
    configured = os.environ.get(WORKSPACE_ROOT_ENV)
    return Path(configured or job_dir or Path.cwd()).resolve()


def candidates(notebook_path: str, base_dir: str | Path | None, root: Path) -> list[Path]:
    """The files `notebook_path` may name, in the order Databricks' extension rule tries them."""
    posix = PurePosixPath(notebook_path)
    if posix.is_absolute():
        parts = posix.parts[1:]
        if parts and f"/{parts[0]}" in WORKSPACE_PREFIXES:
            parts = parts[1:] if parts[0] == "Workspace" else parts
            target = root.joinpath(*parts)
        else:
            target = Path(notebook_path)
    else:
        target = Path(base_dir or Path.cwd()) / notebook_path
    if target.suffix in EXTENSIONS:
        return [target]
    return [target.with_name(target.name + ext) for ext in EXTENSIONS]


def resolve(notebook_path: str, base_dir: str | Path | None, root: Path) -> Path:
    """The notebook file `notebook_path` names, confined to `root` (NotebookPathError otherwise)."""
    if not isinstance(notebook_path, str) or not notebook_path.strip():
        raise NotebookPathError(f"expected a notebook path, got {notebook_path!r}")
    tried = candidates(notebook_path.strip(), base_dir, root)
    for path in tried:
        if path.is_file():
            real = path.resolve()
            if not real.is_relative_to(root):
                raise NotebookPathError(
                    f"notebook {notebook_path!r} resolves to {real}, outside the workspace root {root} (set {WORKSPACE_ROOT_ENV} to widen it)"
                )
            return real
    names = ", ".join(str(p) for p in tried)
    raise NotebookPathError(f"notebook {notebook_path!r} not found (tried {names})")
