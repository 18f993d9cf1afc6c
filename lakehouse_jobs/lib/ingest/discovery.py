"""Which landing files a run may read: one path for the sensor's batches and for runs by hand.

Every name (listed below the landing folder, or handed over in a run's config) is
resolved, symbolic links included, and read only when the resolved file is inside the
landing folder. A name that resolves outside it (a link to `/etc/passwd`, a path
through a linked folder, a hand-written `/elsewhere.csv`) is *refused*: never opened,
reported with the name and the resolved target, and recorded once by the batch that
met it (see `ingest.py`), so it is neither read nor reported again.

A link that stays inside the folder is read at its real place, once (the file and its
alias are one file). Folders are walked without following links; a linked folder
leaving the landing folder is refused as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse_jobs.lib.uris import local_path


@dataclass(frozen=True)
class Refused:
    """A landing entry that is not read: `name` relative to the landing folder (or absolute when outside it)."""

    name: str
    path: str  # as named (not resolved): what the user sees in the folder
    reason: str
    folder: bool = False


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)  # resolved, inside the landing folder, sorted, unique
    refused: list[Refused] = field(default_factory=list)


def scan(folder: Path) -> Iterator[tuple[str, float]]:
    """(relative path, ctime) of every visible file below `folder`, and of every symbolic link
    (to a file or a folder: the run decides whether it may be read). Linked folders are not walked."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue
            try:
                if entry.is_symlink():
                    if entry.is_file() or entry.is_dir():  # a dangling link has nothing to read
                        yield os.path.relpath(entry.path, folder), entry.stat(follow_symlinks=False).st_ctime
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield os.path.relpath(entry.path, folder), entry.stat().st_ctime
            except FileNotFoundError:  # removed while listing
                continue


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _name(path: Path, landing: Path) -> str:
    """`path`'s name relative to the landing folder, through the deepest ancestor that resolves inside it."""
    for ancestor in path.parents:
        real = ancestor.resolve()
        if _inside(real, landing):
            return os.path.relpath(real / path.relative_to(ancestor), landing)
    return str(path)


def resolve(landing: Path, name: str | Path) -> Path | Refused | None:
    """The file `name` stands for, if it may be read; a Refused when it resolves outside the landing
    folder; None for a folder inside it (its files are listed at their own place) or a missing name.

    `landing` must be resolved already (as `LakehouseResource.landing_path` returns it)."""
    path = Path(os.path.abspath(landing / local_path(name)))  # absolute names stay as they are
    real = path.resolve()
    if _inside(real, landing):
        return real if not real.is_dir() else None
    shown = _name(path, landing)
    what = "folder" if real.is_dir() else "file"
    if path == real:
        reason = f"{path} is not inside the landing folder {landing}; not read"
    else:
        reason = f"{path} is a symbolic link (or a path through one) to the {what} {real}, outside the landing folder {landing}; not read"
    return Refused(shown, str(path), reason, what == "folder")


def discover(landing: Path, suffixes: Sequence[str], files: Sequence[str | Path] | None = None) -> Discovery:
    """The data files of a landing folder (`files`: a sensor's batch; None: everything listed below it).

    Names not ending with one of `suffixes` are ignored (not this source's data), except
    folders leaving the landing folder, which are refused: their files could be anything."""
    names = [rel for rel, _ in scan(landing)] if files is None else list(files)
    found, refused = set(), {}
    for name in names:
        outcome = resolve(landing, name)
        data = str(name).endswith(tuple(suffixes))
        if isinstance(outcome, Refused):
            if data or outcome.folder:
                refused.setdefault(outcome.name, outcome)
        elif outcome is not None and data:
            found.add(outcome)
    return Discovery(sorted(found), sorted(refused.values(), key=lambda r: r.name))
