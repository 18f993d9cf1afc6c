"""`bundle.git`: the branch, commit and origin URL of the Git checkout a bundle lives in, read from `.git` itself.

The Databricks CLI fills `${bundle.git.branch|commit|origin_url}` the same way (load_git_details.go);
values the bundle sets itself win. No `git` process is started: HEAD, refs, packed-refs and
config are small text files.
"""

from __future__ import annotations

import configparser
from pathlib import Path


def git_folder(start: Path) -> Path | None:
    """The `.git` folder of the checkout holding `start` (a `.git` file of a worktree is followed)."""
    for folder in (start, *start.parents):
        marker = folder / ".git"
        if marker.is_dir():
            return marker
        if marker.is_file():
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                return (folder / text.removeprefix("gitdir:").strip()).resolve()
    return None


def details(start: Path) -> dict[str, str]:
    """{branch, commit, origin_url} as far as they can be read; {} outside a checkout."""
    git = git_folder(start)
    if git is None:
        return {}
    found: dict[str, str] = {}
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return {}
    if head.startswith("ref:"):
        ref = head.removeprefix("ref:").strip()
        found["branch"] = ref.removeprefix("refs/heads/")
        commit = _ref(git, ref)
        if commit:
            found["commit"] = commit
    else:
        found["commit"] = head
    config = configparser.RawConfigParser(strict=False)
    try:
        config.read(_common(git) / "config", encoding="utf-8")
        url = config.get('remote "origin"', "url", fallback=None)
    except (configparser.Error, OSError):
        url = None
    if url:
        found["origin_url"] = url
    return found


def _common(git: Path) -> Path:
    """A worktree's shared folder (refs and config live there)."""
    marker = git / "commondir"
    return (git / marker.read_text(encoding="utf-8").strip()).resolve() if marker.is_file() else git


def _ref(git: Path, ref: str) -> str | None:
    for folder in (git, _common(git)):
        path = folder / ref
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
        packed = folder / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                commit, _, name = line.partition(" ")
                if name.strip() == ref:
                    return commit
    return None
