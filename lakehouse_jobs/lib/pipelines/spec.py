"""A pipeline's settings (`resources.pipelines.<key>` of a bundle, or a Pipelines API body), checked
field by field, and the source files its `libraries` name.

Read: `libraries` (notebook / file paths, `glob.include`), `catalog`, `schema` (or the legacy
`target`), `configuration` (set on the session while the pipeline runs: `spark.conf.get` sees it),
`root_path` (put on `sys.path` while the sources load, as Databricks does). Accepted and without
effect here (see docs/bundles.md): `development`, `continuous` (an update runs once), `channel`,
`edition`, `photon`, `serverless`, `clusters`, `storage`, `notifications`, `permissions`, ...
Refused: `ingestion_definition`/`gateway_definition` (managed connectors), jar/maven/whl libraries.
"""

from __future__ import annotations

import glob as globbing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.pipelines import naming
from lakehouse_jobs.lib.workspace import WorkspacePathError, confine, target, workspace_root

USED = {"name", "libraries", "catalog", "schema", "target", "configuration", "root_path", "id"}
IGNORED = {
    "development", "continuous", "channel", "edition", "photon", "serverless", "clusters", "storage", "notifications",
    "permissions", "allow_duplicate_names", "budget_policy_id", "tags", "event_log", "deployment", "trigger", "filters",
    "dry_run", "data_sampling", "restart_window", "run_as", "environment", "usage_policy_id", "lifecycle", "comment",
}  # fmt: skip
REFUSED = {
    "ingestion_definition": "managed ingestion connectors (Lakeflow Connect) need Databricks' connection service, which does not exist locally",
    "gateway_definition": "an ingestion gateway needs Databricks' connection service, which does not exist locally",
}
SOURCE_SUFFIXES = (".py", ".sql", ".ipynb")


@dataclass
class PipelineSpec:
    key: str
    name: str
    sources: list[Path]
    catalog: str = naming.DEFAULT_CATALOG
    schema: str = naming.DEFAULT_SCHEMA
    configuration: dict[str, str] = field(default_factory=dict)
    root_path: Path | None = None
    base_dir: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _library_files(library: Mapping[str, Any], where: str, base_dir: Path | None) -> list[Path]:
    """The source files one `libraries` entry names (relative to the declaring file, confined to the workspace)."""
    root = workspace_root(base_dir)
    if "glob" in library:
        include = (library.get("glob") or {}).get("include") if isinstance(library.get("glob"), Mapping) else None
        if not isinstance(include, str) or not include.strip():
            raise SpecError(f"{where}.glob.include", "expected a path or glob of source files")
        path, absolute = target(include, base_dir, root, "glob.include")
        pattern = str(path / "**") if path.is_dir() else str(path)
        found = sorted(Path(p) for p in globbing.glob(pattern, recursive=True) if Path(p).is_file() and p.endswith(SOURCE_SUFFIXES))
        if not absolute:
            found = [confine(p, root, "glob.include", include) for p in found]
        if not found:
            raise SpecError(f"{where}.glob.include", f"{include!r} matches no .py, .sql or .ipynb file (looked for {pattern})")
        return [p.resolve() for p in found]
    for kind in ("notebook", "file"):
        if kind in library:
            value = (library.get(kind) or {}).get("path") if isinstance(library.get(kind), Mapping) else None
            if not isinstance(value, str) or not value.strip():
                raise SpecError(f"{where}.{kind}.path", "expected the path of a source file")
            path, absolute = target(value, base_dir, root, f"{kind}.path")
            tried = [path] if path.suffix in SOURCE_SUFFIXES else [path, *(path.with_name(path.name + s) for s in SOURCE_SUFFIXES)]
            for candidate in tried:
                if not absolute:
                    confine(candidate, root, f"{kind}.path", value)
                if candidate.is_file():
                    return [candidate.resolve()]
            raise SpecError(f"{where}.{kind}.path", f"{value!r} not found (tried {', '.join(str(p) for p in tried)})")
    kinds = ", ".join(str(k) for k in library) or "nothing"
    raise SpecError(where, f"a pipeline library is notebook, file or glob here (jar, maven and whl libraries have no local pipeline runtime); got {kinds}")


