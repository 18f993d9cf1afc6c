"""SparkResource settings: job-cluster shape, remote URLs, one session per process, the driver JVM's flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import SetupError
from lakehouse_jobs.lib.runtime.jvm_options import JIT_ENV, driver_java_options
from lakehouse_jobs.lib.runtime.spark import SparkResource, active_session, process_session


def test_num_workers_sets_the_job_cluster_cores_and_spark_conf_wins():
    resource = SparkResource(job_cluster=True, num_workers=3, spark_conf={"spark.sql.shuffle.partitions": "7"})
    conf = resource.conf()
    assert conf["spark.master"] == "local[3]"
    assert conf["spark.sql.shuffle.partitions"] == "7"
    assert conf["spark.sql.extensions"].split(",")[0] == "io.delta.sql.DeltaSparkSessionExtension"  # then the catalog plugin's
    assert SparkResource(num_workers=3).conf()["spark.master"] == "local[*]"  # only shapes job clusters


def test_cluster_spec_mirrors_new_cluster_settings():
    spec = SparkResource(job_cluster=True, spark_env_vars={"TZ": "UTC"}, autotermination_minutes=2).cluster_spec()
    assert spec.env == {"TZ": "UTC"}
    assert spec.autotermination_s == 120
    assert any("delta-spark" in jar for jar in spec.jars)


@pytest.mark.parametrize("bad", ["spark://127.0.0.1:7077", "http://127.0.0.1:15002"])
def test_remote_must_be_a_spark_connect_url(bad: str):
    with pytest.raises(SetupError, match=r"sc://127\.0\.0\.1:15002"):
        SparkResource(remote=bad).get_session()


def test_job_cluster_in_a_process_with_a_classic_session_shares_it(spark, tmp_path: Path):
    """Tests share one classic JVM; a job-cluster resource there must not start a second one."""
    resource = SparkResource(job_cluster=True, cluster_state_dir=str(tmp_path / "clusters"))
    assert resource.get_session() is spark
    assert active_session() is spark and process_session() is spark
    assert not (tmp_path / "clusters").exists()


def test_exit_skips_the_final_collections_after_the_shutdown_hooks_ran():
    """A process that imported lakehouse_jobs freezes its heap at exit: after the hooks registered
    later (stop_session is one), before those registered earlier (logging's flush is one)."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('last', gc.get_freeze_count() > 0))\n"
        "import lakehouse_jobs.lib.runtime.spark\n"
        "atexit.register(lambda: print('first', gc.get_freeze_count() > 0))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["first False", "last True"]


def test_the_driver_runs_the_parallel_collector(spark):
    """G1's concurrent threads compete with Spark's tasks on small machines; the driver uses the throughput collector."""
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    assert {bean.getName() for bean in beans} == {"PS Scavenge", "PS MarkSweep"}


@pytest.mark.parametrize("variable", ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"])
def test_a_collector_chosen_in_the_java_environment_wins(monkeypatch: pytest.MonkeyPatch, variable: str):
    """Two collectors make the JVM refuse to start: ours steps back."""
    assert "-XX:+UseParallelGC" in driver_java_options()
    monkeypatch.setenv(variable, "-Xss4m -XX:+UseG1GC")
    options = driver_java_options()
    assert "UseParallelGC" not in options and options.startswith("-Dlog4j2.configurationFile=")


def test_the_suite_runs_the_driver_with_the_quick_jit_and_a_wrong_value_is_refused(spark, monkeypatch: pytest.MonkeyPatch):
    """LAKEHOUSE_JVM_JIT=quick (set by the conftest) reaches the JVM; full, the default, leaves the JIT alone."""
    arguments = list(spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:TieredStopAtLevel=1" in arguments
    monkeypatch.delenv(JIT_ENV)
    assert "TieredStopAtLevel" not in driver_java_options()
    monkeypatch.setenv(JIT_ENV, "fast")
    with pytest.raises(SetupError, match="LAKEHOUSE_JVM_JIT='fast': expected 'full' or 'quick'"):
        driver_java_options()


def test_delta_is_the_default_table_format_as_on_databricks(spark, tmp_path: Path):
    """Notebooks and SQL files omit USING DELTA: a path table replaced by CTAS is a Delta table."""
    path = tmp_path / "t"
    spark.sql(f"CREATE OR REPLACE TABLE delta.`{path}` AS SELECT 1 AS x")
    spark.sql(f"CREATE OR REPLACE TABLE delta.`{path}` AS SELECT 2 AS x")
    assert (path / "_delta_log").is_dir()
    assert [r.x for r in spark.read.format("delta").load(str(path)).collect()] == [2]
