"""SparkResource(engine="sail"): the engine setting, its refusals, and a real run on Sail in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import SetupError, SpecError
from lakehouse_jobs.lib.runtime import sail
from lakehouse_jobs.lib.runtime.spark import ENGINE_ENV, SparkResource


@pytest.mark.parametrize(("field", "env", "engine"), [("spark", None, "spark"), ("spark", "sail", "sail"), ("sail", None, "sail"), ("sail", "spark", "sail")])
def test_the_field_wins_when_set_else_the_environment(monkeypatch: pytest.MonkeyPatch, field: str, env: str | None, engine: str):
    if env is None:
        monkeypatch.delenv(ENGINE_ENV, raising=False)
    else:
        monkeypatch.setenv(ENGINE_ENV, env)
    assert SparkResource(engine=field).resolved_engine() == engine


def test_an_unknown_engine_is_one_sentence(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENGINE_ENV, "duckdb")
    with pytest.raises(SetupError, match=r"^LAKEHOUSE_ENGINE must be 'spark', 'sail' or 'auto', got 'duckdb'\.$"):
        SparkResource().get_session()
    with pytest.raises(SetupError, match=r"^SparkResource.engine must be"):
        SparkResource(engine="jvm").get_session()


def test_a_client_sail_was_not_measured_with_is_refused_with_what_to_install(monkeypatch: pytest.MonkeyPatch):
    import pyspark

    monkeypatch.setattr(pyspark, "__version__", "3.4.1")
    with pytest.raises(SetupError, match=r"not pyspark 3\.4\.1: pip install pysail==0\.7\.2 'pyspark\[connect\]==4\.2\.0'\.$"):
        sail.check_versions()


def test_a_missing_pysail_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pysail", None)  # what `import pysail` meets when it is not installed
    with pytest.raises(SetupError, match=r"^The sail engine needs pysail, which is not installed: pip install pysail==0\.7\.2\.$"):
        sail.check_versions()


def test_sail_is_refused_in_a_process_running_the_jvm(spark):
    """PySpark's functions follow one process-wide Connect flag: a process mixing engines would break both."""
    with pytest.raises(SetupError, match=r"already runs the JVM engine's SparkSession"):
        SparkResource(engine="sail").get_session()


def test_sail_with_someone_elses_server_is_refused():
    with pytest.raises(SetupError, match=r"runs its own server \(embedded, or a job cluster\): leave SparkResource.remote unset\.$"):
        SparkResource(engine="sail", remote="sc://127.0.0.1:15002").get_session()


def test_a_sail_job_cluster_serves_parallel_tasks_and_the_next_run_warm_without_a_jvm(tmp_path: Path):
    """The job cluster on Sail: one `pysail spark server` process for both step processes of a run, kept
    warm for the next run (same server), no JVM anywhere, and gone once stopped."""
    from lakehouse_jobs.lib.runtime import job_cluster

    from .procs import log_tail, materialize, probes, run_env

    state_dir = tmp_path / "clusters"
    spark = {"job_cluster": True, "engine": "sail", "autotermination_minutes": 5, "cluster_state_dir": str(state_dir)}
    probe_file = tmp_path / "probes.jsonl"
    env = run_env(tmp_path / "lake", spark, LJ_PROBES=str(probe_file), LJ_PROBE_S="2")
    try:
        for run, select, executor in (("first", "probe_a,probe_b", "multiprocess"), ("second", "probe_a", "in_process")):
            log = tmp_path / f"{run}.log"
            assert materialize(select, {**env, "LJ_EXECUTOR": executor}, log).wait(timeout=300) == 0, log_tail(log)
            assert "Spark engine: sail (pysail 0.7.2, sc://127.0.0.1:" in log.read_text()
        records = [r for r in probes(probe_file) if "end" in r]
        assert len(records) == 3, records
        assert len({r["step_pid"] for r in records}) == 3  # two step processes, then the second run's process ...
        assert len({r["jvm_pid"] for r in records}) == 1  # ... on one server, warm for the second run
        server = records[0]["jvm_pid"]
        assert "lakehouse_jobs.lib.runtime.sail_cluster" in Path(f"/proc/{server}/cmdline").read_text()  # pysail, with the names
        assert not any(r["jvm_loaded"] or r["local_jvm"] for r in records) and all(r["rows"] == 1000 for r in records)
        assert "libjvm" not in Path(f"/proc/{server}/maps").read_text()
        (cluster,) = job_cluster.running(state_dir)
        assert cluster["leases"] == []  # both runs ended and released it: warm, idle
    finally:
        stopped = job_cluster.stop_all(state_dir)
    assert len(stopped) == 1 and not job_cluster.alive(server)


