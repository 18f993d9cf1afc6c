"""A pipeline's datasets as Dagster assets: one multi-asset runs one update.

Each persisted dataset (materialized view, streaming table) is an asset keyed by its table name
(naming.py: `main.silver.orders` -> `silver/orders`), its deps are the tables its queries read
(through temporary views), its expectations are asset checks (`expect_or_fail` ones blocking),
and its metadata is what medallion assets carry (row count, schema, path, Delta version).
Materializing any of them runs the whole update (a Databricks update refreshes every dataset
unless a selection is given); `full_refresh` is the op's config.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib.pipelines.graph import PipelineGraph
from lakehouse_jobs.lib.pipelines.runner import UpdateFailed, asset_key, run_update
from lakehouse_jobs.lib.pipelines.sources import load_graph
from lakehouse_jobs.lib.pipelines.spec import PipelineSpec, pipeline_spec
from lakehouse_jobs.lib.runtime.output import captured
from lakehouse_jobs.lib.tables.expectations import check_specs


class PipelineUpdateConfig(dg.Config):
    full_refresh: bool = False


def op_name(key: str) -> str:
    return "pipeline_" + "".join(c if c.isalnum() or c == "_" else "_" for c in key)


def _specs(graph: PipelineGraph, spec: PipelineSpec) -> tuple[list[dg.AssetSpec], list[dg.AssetCheckSpec]]:
    assets, checks = [], []
    for dataset in graph.order():
        if not dataset.persisted:
            continue
        key = asset_key(dataset.name)
        external = {n for n in dataset.reads if n not in graph.datasets}
        deps = sorted({asset_key(n) for n in graph.persisted_upstream(dataset) | external}, key=lambda k: k.to_user_string())
        assets.append(
            dg.AssetSpec(
                key=key, deps=deps, description=dataset.comment, group_name=op_name(spec.key), kinds={"spark", "delta", "pipeline"},
                metadata={"dagster/table_name": dataset.name.qualified, "pipeline": spec.key, "defined_at": dataset.where},
                skippable=True,
            )
        )  # fmt: skip
        checks.extend(check_specs(key, dataset.expectations))
    return assets, checks


def pipeline_assets(pipeline_key: str, spec_dict: Mapping[str, Any], base_dir: str | Path | None = None) -> list[dg.AssetsDefinition]:
    """The datasets of `resources.pipelines.<pipeline_key>` as one multi-asset (an update per run)."""
    spec = pipeline_spec(pipeline_key, spec_dict, base_dir)
    graph = load_graph(spec)
    specs, checks = _specs(graph, spec)
    if not specs:
        return []

    @dg.multi_asset(
        name=op_name(pipeline_key), specs=specs, check_specs=checks, required_resource_keys={"spark", "lakehouse"},
        description=f"Lakeflow pipeline {spec.name!r}: one update of its datasets", can_subset=False,
    )  # fmt: skip
    def _update(context: dg.AssetExecutionContext, config: PipelineUpdateConfig):
        spark = context.resources.spark.get_session()
        lakehouse = context.resources.lakehouse
        failure = None
        try:
            with captured(context.log.info):  # print() in pipeline code reaches the step's log
                result = run_update(spec, spark, lakehouse, full_refresh=config.full_refresh, context=context, log=context.log.info)
        except UpdateFailed as exc:
            result, failure = exc.result, exc
        done_checks = set()
        for name, dataset in result.datasets.items():
            if not dataset.metadata:  # the dataset that failed: its checks only
                continue
            yield dg.MaterializeResult(asset_key=asset_key(name), metadata=dataset.metadata)
            for check in dataset.checks:
                done_checks.add((check.asset_key, check.check_name))
                yield check
        if failure is not None:
            failed = failure.failed
            for check in failed.checks if failed else []:
                if (check.asset_key, check.check_name) not in done_checks:
                    yield check
            raise dg.Failure(description=str(failure), allow_retries=False)

    return [_update]


def update_run_config(pipeline_key: str, full_refresh: bool) -> dict[str, Any]:
    return {"ops": {op_name(pipeline_key): {"config": {"full_refresh": bool(full_refresh)}}}}
