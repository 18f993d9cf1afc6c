"""`pipeline_task`: materialize a selection of the code location's assets as one task.

The Lakeflow-pipeline analogue: `selection` names asset keys (`silver/orders`) or Dagster
selections (`group:bronze`); they are materialized in a child Dagster run of the same
instance (its own lineage and history in the UI), sharing the step's SparkSession. The
selection is resolved against the assets when the job is compiled, so a selection of no
asset is refused before any run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.spec import TaskSpec
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, PrepareContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout

_ASSET_KEY = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$")


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{selection}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"selection", "pipeline_id", "full_refresh"})
    selection = body.get("selection", body.get("pipeline_id"))
    if selection is None:
        problems.append((ctx.at("selection"), "missing: asset keys like 'silver/orders' or a selection like 'group:bronze'"))
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


def prepare(task: TaskSpec, ctx: PrepareContext) -> dg.AssetSelection:
    """The task's selection, checked against the job's assets (it must select at least one)."""
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


def run(task_run: TaskRun) -> TaskOutcome:
    runtime, context, task = task_run.runtime, task_run.context, task_run.task

    def work() -> dict[str, Any]:
        result = dg.materialize(
            list(runtime.assets),
            selection=task_run.prepared,
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
    description="materialize a selection of the code location's assets in a child run",
)  # fmt: skip
