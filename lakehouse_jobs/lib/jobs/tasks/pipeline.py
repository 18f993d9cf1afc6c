"""`pipeline_task`: run a Lakeflow pipeline of the document, or materialize a selection of assets, as one task.

`pipeline_id` naming a pipeline of the bundle/document (`resources.pipelines.<key>`, which is what
`${resources.pipelines.<key>.id}` becomes) runs one update of it (lib/pipelines: its datasets as
assets, `full_refresh: true` empties streaming tables and recomputes everything) in a child Dagster
run of the same instance, sharing the step's SparkSession. `selection` (or a `pipeline_id` that
names no pipeline but selects assets, as before) names asset keys (`silver/orders`) or Dagster
selections (`group:bronze`) of the code location, resolved when the job is compiled, so a
selection of no asset is refused before any run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.spec import TaskSpec
from lakehouse_jobs.lib.jobs.task_run import TaskFailure, TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, PrepareContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout

_ASSET_KEY = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$")


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{selection}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"selection", "pipeline_id", "full_refresh"})
    selection = body.get("selection", body.get("pipeline_id"))
    if "pipeline_id" in body and "selection" not in body and (not isinstance(body["pipeline_id"], str) or not body["pipeline_id"].strip()):
        problems.append(
            (ctx.at("pipeline_id"), "expected the key of a pipeline of this document (resources.pipelines.<key>) or ${resources.pipelines.<key>.id}")
        )
    elif selection is None:
        problems.append(
            (ctx.at("selection"), "missing: pipeline_id (a pipeline of this document), or asset keys like 'silver/orders' or a selection like 'group:bronze'")
        )
    elif isinstance(selection, list):
        if not selection or not all(isinstance(item, str) and item for item in selection):
            problems.append((ctx.at("selection"), "expected a non-empty list of asset keys or selection strings"))
    elif not isinstance(selection, str) or not selection.strip():
        problems.append((ctx.at("selection"), "expected an asset selection string or a list of them"))
    fields.boolean(problems, body, "full_refresh", ctx.path)
    return problems


def asset_selection(items: str | Sequence[str]) -> dg.AssetSelection:
    """'silver/orders' is an asset key; anything else uses Dagster's selection syntax ('group:bronze', 'key:gold/*')."""
    selection: dg.AssetSelection | None = None
    for item in [items] if isinstance(items, str) else list(items):
        part = dg.AssetSelection.assets(dg.AssetKey(item.split("/"))) if _ASSET_KEY.match(item) else dg.AssetSelection.from_string(item)
        selection = part if selection is None else selection | part
    assert selection is not None
    return selection


@dataclass(frozen=True)
class PipelineRef:
    """A `pipeline_id` task: the pipeline's key, and the asset selection the same text makes (if any) for
    documents that do not declare that pipeline."""

    pipeline_id: str
    selection: dg.AssetSelection | None = None


def prepare(task: TaskSpec, ctx: PrepareContext) -> dg.AssetSelection | PipelineRef:
    """A pipeline reference, or the task's selection checked against the job's assets (it must select at least one)."""
    if "selection" not in task.body and isinstance(task.body.get("pipeline_id"), str):
        try:
            selection = _selection(task, ctx)
        except SpecError:
            selection = None
        return PipelineRef(task.body["pipeline_id"].strip(), selection)
    return _selection(task, ctx)


def _selection(task: TaskSpec, ctx: PrepareContext) -> dg.AssetSelection:
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

    raw = task.body.get("selection", task.body.get("pipeline_id"))
    where = f"{ctx.path}.selection"
    if not ctx.assets:
        raise SpecError(where, "this job selects assets but no assets were given to build_definitions(assets=...)")
    cache = ctx.cache if ctx.cache is not None else {}
    graph = cache.get("asset_graph") or cache.setdefault("asset_graph", AssetGraph.from_assets(list(ctx.assets)))
    try:
        selection = asset_selection(raw)
        keys = selection.resolve(graph)
    except Exception as exc:  # noqa: BLE001 - Dagster's selection errors: report them on the field
        raise SpecError(where, f"invalid asset selection {raw!r}: {str(exc).splitlines()[0]}") from None
    if not keys:
        raise SpecError(where, f"{raw!r} selects no asset")
    return selection


def root_cause(error: Any) -> str:
    """The user's own exception behind Dagster's wrapping errors, in one line."""
    if error is None:
        return "failed"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]


def document_pipelines(task_run: TaskRun) -> Mapping[str, Any] | None:
    """`resources.pipelines` of the document the job came from: the compiled document's, else re-read
    from the spec dict or file the run was rebuilt from."""
    pipelines = getattr(task_run.runtime.document, "pipelines", None)
    if isinstance(pipelines, Mapping):
        return pipelines
    source = task_run.job_source()
    raw: Any = None
    if source is not None and source.spec is not None:
        raw = source.spec
    elif source is not None and source.path:
        from lakehouse_jobs.lib.jobs.load import read_spec_file

        raw = read_spec_file(source.path)
    resources = raw.get("resources") if isinstance(raw, Mapping) else None
    pipelines = resources.get("pipelines") if isinstance(resources, Mapping) else None
    return pipelines if isinstance(pipelines, Mapping) else None


def run_pipeline(task_run: TaskRun, key: str, settings: Mapping[str, Any]) -> TaskOutcome:
    """One update of the pipeline `key` in a child run whose assets are its datasets."""
    from lakehouse_jobs.lib.pipelines.assets import pipeline_assets, update_run_config
    from lakehouse_jobs.lib.runtime.spark import SparkResource

    runtime, context, task = task_run.runtime, task_run.context, task_run.task
    full_refresh = task_run.body.get("full_refresh", False) is True

    def work() -> dict[str, Any]:
        try:
            assets = pipeline_assets(key, settings, runtime.spec.base_dir)
        except LakehouseError as exc:
            raise TaskFailure(f"pipeline_task.pipeline_id: pipeline {key!r}: {exc}") from None
        resources = dict(runtime.resources or {})
        if not isinstance(resources.get("spark"), SparkResource):
            resources["spark"] = SparkResource()
        resources.setdefault("lakehouse", task_run.lakehouse())
        result = dg.materialize(
            assets,
            instance=context.instance,
            resources=resources,
            run_config=update_run_config(key, full_refresh),
            raise_on_error=False,
            tags={tags.PARENT_RUN_ID: context.run_id, tags.TASK_KEY: task.task_key},
        )
        if not result.success:
            failures = [root_cause(e.step_failure_data.error) for e in result.get_step_failure_events()]
            raise TaskFailure(f"pipeline {key!r} update failed: {'; '.join(failures) or 'see run ' + result.run_id}")
        keys = sorted({event.asset_key.to_user_string() for event in result.get_asset_materialization_events() if event.asset_key})
        return {"pipeline": key, "update_run_id": result.run_id, "full_refresh": full_refresh, "materialized": keys}

    return TaskOutcome(SUCCESS, metadata=call_with_timeout(work, task_run.timeout, label=task.task_key))


def run(task_run: TaskRun) -> TaskOutcome:
    runtime, context, task = task_run.runtime, task_run.context, task_run.task
    if isinstance(task_run.prepared, PipelineRef):
        ref = task_run.prepared
        pipelines = document_pipelines(task_run) or {}
        if ref.pipeline_id in pipelines:
            return run_pipeline(task_run, ref.pipeline_id, pipelines[ref.pipeline_id])
        if ref.selection is None:
            known = ", ".join(map(str, pipelines)) or "none"
            raise TaskFailure(f"pipeline_task.pipeline_id: no pipeline {ref.pipeline_id!r} in this document (its pipelines: {known}) and no asset of that key")
        selection = ref.selection
    else:
        selection = task_run.prepared

    def work() -> dict[str, Any]:
        result = dg.materialize(
            list(runtime.assets),
            selection=selection,
            instance=context.instance,
            resources=dict(runtime.resources or {}),
            raise_on_error=False,
            tags={tags.PARENT_RUN_ID: context.run_id, tags.TASK_KEY: task.task_key},
        )
        if not result.success:
            failures = [f"{e.step_key}: {root_cause(e.step_failure_data.error)}" for e in result.get_step_failure_events()]
            raise RuntimeError(f"asset run {result.run_id} failed: {'; '.join(failures) or 'see the run'}")
        keys = sorted({event.asset_key.to_user_string() for event in result.get_asset_materialization_events() if event.asset_key})
        return {"asset_run_id": result.run_id, "materialized": keys}

    return TaskOutcome(SUCCESS, metadata=call_with_timeout(work, task_run.timeout, label=task.task_key))


TASK_TYPE = TaskType(
    name="pipeline_task", check=check, run=run, prepare=prepare, needs_assets=True, reports_lineage=True,
    description="run a pipeline of the document (pipeline_id) or materialize a selection of assets, in a child run",
)  # fmt: skip
