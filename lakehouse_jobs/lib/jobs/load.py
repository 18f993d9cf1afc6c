"""Reading job specs: a dict, a YAML/JSON file or a Databricks Asset Bundle, validated into the job model (spec.py).

Every problem is collected first and reported together as `path.to.field: message` (for a
bundle, `file: path.to.field: message`, the file being the YAML that declared the field).
Files are read safely (lib/bundles/yaml_files.py: no traceback for binary files, alias
bombs refused); a Jobs API GET response (`{"job_id": ..., "settings": {...}}`) is read as its
`settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import DocumentProblems
from lakehouse_jobs.lib.jobs.spec import Dependency, JobsDocument, JobSpec, TaskSpec, job_entries, parameter_text
from lakehouse_jobs.lib.jobs.tasks import registry
from lakehouse_jobs.lib.jobs.validate import validate_document

# What a Jobs API `GET /api/2.2/jobs/get` response holds besides `settings`.
_GET_RESPONSE_FIELDS = {
    "job_id",
    "settings",
    "created_time",
    "creator_user_name",
    "run_as_user_name",
    "run_as_owner",
    "trigger_state",
    "effective_budget_policy_id",
    "effective_usage_policy_id",
    "has_more",
    "next_page_token",
}


class SpecValidationError(DocumentProblems):
    """Every problem of a spec, each as (path, message)."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "<dict>"):
        super().__init__(problems, source, "the job spec")


def load_spec(obj: Mapping[str, Any], source: str = "<dict>", base_dir: str | Path | None = None) -> JobsDocument:
    """Validate `obj` (job object or bundle document) and build the model, or raise every problem.

    `base_dir`: where the task types resolve relative paths (the folder of the declaring file).
    """
    obj = job_settings(obj)
    problems = validate_document(obj, base_dir)
    if problems:
        raise SpecValidationError(problems, source)
    _, entries = job_entries(obj)
    folder = Path(base_dir) if base_dir is not None else None
    return JobsDocument({key: job_spec(key, job, folder) for key, job in entries.items()}, source, _pipelines(obj))


def _pipelines(obj: Mapping[str, Any]) -> dict[str, Any]:
    resources = obj.get("resources")
    pipelines = resources.get("pipelines") if isinstance(resources, Mapping) else None
    return dict(pipelines) if isinstance(pipelines, Mapping) else {}


def job_settings(obj: Any) -> Any:
    """A Jobs API GET response (`{"job_id": ..., "settings": {...}}`) or an export `{"settings": ...}` as its settings; anything else as is."""
    if isinstance(obj, Mapping) and isinstance(obj.get("settings"), Mapping) and set(obj) <= _GET_RESPONSE_FIELDS:
        return obj["settings"]
    return obj


def read_spec_file(path: str | Path) -> Any:
    """The parsed YAML/JSON content of a spec file (JSON is YAML), a Jobs API GET response read as its settings."""
    from lakehouse_jobs.lib.bundles.problems import BundleError
    from lakehouse_jobs.lib.bundles.yaml_files import read_yaml

    try:
        return job_settings(read_yaml(path))
    except BundleError as exc:
        raise SpecValidationError([("", message) for _, message in exc.problems], str(path)) from None


def is_bundle(path: str | Path) -> bool:
    """Whether `path` is a bundle folder or its root file (databricks.yml, databricks.yaml, bundle.yml, bundle.yaml)."""
    from lakehouse_jobs.lib.bundles.files import is_bundle as bundle_path

    return bundle_path(path)


def load_spec_file(path: str | Path, target: str | None = None, variables: Mapping[str, Any] | None = None) -> JobsDocument:
    """The jobs of a spec file, or of a bundle (folder or root file) for `target` with `variables` as --var overrides.

    A bundle's target defaults to $DATABRICKS_BUNDLE_TARGET and its variables to $BUNDLE_VAR_<name>, as the
    Databricks CLI reads them: that is how a run process rebuilding the job from the path sees the CLI's choices.
    """
    if is_bundle(path):
        return load_bundle_spec(path, target, variables)
    return load_spec(read_spec_file(path), str(path), Path(path).resolve().parent)


def load_bundle_spec(path: str | Path, target: str | None = None, variables: Mapping[str, Any] | None = None) -> JobsDocument:
    """The jobs of the bundle at `path`, validated; each problem names the YAML file that declared its field."""
    from lakehouse_jobs.lib.bundles.bundle import load_bundle
    from lakehouse_jobs.lib.bundles.problems import BundleError, shown

    try:
        bundle = load_bundle(path, target, variables)
    except BundleError as exc:
        raise SpecValidationError(exc.problems, exc.source) from None
    source = shown(bundle.root_file)
    if not bundle.jobs:
        return JobsDocument({}, source, dict(bundle.pipelines))
    problems = validate_document(bundle.document(), bundle.root)
    if problems:
        raise SpecValidationError([(f"{shown(bundle.file_of(field))}: {field}" if field else source, message) for field, message in problems], source)
    return JobsDocument({key: job_spec(key, job, bundle.root) for key, job in bundle.jobs.items()}, source, dict(bundle.pipelines))


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
        tasks=[task_spec(task) for task in raw.get("tasks") or ()],
        parameters={p["name"]: parameter_text(p.get("default", "")) for p in raw.get("parameters") or ()},
        timeout_seconds=int(raw.get("timeout_seconds", 0) or 0),
        tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
        description=raw.get("description"),
        raw=dict(raw),
        base_dir=base_dir,
    )
