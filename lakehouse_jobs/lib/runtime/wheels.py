"""Wheels a job brings (`libraries: [{whl: ./dist/*.whl}]`), used without touching the project's environment.

Each wheel is installed once per content (`pip install --no-deps --target <cache>/<sha256>`) under
`$LAKEHOUSE_WHEEL_CACHE` (default `~/.cache/lakehouse_jobs/wheels`), then put first on sys.path only
while a task runs (`activated`). Afterwards sys.path is restored and every module imported from the
wheel (or shadowing its top-level names) is dropped from sys.modules, so two jobs using two versions
of one package do not see each other's.

Limits of in-process isolation: the wheel's dependencies are not installed (they must be in the
environment); a C extension cannot be unloaded once imported; state the package left behind
(threads, atexit handlers, monkeypatches, objects held by other modules) survives the task; and
sys.path/sys.modules are process-wide, so two tasks with two versions must not run at the same
time in one process (the in-process executor runs one step at a time).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from lakehouse_jobs.lib import workspace

CACHE_ENV = "LAKEHOUSE_WHEEL_CACHE"
_MARKER = ".lakehouse_jobs_installed"


class WheelError(ValueError):
    """A wheel that cannot be found or installed, in one sentence."""


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "lakehouse_jobs" / "wheels"


def find_wheel(pattern: str, folder: Path) -> Path:
    """The one wheel file `pattern` (a path or glob, relative to `folder`, or a `file:` path) matches."""
    try:
        return workspace.find_one(pattern, folder, "wheel", ".whl")
    except workspace.WorkspacePathError as exc:
        raise WheelError(str(exc)) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install(wheel: Path, root: Path | None = None) -> tuple[Path, bool]:
    """The folder holding `wheel` installed (and whether it was already there, by content)."""
    return _pip_target(_sha256(wheel), ["--no-deps", "--no-index", str(wheel)], f"the wheel {wheel}", root)


def install_requirements(requirements: Sequence[str], root: Path | None = None) -> tuple[Path, bool]:
    """A notebook's `%pip install` (requirements, with their dependencies): one folder per distinct list, cached."""
    key = hashlib.sha256("\n".join(["requirements", *requirements]).encode()).hexdigest()
    return _pip_target(key, list(requirements), " ".join(requirements), root)


def _pip_target(key: str, arguments: list[str], what: str, root: Path | None) -> tuple[Path, bool]:
    """`pip install --target` into `<cache>/<key>` once (staged, then renamed: concurrent installs win or lose whole)."""
    root = root or cache_root()
    target = root / key
    if (target / _MARKER).is_file():
        return target, True
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{key[:12]}-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "pip", "install", "--no-compile", "--disable-pip-version-check", "--quiet", "--target", str(staging), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # our interpreter's pip, never the project's environment
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise WheelError(f"pip could not install {what}: {lines[-1] if lines else f'exit code {done.returncode}'}")
    (staging / _MARKER).write_text(what)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / _MARKER).is_file():
            raise WheelError(f"cannot store the installation of {what} in {target}") from None
        return target, True
    return target, False


def top_level_names(folder: Path) -> set[str]:
    """The importable top-level names an installed wheel's folder provides."""
    names: set[str] = set()
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name.endswith((".dist-info", ".data")) or entry.name in ("bin", "__pycache__"):
            continue
        if entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
        elif entry.suffix in (".py", ".so", ".pyd"):
            names.add(entry.name.split(".", 1)[0])
    return names


def _owned(name: str, names: set[str]) -> bool:
    return name.split(".", 1)[0] in names


@contextlib.contextmanager
def activated(folders: Sequence[Path]) -> Iterator[None]:
    """`folders` first on sys.path for the block; their modules imported only for the block."""
    if not folders:
        yield
        return
    names = set().union(*(top_level_names(f) for f in folders))
    shadowed = {n: m for n, m in sys.modules.items() if _owned(n, names)}  # the environment's copies, back afterwards
    for name in shadowed:
        del sys.modules[name]
    entries = [str(f) for f in folders]
    sys.path[:0] = entries
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in entries:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
        for name in [n for n in sys.modules if _owned(n, names) or _loaded_from(sys.modules[n], folders)]:
            sys.modules.pop(name, None)
        sys.modules.update(shadowed)
        importlib.invalidate_caches()


def _loaded_from(module: object, folders: Sequence[Path]) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and any(Path(file).is_relative_to(f) for f in folders)
