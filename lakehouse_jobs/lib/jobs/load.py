"""Reading job specs: a dict, or a YAML/JSON file, validated into the job model (spec.py).

Every problem is collected first and reported together as `path.to.field: message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.spec import Dependency, JobsDocument, JobSpec, TaskSpec, job_entries, parameter_text
from lakehouse_jobs.lib.jobs.tasks import registry
from lakehouse_jobs.lib.jobs.validate import validate_document

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecValidationError(SpecError):
    """Every problem of a spec, each as (path, message)."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "<dict>"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  {path}: {message}" if path else f"  {message}" for path, message in self.problems)
        plural = "s" if len(self.problems) != 1 else ""
        Exception.__init__(self, f"{source}: {len(self.problems)} problem{plural} in the job spec:\n{lines}")
        self.path, self.message = source, str(self)


def load_spec(obj: Mapping[str, Any], source: str = "<dict>", base_dir: str | Path | None = None) -> JobsDocument:
    """Validate `obj` (job object or bundle document) and build the model, or raise every problem.

    `base_dir`: where the task types resolve relative paths (the folder of the declaring file).
    """
    problems = validate_document(obj, base_dir)
    if problems:
        raise SpecValidationError(problems, source)
    _, entries = job_entries(obj)
    folder = Path(base_dir) if base_dir is not None else None
    return JobsDocument({key: job_spec(key, job, folder) for key, job in entries.items()}, source)


def read_spec_file(path: str | Path) -> Any:
    """The parsed YAML/JSON content of a spec file (JSON is YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecValidationError([("", f"cannot read the file: {exc.strerror or exc}")], str(path)) from None
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml's when installed)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SpecValidationError([("", f"not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}")], str(path)) from None


def load_spec_file(path: str | Path) -> JobsDocument:
    return load_spec(read_spec_file(path), str(path), Path(path).resolve().parent)


def task_spec(raw: Mapping[str, Any]) -> TaskSpec:
    """The model of one validated task (its type found by the registry, a nested task included)."""
    kind = registry.kind_of(raw)
    body = dict(raw[kind])
    nested_field = registry.get(kind).nested_field
    return TaskSpec(
        task_key=raw["task_key"],
        kind=kind,
        body=body,
        depends_on=tuple(Dependency(d["task_key"], d.get("outcome")) for d in raw.get("depends_on") or ()),
        run_if=raw.get("run_if") or "ALL_SUCCESS",
        max_retries=int(raw.get("max_retries", 0) or 0),
        min_retry_interval_millis=int(raw.get("min_retry_interval_millis", 0) or 0),
        retry_on_timeout=bool(raw.get("retry_on_timeout", False)),
        timeout_seconds=int(raw.get("timeout_seconds", 0) or 0),
        disabled=bool(raw.get("disabled", False)),
        description=raw.get("description"),
        nested=task_spec(body[nested_field]) if nested_field else None,
        raw=dict(raw),
    )


def job_spec(key: str, raw: Mapping[str, Any], base_dir: Path | None = None) -> JobSpec:
    """The model of one validated job (`base_dir`: the folder of its file, for relative task paths)."""
    return JobSpec(
        key=key,
        name=raw.get("name") or key,
        tasks=[task_spec(task) for task in raw["tasks"]],
        parameters={p["name"]: parameter_text(p.get("default", "")) for p in raw.get("parameters") or ()},
        timeout_seconds=int(raw.get("timeout_seconds", 0) or 0),
        tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
        description=raw.get("description"),
        raw=dict(raw),
        base_dir=base_dir,
    )
