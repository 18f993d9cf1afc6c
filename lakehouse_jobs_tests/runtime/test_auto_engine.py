"""LAKEHOUSE_ENGINE=auto: a run goes to Sail when every step is a table step Sail runs, else to the JVM."""

from __future__ import annotations

import json
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
    from lakehouse_jobs.defs import clickstream, orders
    from lakehouse_jobs.defs.dbt import dbt_marts

    assert orders.silver_orders.op.tags[ENGINE_NEEDS] == ""  # a table step needing nothing Sail lacks
    assert orders.bronze_orders.op.tags[ENGINE_NEEDS] == ""  # CSV ingestion: parsed by pyarrow, committed by delta-rs on Sail
    assert clickstream.bronze_clickstream.op.tags[ENGINE_NEEDS] == "spark_json"
    assert auto_engine.choose(_steps(orders.bronze_orders, orders.silver_orders, orders.gold_daily_revenue)).engine == "sail"
    json = auto_engine.choose(_steps(clickstream.bronze_clickstream, orders.silver_orders))
    assert json.engine == "spark" and json.reason.startswith("auto: step bronze__clickstream needs Spark's JSON parsing")
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


def test_csv_arrivals_and_refreshes_go_to_sail_onto_a_table_the_jvm_began_with_the_oracles_tables(tmp_path: Path):
    """Runs as the daemon launches them (a process each): the first part of orders ingested on the JVM
    (LAKEHOUSE_ENGINE=spark), the rest by an `auto` arrival run on Sail (delta-rs appends to the JVM's
    table, exactly once), then silver + gold on Sail; the tables equal the pandas oracle."""
    root = tmp_path / "lake"
    parts = sorted((LANDING / "orders").glob("*.csv"))
    (root / "landing" / "orders").mkdir(parents=True)
    shutil.copy(parts[0], root / "landing" / "orders")
    env = run_env(root, {}, LAKEHOUSE_ENGINE="auto", LJ_EXECUTOR="in_process")
    runs = (
        ("first", "bronze/orders", {**env, "LAKEHOUSE_ENGINE": "spark"}),
        ("arrival", "bronze/orders", env),
        ("refresh", "silver/orders,gold/daily_revenue", env),
    )
    for name, select, run in runs:
        log = tmp_path / f"{name}.log"
        assert materialize(select, run, log).wait(timeout=600) == 0, log_tail(log)
        for part in parts[1:]:
            shutil.copy(part, root / "landing" / "orders")
    assert "Spark engine: sail (pysail 0.7.2, sc://127.0.0.1:" in (tmp_path / "arrival.log").read_text()
    assert "auto: all 2 step(s) of the run are table steps Sail runs" in (tmp_path / "refresh.log").read_text()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        engines = [r.dagster_run.tags.get(ENGINE) for r in sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)]
    assert engines == ["spark", "sail", "sail"]
    operations = [json.loads(line)["commitInfo"].get("engineInfo", "") for f in sorted((root / "bronze" / "orders" / "_delta_log").glob("*.json"))
                  for line in f.read_text().splitlines() if line.startswith('{"commitInfo"')]  # fmt: skip
    assert operations[0].startswith("Apache-Spark") and operations[-1].startswith("delta-rs"), operations
    oracle.assert_orders_tables_match(root)
