"""Compiled Dagster definitions, and pipeline tasks that materialize lakehouse assets."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import build_definitions, compile_job, load_spec
from lakehouse_jobs.lib.jobs.compile import RESULT_OP, STEP_CONFIG
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS

from .jobrun import py, read_run, task

CALLS: list[str] = []


@dg.asset(key=["bronze", "things"], group_name="bronze")
def things() -> None:
    CALLS.append("bronze/things")


@dg.asset(key=["silver", "things"], deps=[things], group_name="silver")
def silver_things() -> None:
    CALLS.append("silver/things")


@dg.asset(key=["gold", "broken"], group_name="gold")
def broken() -> None:
    raise ValueError("broken asset")


ASSETS = [things, silver_things, broken]


def test_definitions_jobs_ops_and_executor():
    doc = load_spec({"resources": {"jobs": {
        "a-job": {"name": "A", "tags": {"team": "data"}, "timeout_seconds": 60, "tasks": [task("t-1", py("ok", "/dev/null")), task("t_1", py("ok", "/dev/null"), "t-1")]},
        "b": {"tasks": [task("only", py("ok", "/dev/null"))]},
    }}})  # fmt: skip
    defs = build_definitions(doc)
    job = defs.resolve_job_def("a_job")
    assert {node.name for node in job.graph.nodes} == {"t_1", "t_1_2", RESULT_OP}
    assert job.tags["team"] == "data" and job.tags["lakehouse_jobs/job_key"] == "a-job" and job.tags["dagster/max_runtime"] == "60"
    assert job.executor_def.config_schema.default_provided or job.executor_def.name == "lakehouse_jobs_in_process"
    assert defs.resolve_job_def("b").name == "b"
    dg.Definitions.validate_loadable(defs)
    assert STEP_CONFIG["step_dependency_config"]["require_upstream_step_success"] is False


def test_pipeline_task_materializes_the_selection():
    CALLS.clear()
    with dg.instance_for_test() as instance:
        with dg.execute_job(dg.build_reconstructable_job(__name__, "_assets_job"), instance, raise_on_error=False) as result:
            run = read_run(instance, result.run_id, ["bronze", "silver", "gold"])
        assert run.states == {"bronze": SUCCESS, "silver": SUCCESS, "gold": FAILED}
        assert CALLS == ["bronze/things", "silver/things"]
        assert "broken asset" in run.outputs["gold"]["error"]
        assert run.outputs["silver"]["materialized"] == ["silver/things"]
        # the assets' own runs are in the instance, so the UI shows their lineage and history
        assert instance.get_latest_materialization_event(dg.AssetKey(["silver", "things"])) is not None


def _assets_job() -> dg.JobDefinition:
    spec = {"name": "assets", "tasks": [
        task("bronze", {"pipeline_task": {"selection": "group:bronze"}}),
        task("silver", {"pipeline_task": {"selection": ["silver/things"]}}, "bronze"),
        task("gold", {"pipeline_task": {"selection": "gold/broken"}}, "silver"),
    ]}  # fmt: skip
    return compile_job(load_spec(spec).job(), assets=ASSETS)


def test_selection_that_selects_nothing_is_refused():
    spec = {"name": "assets", "tasks": [task("x", {"pipeline_task": {"selection": "group:platinum"}})]}
    with pytest.raises(SpecError, match=r"assets.tasks\[0\].pipeline_task.selection"):
        compile_job(load_spec(spec).job(), assets=ASSETS)
    with pytest.raises(SpecError, match="no assets were given"):
        compile_job(load_spec(spec).job())


def _medallion_job() -> dg.JobDefinition:
    from lakehouse_jobs.defs import orders
    from lakehouse_jobs.lib import LakehouseResource, SparkResource

    spec = {"name": "lake", "tasks": [task("bronze_orders", {"pipeline_task": {"selection": "bronze/orders"}})]}
    resources = {"spark": SparkResource(), "lakehouse": LakehouseResource(root=os.environ["LAKEHOUSE_ROOT"])}
    return compile_job(load_spec(spec).job(), assets=dg.load_assets_from_modules([orders]), resources=resources)


def test_medallion_assets_on_spark(spark, sample_lakehouse, monkeypatch):
    """The example lakehouse's bronze orders table, built by a job task on the shared SparkSession."""
    monkeypatch.setenv("LAKEHOUSE_ROOT", sample_lakehouse.root)
    with dg.instance_for_test() as instance:
        with dg.execute_job(dg.build_reconstructable_job(__name__, "_medallion_job"), instance, raise_on_error=False) as result:
            run = read_run(instance, result.run_id, ["bronze_orders"])
    assert run.states == {"bronze_orders": SUCCESS}, run.outputs
    assert run.outputs["bronze_orders"]["materialized"] == ["bronze/orders"]
    assert spark.read.format("delta").load(str(sample_lakehouse.table_path("bronze", "orders"))).count() > 0