def check_pipeline(raw: Any, path: str, base_dir: Path | None = None) -> Problems:
    """Every problem of one pipeline's settings, each at its field path; nothing raises."""
    problems: Problems = []
    if not isinstance(raw, Mapping):
        return [(path, f"expected the settings of a pipeline, got {type(raw).__name__}")]
    fields.unknown(problems, raw, path, USED | set(REFUSED), IGNORED)
    for name, why in REFUSED.items():
        if name in raw:
            problems.append((fields.at(path, name), f"refused: {why}"))
    for name in ("name", "catalog", "schema", "target", "root_path"):
        fields.string(problems, raw, name, path)
    for name in ("catalog", "schema", "target"):
        if isinstance(raw.get(name), str) and raw[name].strip():
            try:
                naming.part(raw[name], fields.at(path, name))
            except SpecError as exc:
                problems.append((exc.path, exc.message))
    if raw.get("schema") and raw.get("target"):
        problems.append((fields.at(path, "target"), "give schema or the legacy target, not both"))
    for name in ("development", "continuous", "photon", "serverless", "allow_duplicate_names", "dry_run"):
        fields.boolean(problems, raw, name, path)
    configuration = raw.get("configuration")
    if configuration is not None:
        if not isinstance(configuration, Mapping):
            problems.append((fields.at(path, "configuration"), "expected a mapping of names to string values"))
        else:
            for key, value in configuration.items():
                if not isinstance(value, (str, int, float, bool)):
                    problems.append((fields.at(path, f"configuration.{key}"), f"expected a string value, got {type(value).__name__}"))
    libraries = raw.get("libraries")
    if not isinstance(libraries, list) or not libraries:
        problems.append((fields.at(path, "libraries"), "expected a non-empty list of notebook, file or glob libraries"))
        return problems
    for index, library in enumerate(libraries):
        where = fields.at(path, f"libraries[{index}]")
        if not isinstance(library, Mapping):
            problems.append((where, "expected {notebook: {path}}, {file: {path}} or {glob: {include}}"))
            continue
        try:
            _library_files(library, where, base_dir)
        except SpecError as exc:
            problems.append((exc.path, exc.message))
        except WorkspacePathError as exc:
            problems.append((where, str(exc)))
    return problems


def _conf_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def pipeline_spec(key: str, raw: Mapping[str, Any], base_dir: str | Path | None = None) -> PipelineSpec:
    """The model of one pipeline, or SpecError with every problem (one line each) naming its field."""
    folder = Path(base_dir).resolve() if base_dir is not None else None
    path = f"resources.pipelines.{key}"
    problems = check_pipeline(raw, path, folder)
    if problems:
        raise SpecError(problems[0][0], "; ".join(f"{p}: {m}" for p, m in problems) if len(problems) > 1 else problems[0][1])
    sources: list[Path] = []
    for index, library in enumerate(raw["libraries"]):
        for source in _library_files(library, f"{path}.libraries[{index}]", folder):
            if source not in sources:
                sources.append(source)
    root_path = None
    if raw.get("root_path"):
        root_path, _ = target(raw["root_path"], folder, workspace_root(folder), "root_path")
    return PipelineSpec(
        key=key,
        name=str(raw.get("name") or key),
        sources=sources,
        catalog=naming.part(raw["catalog"], f"{path}.catalog") if raw.get("catalog") else naming.DEFAULT_CATALOG,
        schema=naming.part(raw.get("schema") or raw.get("target"), f"{path}.schema") if raw.get("schema") or raw.get("target") else naming.DEFAULT_SCHEMA,
        configuration={str(k): _conf_text(v) for k, v in (raw.get("configuration") or {}).items()},
        root_path=root_path,
        base_dir=folder,
        raw=dict(raw),
    )