RUN = textwrap.dedent(
    """
    import sys, time
    import dagster as dg
    from lakehouse_jobs.lib.runtime.spark import SparkResource, ENGINE_TAG

    @dg.asset
    def orders(spark: SparkResource):
        session = spark.get_session()
        session.range(100).selectExpr("id", "id % 7 AS k").write.format("delta").save(sys.argv[1])
        return session.read.format("delta").load(sys.argv[1]).count()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([orders], resources={"spark": SparkResource()}, instance=instance)
    run = instance.get_run_by_id(result.run_id)
    print("TAG", run.tags.get(ENGINE_TAG), "ROWS", result.output_for_node("orders"), "JVM", "libjvm" in open("/proc/self/maps").read())
    for record in instance.all_logs(result.run_id):
        if "Spark engine:" in (record.user_message or ""):
            print("LOG", record.user_message)
    """
)


def test_a_run_on_sail_writes_delta_without_a_jvm_and_names_its_engine(tmp_path: Path):
    started = time.monotonic()
    env = {**os.environ, "LAKEHOUSE_ENGINE": "sail", "LAKEHOUSE_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "orders")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TAG sail ROWS 100 JVM False" in done.stdout
    assert "LOG Spark engine: sail (pysail 0.7.2, sc://127.0.0.1:" in done.stdout
    assert (tmp_path / "orders" / "_delta_log").is_dir()
    assert time.monotonic() - started < 60  # the run process exits: the session closes before the server stops


ON_SAIL = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from lakehouse_jobs.lib import IngestSpec, LakehouseResource, SparkResource, expect, ingestion_asset, medallion_asset

    @medallion_asset(layer="silver", name="numbers", expectations=[expect("small", "id < 2")])
    def numbers(spark):
        return spark.range(3)

    @medallion_asset(layer="gold", name="latest", write_mode="merge", merge_keys=["id"], refresh="incremental")
    def latest(silver_numbers):
        return silver_numbers

    bronze = ingestion_asset(IngestSpec(source="src", table="events", columns=["id"]))
    clicks = ingestion_asset(IngestSpec(source="clicks", table="clicks", format="json", columns=["id"]))

    @medallion_asset(layer="bronze", name="files", needs=["file_lineage"])
    def files(spark):
        return spark.read.text(sys.argv[1] + "/landing/src").selectExpr("input_file_name() AS file")
    resources = {"spark": SparkResource(), "lakehouse": LakehouseResource(root=sys.argv[1])}
    for _ in range(2):  # created, then overwritten
        result = dg.materialize([numbers], resources=resources)
        (check,) = result.get_asset_check_evaluations()
        print("WROTE", result.success, "CHECK", check.passed, check.metadata["violating_rows"].value, check.metadata["total_rows"].value)
    result = dg.materialize([numbers, latest], selection=[latest], resources=resources)
    (event,) = result.asset_materializations_for_node("gold__latest")
    print("INCREMENTAL", result.success, event.metadata["refresh"].value)
    for asset, node in ((bronze, "bronze__events"), (clicks, "bronze__clicks")):
        result = dg.materialize([asset], resources=resources)
        (event,) = result.asset_materializations_for_node(node)
        print("INGESTED", node, result.success, event.metadata["rows_ingested"].value)
    result = dg.materialize([files], resources=resources, raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    print("REFUSED", (error.cause or error).message.strip())
    """
)


def test_full_tables_run_on_sail_and_steps_needing_what_it_lacks_are_refused_before_writing(tmp_path: Path):
    """Sail refuses the change data feed property: a table is created without it (and runs, its expectations
    counted first: Sail has no df.observe); an incremental table runs (its feed read by delta-rs); a CSV
    ingestion runs (pyarrow parse, delta-rs commit), a JSON one too (json_lines.py); a step needing what Sail lacks
    (source-file lineage) is refused in one sentence before its session starts, naming the table, what is missing and
    the setting (docs/engines.md)."""
    from deltalake import DeltaTable

    (tmp_path / "landing/src").mkdir(parents=True)
    (tmp_path / "landing/src/a.csv").write_text("id\n1\n")
    (tmp_path / "landing/clicks").mkdir(parents=True)
    (tmp_path / "landing/clicks/a.json").write_text("{'id': 12345678901234567890123}\n")  # Jackson's dialect, beyond 64 bits
    env = {**os.environ, "LAKEHOUSE_ENGINE": "sail", "LAKEHOUSE_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", ON_SAIL, str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("WROTE")] == ["WROTE True CHECK False 1 3"] * 2  # counted without observe
    numbers = DeltaTable(str(tmp_path / "silver/numbers"))
    assert numbers.version() == 1 and sorted(numbers.to_pandas()["id"]) == [0, 1, 2]
    assert numbers.metadata().configuration.get("delta.enableChangeDataFeed") == "true"  # committed by delta-rs: the feed Sail cannot write
    assert "INCREMENTAL True full" in done.stdout  # an incremental table runs on Sail (tables/test_incremental.py: its refreshes)
    (bronze,) = [line.removeprefix("REFUSED ") for line in done.stdout.splitlines() if line.startswith("REFUSED ")]
    tail = f'which pysail {sail.PYSAIL_PIN} lacks (docs/engines.md); run it on the JVM engine: unset LAKEHOUSE_ENGINE or set SparkResource(engine="spark").'
    error = "lakehouse_jobs.lib.errors.SetupError: "
    assert bronze.startswith(error + "bronze/files cannot run on the sail engine: it needs source-file lineage") and bronze.endswith(tail)
    assert "INGESTED bronze__events True 1" in done.stdout and DeltaTable(str(tmp_path / "bronze/events")).to_pandas()["id"].tolist() == ["1"]
    assert "INGESTED bronze__clicks True 1" in done.stdout
    assert DeltaTable(str(tmp_path / "bronze/clicks")).to_pandas()["id"].tolist() == ["12345678901234567890123"]
    assert not (tmp_path / "bronze/files").exists()  # nothing written, not even a table folder


def test_the_features_a_step_needs_are_checked_by_name():
    from lakehouse_jobs.lib import medallion_asset

    with pytest.raises(ValueError, match="unknown engine features"):
        SparkResource().require("silver/x", ["time_machine"])
    with pytest.raises(SpecError, match=r"needs\[0\].*'time_machine' is not an engine feature; known: .*file_lineage"):
        medallion_asset(layer="silver", needs=["time_machine"])
    SparkResource(engine="spark").require("bronze/x", ["file_lineage"])  # the JVM has it all


TASK_ON_SAIL = textwrap.dedent(
    """
    import dagster as dg
    from lakehouse_jobs_tests.jobs.jobrun import run_spec, task

    spec = {"name": "on_sail", "tasks": [task("history", {"notebook_task": {"notebook_path": "./history"}})]}
    with dg.instance_for_test() as instance:
        result = run_spec(instance, spec)
    print("STATE", result.states["history"])
    print("ERROR", result.outputs["history"]["error"])
    """
)


def test_a_task_failing_on_sail_names_the_engine_and_the_setting_that_runs_it_on_the_jvm(tmp_path: Path):
    """A statement Sail cannot run (a USING join's column named through an alias) that the reading of the task's code
    cannot see (built at run time: jobs/source_needs.py reads literals) fails its notebook cell as usual, and the
    task's error says it ran on Sail and how to run it on the JVM (issue #19's bad input)."""
    (tmp_path / "history.py").write_text(
        "# Databricks notebook source\n"
        f"spark.range(2).write.format('delta').save('{tmp_path / 't'}')\n"
        "# COMMAND ----------\n"
        f"join = 'JOIN range(2) r ' + 'USING (id)'\n"
        f"spark.sql('SELECT l.id FROM delta.`{tmp_path / 't'}` l ' + join).collect()\n"
    )
    repo = str(Path(__file__).resolve().parents[2])  # the job helpers of the tests
    env = {**os.environ, "LAKEHOUSE_ENGINE": "sail", "LAKEHOUSE_ROOT": str(tmp_path / "lake"), "PYTHONPATH": repo}
    done = subprocess.run([sys.executable, "-c", TASK_ON_SAIL], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (error,) = [line.removeprefix("ERROR ") for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    assert "STATE FAILED" in done.stdout
    assert error.startswith(f"notebook {tmp_path / 'history.py'}, cell 2 (line 5): ") and "cannot resolve attribute" in error
    assert error.endswith(
        f"(it ran on the sail engine, pysail {sail.PYSAIL_PIN}, which lacks some of Spark: docs/engines.md; "
        'run it on the JVM engine: unset LAKEHOUSE_ENGINE or set SparkResource(engine="spark"))'
    )


NAMES_ON_A_CLUSTER = textwrap.dedent(
    """
    import sys
    from lakehouse_jobs.lib.runtime.spark import SparkResource

    spark = SparkResource(engine="sail", job_cluster=True, cluster_state_dir=sys.argv[1], autotermination_minutes=5).get_session()
    spark.sql("CREATE SCHEMA IF NOT EXISTS silver")
    spark.range(3).write.format("delta").saveAsTable("main.silver.numbers")
    spark.sql("INSERT INTO silver.numbers VALUES (3)")
    print("ROWS", sorted(r[0] for r in spark.table("main.silver.numbers").collect()))
    print("TABLES", [r.tableName for r in spark.sql("SHOW TABLES IN silver").collect()])
    """
)


def test_a_sail_job_cluster_resolves_and_writes_table_names_by_the_naming_rule(tmp_path: Path):
    """The cluster's server is another process: it serves the run's root as its catalog itself (runtime/sail_cluster.py),
    so a notebook's names resolve there as on the embedded server, the tables landing in the root's folders."""
    from deltalake import DeltaTable

    from lakehouse_jobs.lib.runtime import job_cluster

    state_dir, root = tmp_path / "clusters", tmp_path / "lake"
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root)}
    try:
        done = subprocess.run([sys.executable, "-c", NAMES_ON_A_CLUSTER, str(state_dir)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "ROWS [0, 1, 2, 3]" in done.stdout and "TABLES ['numbers']" in done.stdout, done.stdout
        (cluster,) = job_cluster.running(state_dir)
        assert "lakehouse_jobs.lib.runtime.sail_cluster" in Path(f"/proc/{cluster['jvm_pid']}/cmdline").read_text()
    finally:
        job_cluster.stop_all(state_dir)
    assert sorted(DeltaTable(str(root / "silver" / "numbers")).to_pandas()["id"]) == [0, 1, 2, 3]  # by the naming rule
