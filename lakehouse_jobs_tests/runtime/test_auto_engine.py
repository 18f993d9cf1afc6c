"""LAKEHOUSE_ENGINE=auto: a run goes to Sail when every step is a table step Sail runs, else to the JVM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.lib.runtime import auto_engine
from lakehouse_jobs.lib.tags import ENGINE, ENGINE_NEEDS, TABLE, WRITER
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
    assert clickstream.bronze_clickstream.op.tags[ENGINE_NEEDS] == ""  # JSON lines: parsed as the JVM parses them on Sail
    assert auto_engine.choose(_steps(orders.bronze_orders, orders.silver_orders, orders.gold_daily_revenue)).engine == "sail"
    assert auto_engine.choose(_steps(clickstream.bronze_clickstream, orders.silver_orders)).engine == "sail"
    dbt = auto_engine.choose(_steps(orders.silver_orders, dbt_marts))
    assert dbt.engine == "spark" and "step dbt_marts is neither a table step nor a task whose code is read before the run" in dbt.reason
    assert auto_engine.choose([]).engine == "spark"


def test_a_step_writing_a_table_with_the_change_data_feed_with_spark_goes_to_the_jvm(tmp_path: Path):
    """Sail cannot write such a table (every table a JVM run wrote): medallion writes and ingestion commit it with
    delta-rs there (op tag WRITER), a step writing it with Spark's writer (AUTO CDC) runs on the JVM, saying why."""
    import pandas as pd
    from deltalake import write_deltalake

    from lakehouse_jobs.lib.tables.cdc import changes_asset

    write_deltalake(str(tmp_path / "silver" / "t"), pd.DataFrame({"id": [1]}), configuration={"delta.enableChangeDataFeed": "true"})

    @changes_asset(layer="silver", name="t", source="bronze/events", keys=["id"], sequence_by="id")
    def cdc(events):
        return events

    assert WRITER not in cdc.op.tags and cdc.op.tags[TABLE] == "silver/t"
    choice = auto_engine.choose([("silver__t", dict(cdc.op.tags))], tmp_path)
    assert choice.engine == "spark" and choice.reason == (
        "auto: step silver__t writes silver/t, a table with the change data feed (a JVM run wrote it), which Sail cannot write"
    )
    assert auto_engine.choose([("silver__t", {**cdc.op.tags, WRITER: "delta-rs"})], tmp_path).engine == "sail"
    assert auto_engine.choose([("silver__t", dict(cdc.op.tags))], tmp_path / "elsewhere").engine == "sail"  # no such table yet


@pytest.mark.parametrize("needs", ["", "file_lineage"])
def test_user_op_tags_are_kept_beside_the_engine_tag(needs: str):
    from lakehouse_jobs.lib import medallion_asset

    @medallion_asset(layer="silver", name="tagged", op_tags={"team": "x"})
    def tagged(spark):
        return spark.range(1)

    assert tagged.op.tags["team"] == "x" and tagged.op.tags[ENGINE_NEEDS] == "" and tagged.op.tags[WRITER] == "delta-rs"
    lacking = auto_engine.choose([("s", {ENGINE_NEEDS: needs})]).engine
    assert lacking == ("spark" if needs else "sail")


def test_engines_take_turns_on_one_lakehouse_with_the_oracles_tables(tmp_path: Path):
    """Runs as the daemon launches them (a process each), the engines taking turns on the same tables: bronze begun on
    the JVM and continued by `auto` arrival runs on Sail (delta-rs appends, exactly once); silver + gold made on Sail
    (committed by delta-rs, with the change data feed Sail itself cannot write), refreshed incrementally on the JVM
    (its change data feed over delta-rs' commits), then incrementally on Sail again. The tables equal the pandas oracle."""
    root = tmp_path / "lake"
    parts = sorted((LANDING / "orders").glob("*.csv"))
    (root / "landing" / "orders").mkdir(parents=True)
    header, *lines = parts[2].read_text().splitlines(keepends=True)
    parts[2:] = [tmp_path / "part-0002a.csv", tmp_path / "part-0002b.csv"]  # the last file in two arrivals
    for part, half in zip(parts[2:], (lines[: len(lines) // 2], lines[len(lines) // 2 :]), strict=True):
        part.write_text(header + "".join(half))
    env = run_env(root, {}, LAKEHOUSE_ENGINE="auto", LJ_EXECUTOR="in_process")
    jvm = {**env, "LAKEHOUSE_ENGINE": "spark"}
    arrival, refresh = "bronze/orders", "silver/orders,gold/daily_revenue"
    runs = (("bronze-jvm", arrival, jvm, parts[0]), ("arrival-1", arrival, env, parts[1]), ("refresh-sail", refresh, env, None),
            ("arrival-2", arrival, env, parts[2]), ("refresh-jvm", refresh, jvm, None), ("arrival-3", arrival, env, parts[3]),
            ("refresh-auto", refresh, env, None))  # fmt: skip
    for name, select, run, part in runs:
        if part is not None:
            shutil.copy(part, root / "landing" / "orders")
        log = tmp_path / f"{name}.log"
        assert materialize(select, run, log).wait(timeout=600) == 0, log_tail(log)
    assert "Spark engine: sail (pysail 0.7.2, sc://127.0.0.1:" in (tmp_path / "arrival-1.log").read_text()
    assert "auto: all 2 step(s) of the run are table steps or tasks whose code uses nothing Sail lacks" in (tmp_path / "refresh-sail.log").read_text()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)
        assert [r.dagster_run.tags.get(ENGINE) for r in records] == ["spark", "sail", "sail", "sail", "spark", "sail", "sail"]
        assert [_silver_refresh(instance, r.dagster_run.run_id) for r in records[2::2]] == ["full", "incremental", "incremental"]
    for table in ("silver/orders", "gold/daily_revenue"):
        log = DeltaTable(str(root / table))
        assert log.metadata().configuration.get("delta.enableChangeDataFeed") == "true"  # as on the JVM
        assert log.history(1)[0]["engineInfo"].startswith("delta-rs"), table  # the last refresh: Sail's, committed by delta-rs
    engines = [json.loads(line)["commitInfo"].get("engineInfo", "") for f in sorted((root / "bronze" / "orders" / "_delta_log").glob("*.json"))
               for line in f.read_text().splitlines() if line.startswith('{"commitInfo"')]  # fmt: skip
    assert engines[0].startswith("Apache-Spark") and engines[-1].startswith("delta-rs"), engines
    oracle.assert_orders_tables_match(root)


def _silver_refresh(instance: dg.DagsterInstance, run_id: str) -> str:
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.dagster_event.event_specific_data.materialization
        if materialization.asset_key == dg.AssetKey(["silver", "orders"]):
            return materialization.metadata["refresh"].value
    return "none"
