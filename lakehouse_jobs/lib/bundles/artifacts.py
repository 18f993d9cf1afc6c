"""Bundle artifacts: the wheels (or jars) a bundle builds before its jobs use them (`lakehouse-jobs build`).

As `databricks bundle deploy` does (bundle/artifacts/prepare.go): each `artifacts.<name>` has a
`type` (`whl`, `jar`), a `path` (the project folder, relative to the file that declares it;
default: the bundle folder), a `build` command run in that folder, and `files` (the outputs;
for `whl` default `<path>/dist/*.whl`). Differences: building is an explicit step here
(`lakehouse-jobs build <bundle>`; `validate`/`run` never run commands), and a `whl` artifact
without `build` uses the standard build frontend (`python -m build --wheel`, or `pip wheel`
when `build` is not installed) where the Databricks CLI runs `python setup.py bdist_wheel`.
The command runs through the shell with this interpreter's folder first on PATH (`python` is
the project's Python); its output goes to the console.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lakehouse_jobs.lib.bundles.bundle import Bundle
from lakehouse_jobs.lib.bundles.problems import Problems

TYPES = ("whl", "jar")
FIELDS = ("type", "path", "build", "files", "executable", "dynamic_version")


@dataclass(frozen=True)
class Artifact:
    name: str
    type: str | None
    path: Path
    build: str | None
    files: tuple[str, ...]  # absolute glob patterns of the outputs
    file: str  # the YAML file that declared it


def default_build() -> str:
    if importlib.util.find_spec("build") is not None:
        return "python -m build --wheel"
    return "python -m pip wheel --no-deps --wheel-dir dist ."


def artifacts(bundle: Bundle) -> list[Artifact]:
    """The bundle's artifacts with absolute paths; a malformed one is a problem naming its file and field."""
    problems = Problems()
    section = bundle.config.get("artifacts") or {}
    if not isinstance(section, dict):
        problems.add(bundle.root_file, "artifacts", "expected a mapping of artifact names to artifacts")
        problems.raise_if_any(bundle.root_file)
    found = []
    for name, spec in sorted(section.items()):
        field = f"artifacts.{name}"
        file = bundle.file_of(field)
        if not isinstance(spec, dict):
            problems.add(file, field, "expected a mapping (type, path, build, files)")
            continue
        for key in spec:
            if key not in FIELDS:
                problems.add(file, f"{field}.{key}", f"unknown artifact field; known: {', '.join(FIELDS)}")
        kind = spec.get("type")
        if kind is not None and kind not in TYPES:
            problems.add(file, f"{field}.type", f"unknown type {kind!r}; known: {', '.join(TYPES)}")
        folder = Path(file).parent
        path = (folder / str(spec["path"])).resolve() if spec.get("path") else bundle.root
        sources = []
        for index, entry in enumerate(spec.get("files") or []):
            source = entry.get("source") if isinstance(entry, dict) else None
            if not isinstance(source, str) or not source.strip():
                problems.add(file, f"{field}.files[{index}].source", "expected the path (or glob) of a file the build writes")
                continue
            sources.append(str((folder / source).resolve()))
        build = spec.get("build")
        if build is not None and (not isinstance(build, str) or not build.strip()):
            problems.add(file, f"{field}.build", "expected a shell command")
            build = None
        if kind == "whl":
            build = build or (None if sources else default_build())
            sources = sources or [str(path / "dist" / "*.whl")]
        if not build and not sources:
            problems.add(file, field, "give build (a command) or files (what it provides)")
        found.append(Artifact(str(name), kind, path, build, tuple(sources), file))
    problems.raise_if_any(bundle.root_file)
    return found


def build_artifacts(bundle: Bundle, names: list[str] | None = None) -> dict[str, list[Path]]:
    """Run each artifact's build command in its folder; the files it produced by artifact name. A failure is one LakehouseError."""
    from lakehouse_jobs.lib.errors import LakehouseError

    built: dict[str, list[Path]] = {}
    chosen = [a for a in artifacts(bundle) if not names or a.name in names]
    unknown = sorted(set(names or ()) - {a.name for a in chosen})
    if unknown:
        raise LakehouseError(
            f"{bundle.root_file}: no artifact {', '.join(unknown)}; the bundle declares {', '.join(a.name for a in artifacts(bundle)) or 'none'}"
        )
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    for artifact in chosen:
        if artifact.build:
            if not artifact.path.is_dir():
                raise LakehouseError(f"{artifact.file}: artifacts.{artifact.name}.path: no folder {artifact.path}")
            print(f"{artifact.name}: {artifact.build}  (in {artifact.path})", flush=True)
            # The bundle's own build command, run as `databricks bundle deploy` runs it (through the shell).
            result = subprocess.run(artifact.build, shell=True, cwd=artifact.path, env=env, check=False)  # noqa: S602
            if result.returncode != 0:
                raise LakehouseError(f"{artifact.file}: artifacts.{artifact.name}.build: {artifact.build!r} failed with exit code {result.returncode}")
        files = sorted({Path(p) for pattern in artifact.files for p in glob.glob(pattern)})
        if not files:
            raise LakehouseError(f"{artifact.file}: artifacts.{artifact.name}: no file matches {', '.join(artifact.files)} after the build")
        built[artifact.name] = files
    return built
