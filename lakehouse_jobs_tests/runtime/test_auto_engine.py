"""LAKEHOUSE_ENGINE=auto: a run goes to Sail when every step is a table step Sail runs, else to the JVM."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.runtime import auto_engine
from lakehouse_jobs.lib.tags import ENGINE, ENGINE_NEEDS
from lakehouse_jobs_tests import oracle

from .procs import log_tail, materialize, run_env

LANDING = Path(__file__).resolve().parents[2] / "data" / "landing"


def _steps(*assets: dg.AssetsDefinition) -> list[tuple[str, dict[str, str]]]:
    return [(a.op.name, dict(a.op.tags)) for a in assets]


def test_the_choice_reads_the_steps_tags():
    from lakehouse_jobs.defs import orders
    from lakehouse_jobs.defs.dbt import dbt_marts

    assert orders.silver_orders.op.tags[ENGINE_NEEDS] == ""  # a table step needing nothing Sail lacks
    assert orders.bronze_orders.op.tags[ENGINE_NEEDS] == "idempotent_commits,file_lineage"
    assert auto_engine.choose(_steps(orders.silver_orders, orders.gold_daily_revenue)).engine == "sail"
    bronze = auto_engine.choose(_steps(orders.bronze_orders, orders.silver_orders))
    assert bronze.engine == "spark" and bronze.reason.startswith("auto: step bronze__orders needs idempotent Delta commits")
    dbt = auto_engine.choose(_steps(orders.silver_orders, dbt_marts))
    assert dbt.engine == "spark" and "step dbt_marts is not one of the project's table steps" in dbt.reason
    assert auto_engine.choose([]).engine == "spark"


@pytest.mark.parametrize("needs", ["", "file_lineage"])
def test_user_op_tags_are_kept_beside_the_engine_tag(needs: str):
    from lakehouse_jobs.lib import medallion_asset

    @medallion_asset(layer="silver", name="tagged", op_tags={"team": "x"})
    def tagged(spark):
        return spark.range(1)

    assert tagged.op.tags["team"] == "x" and tagged.op.tags[ENGINE_NEEDS] == ""
    lacking = auto_engine.choose([("s", {ENGINE_NEEDS: needs})]).engine
    assert lacking == ("spark" if needs else "sail")


def test_arrival_runs_stay_on_the_jvm_and_refresh_runs_go_to_sail_with_the_oracles_tables(tmp_path: Path):
    """Two runs as the daemon launches them (a process each): bronze (ingestion) on the JVM, then silver + gold on Sail."""
    root = tmp_path / "lake"
    shutil.copytree(LANDING / "orders", root / "landing" / "orders")
    env = run_env(root, {}, LAKEHOUSE_ENGINE="auto", LJ_EXECUTOR="in_process")
    for name, select in (("arrival", "bronze/orders"), ("refresh", "silver/orders,gold/daily_revenue")):
        log = tmp_path / f"{name}.log"
        assert materialize(select, env, log).wait(timeout=600) == 0, log_tail(log)
    assert "Spark engine: spark (local[*]; auto: step bronze__orders needs idempotent Delta commits" in (tmp_path / "arrival.log").read_text()
    assert "Spark engine: sail (pysail 0.7.2, sc://127.0.0.1:" in (tmp_path / "refresh.log").read_text()
    assert "auto: all 2 step(s) of the run are table steps Sail runs" in (tmp_path / "refresh.log").read_text()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        engines = [r.dagster_run.tags.get(ENGINE) for r in sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)]
    assert engines == ["spark", "sail"]
    oracle.assert_orders_tables_match(root)
