"""A bundle's files: the root configuration file, its `include` globs, and their merge into one tree.

As the Databricks CLI reads them: the root is `databricks.yml` (or `databricks.yaml`,
`bundle.yml`, `bundle.yaml`) in the bundle folder; `include` globs are relative to the
root and only the root file's count (an included file's `include` is ignored, as Databricks does with a warning); every file's top-level sections merge into
one configuration, and a resource key declared in two files is an error naming both.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.bundles.problems import BundleError, Problems
from lakehouse_jobs.lib.bundles.tree import LDict, annotate, merge
from lakehouse_jobs.lib.bundles.yaml_files import read_yaml

ROOT_FILES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
TOP_LEVEL = (
    "bundle",
    "include",
    "variables",
    "workspace",
    "artifacts",
    "resources",
    "sync",
    "permissions",
    "presets",
    "run_as",
    "experimental",
    "targets",
    "environments",
    "git",
    "python",
    "scripts",
    "definitions",  # free-form: where bundles keep their YAML anchors
)


def root_file(path: str | Path) -> Path:
    """The root configuration file of the bundle at `path` (its folder or the file itself)."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / name for name in ROOT_FILES if (path / name).is_file()]
        if not found:
            raise BundleError([(str(path), f"not a bundle: none of {', '.join(ROOT_FILES)} in this folder")], str(path))
        if len(found) > 1:
            raise BundleError([(str(path), f"several bundle root files ({', '.join(f.name for f in found)}); keep one")], str(path))
        return found[0].resolve()
    if not path.is_file():
        raise BundleError([(str(path), "no such bundle file or folder")], str(path))
    return path.resolve()


def is_bundle(path: str | Path) -> bool:
    """Whether `path` names a bundle (a folder holding a root file, or a root file by its name)."""
    path = Path(path)
    if path.is_dir():
        return any((path / name).is_file() for name in ROOT_FILES)
    return path.name in ROOT_FILES


def _mapping(value: Any, file: Path, problems: Problems) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(file, "", f"expected a mapping of bundle sections ({', '.join(TOP_LEVEL[:6])}...), got {type(value).__name__}")
        return {}
    for key in value:
        if key not in TOP_LEVEL:
            problems.warn(file, str(key), f"unknown bundle section, ignored; known: {', '.join(TOP_LEVEL)}")
    return value


def read_files(root: Path) -> tuple[LDict, list[Path], list[tuple[str, str]]]:
    """The merged configuration of the root file and its includes (targets not applied yet), the files read, and the warnings."""
    problems = Problems()
    base = root.parent
    config = annotate(_mapping(read_yaml(root), root, problems), str(root))
    files = [root]
    includes = config.get("include") or []
    if not isinstance(includes, list):
        problems.add(root, "include", "expected a list of glob patterns relative to the bundle root")
        includes = []
    owner: dict[tuple[str, str], Path] = {}
    _claim(config, root, owner, problems)
    for index, pattern in enumerate(includes):
        if not isinstance(pattern, str) or not pattern.strip():
            problems.add(root, f"include[{index}]", f"expected a glob pattern, got {pattern!r}")
            continue
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            problems.add(root, f"include[{index}]", f"{pattern!r} must stay inside the bundle folder (a relative glob)")
            continue
        matches = sorted(Path(p).resolve() for p in glob.glob(str(base / pattern), recursive=True) if Path(p).is_file())
        matches = [m for m in matches if m != root and m not in files]
        if not matches:
            problems.add(root, f"include[{index}]", f"{pattern!r} matches no file under {base}")
            continue
        for match in matches:
            try:
                content = _mapping(read_yaml(match), match, problems)
            except BundleError as exc:
                problems.extend(exc.problems)
                continue
            content = {k: v for k, v in content.items() if k != "include"}  # outside the root file it is ignored (Databricks warns)
            annotated = annotate(content, str(match))
            _claim(annotated, match, owner, problems)
            try:
                config = merge(config, annotated)
            except ValueError as exc:
                problems.add(match, "", f"cannot merge into the bundle: {exc}")
            files.append(match)
    problems.raise_if_any(root)
    return config, files, problems.warnings


def _claim(config: dict, file: Path, owner: dict[tuple[str, str], Path], problems: Problems) -> None:
    """Record which file declares each resource; a second declaration is a problem naming both files."""
    resources = config.get("resources")
    if resources is None:
        return
    if not isinstance(resources, dict):
        problems.add(file, "resources", "expected a mapping of resource types (jobs, pipelines...)")
        return
    for kind, entries in resources.items():
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problems.add(file, f"resources.{kind}", "expected a mapping of resource keys")
            continue
        for key in entries:
            first = owner.setdefault((kind, key), file)
            if first != file:
                problems.add(file, f"resources.{kind}.{key}", f"declared twice: also in {first}")
