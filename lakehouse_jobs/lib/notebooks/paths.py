"""Where a `notebook_path` (or a `%run` / `dbutils.notebook.run` target) is on this machine.

- relative (`./bronze_ingest`, `../lib/setup`): from the folder of the file that declares the
  job (for `%run` and `notebook.run`: from the calling notebook's folder);
- absolute workspace paths (`/Workspace/...`, `/Users/...`, `/Repos/...`, `/Shared/...`): under
  the workspace root (`lakehouse_jobs.lib.workspace`: `$LAKEHOUSE_WORKSPACE_ROOT`, else the bundle
  or Git folder holding the job's file, else its folder), with a leading `/Workspace` dropped (`/Workspace/Users/a/nb` and `/Users/a/nb` are `<root>/Users/a/nb`);
- any other absolute path must already lie inside the workspace root.

The extension is optional, as in Databricks: `.py`, `.sql`, then `.ipynb` are tried in that
order. A path that leaves the workspace root (also through a symlink) is refused.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse_jobs.lib.workspace import WORKSPACE_PREFIXES, WORKSPACE_ROOT_ENV, WorkspacePathError, find, workspace_root

EXTENSIONS = (".py", ".sql", ".ipynb")
__all__ = ["EXTENSIONS", "WORKSPACE_PREFIXES", "WORKSPACE_ROOT_ENV", "NotebookPathError", "resolve", "workspace_root"]


class NotebookPathError(WorkspacePathError):
    """A notebook path that does not name a notebook file inside the workspace root."""


def resolve(notebook_path: str, base_dir: str | Path | None, root: Path) -> Path:
    """The notebook file `notebook_path` names, confined to `root` (NotebookPathError otherwise)."""
    try:
        return find(notebook_path, base_dir, "notebook", extensions=EXTENSIONS, root=root)
    except WorkspacePathError as exc:
        raise NotebookPathError(str(exc)) from None
