"""`dbutils.fs` on local folders, confined to the lakehouse root.

Path mapping (every path must end up inside the lakehouse root, after symlinks are resolved):

| notebook path                                   | local path                                               |
|-------------------------------------------------|----------------------------------------------------------|
| `dbfs:/x/y`, `/dbfs/x/y`                         | `<lakehouse root>/dbfs/x/y`                               |
| `/Volumes/<catalog>/<schema>/<volume>/x`, `dbfs:/Volumes/...` | `<lakehouse root>/volumes/<catalog>/<schema>/<volume>/x` (the catalog's rule: names lowercased and checked) |
| `file:/abs/path`, `/abs/path`                     | `/abs/path` (must lie inside the lakehouse root)         |
| `relative/path`                                  | `<lakehouse root>/dbfs/relative/path` (DBFS is the default scheme, as on Databricks) |

A path outside the root is refused with one sentence (FsPathError).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lakehouse_jobs.lib.catalog.names import volume_path
from lakehouse_jobs.lib.errors import SpecError


class FsPathError(ValueError):
    """A path that maps outside the lakehouse root, or an unknown scheme."""


@dataclass(frozen=True)
class FileInfo:
    """What `dbutils.fs.ls` returns per entry (Databricks' FileInfo fields)."""

    path: str
    name: str
    size: int
    modificationTime: int  # noqa: N815 - Databricks' field name

    def isDir(self) -> bool:  # noqa: N802 - Databricks' method name
        return self.name.endswith("/")

    def isFile(self) -> bool:  # noqa: N802
        return not self.isDir()


class LocalFS:
    """ls, cp, mv, rm, mkdirs, put, head over `to_local`'s mapping."""

    def __init__(self, lakehouse_root: str | Path) -> None:
        self.root = Path(lakehouse_root).resolve()

    def to_local(self, path: str) -> Path:
        if not isinstance(path, str) or not path.strip():
            raise FsPathError(f"expected a file path, got {path!r}")
        raw = path.strip()
        if raw.startswith("dbfs:"):
            rest = raw[len("dbfs:") :].lstrip("/")
            local = self._volume(rest) if rest.startswith("Volumes/") else self.root / "dbfs" / rest
        elif raw.startswith("file:"):
            local = Path("/" + raw[len("file:") :].lstrip("/"))
        elif raw.startswith("/Volumes/"):
            local = self._volume(raw.lstrip("/"))
        elif raw.startswith("/dbfs/") or raw == "/dbfs":
            local = self.root / "dbfs" / raw[len("/dbfs") :].lstrip("/")
        elif "://" in raw or (":" in raw.split("/")[0] and not raw.startswith("/")):
            raise FsPathError(f"path {path!r} uses a scheme that has no local counterpart (use dbfs:/, file:/ or /Volumes/)")
        elif raw.startswith("/"):
            local = Path(raw)
        else:
            local = self.root / "dbfs" / raw
        real = local.resolve()
        if not real.is_relative_to(self.root):
            raise FsPathError(f"path {path!r} maps to {real}, outside the lakehouse root {self.root}")
        return real

    def _volume(self, rest: str) -> Path:
        """The catalog's volume rule (lakehouse_jobs.lib.catalog.volume_path), so Spark reads and dbutils.fs agree."""
        try:
            return volume_path("/" + rest, self.root)
        except SpecError as exc:
            raise FsPathError(f"volume path {exc.path!r}: {exc.message}") from None

    def ls(self, dir: str) -> list[FileInfo]:  # noqa: A002 - Databricks' argument name
        local = self.to_local(dir)
        if not local.exists():
            raise FileNotFoundError(f"{dir}: no such file or directory")
        entries = [local] if local.is_file() else sorted(local.iterdir())
        base = dir.rstrip("/")
        infos = []
        for entry in entries:
            stat = entry.stat()
            name = entry.name + ("/" if entry.is_dir() else "")
            shown = base if local.is_file() else f"{base}/{name}"
            infos.append(FileInfo(shown, name, 0 if entry.is_dir() else stat.st_size, int(stat.st_mtime * 1000)))
        return infos

    def mkdirs(self, dir: str) -> bool:  # noqa: A002
        self.to_local(dir).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        local = self.to_local(file)
        if local.exists() and not overwrite:
            raise FileExistsError(f"{file} already exists (pass overwrite=True to replace it)")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents, encoding="utf-8")
        return True

    def head(self, file: str, maxBytes: int = 65536) -> str:  # noqa: N803 - Databricks' argument name
        local = self.to_local(file)
        if not local.is_file():
            raise FileNotFoundError(f"{file}: no such file")
        with local.open("rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        source, target = self.to_local(from_), self.to_local(to)
        if source.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{from_} is a directory (pass recurse=True to copy it)")
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name if target.is_dir() else target)
        else:
            raise FileNotFoundError(f"{from_}: no such file or directory")
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        source, target = self.to_local(from_), self.to_local(to)
        if not source.exists():
            raise FileNotFoundError(f"{from_}: no such file or directory")
        if source.is_dir() and not recurse:
            raise IsADirectoryError(f"{from_} is a directory (pass recurse=True to move it)")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:  # noqa: A002
        local = self.to_local(dir)
        if not local.exists():
            return False
        if local == self.root:
            raise FsPathError(f"refusing to remove the lakehouse root {self.root}")
        if local.is_dir():
            if not recurse and any(local.iterdir()):
                raise IsADirectoryError(f"{dir} is a non-empty directory (pass recurse=True to remove it)")
            shutil.rmtree(local)
        else:
            local.unlink()
        return True
