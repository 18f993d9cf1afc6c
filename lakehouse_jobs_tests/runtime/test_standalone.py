"""Remote compute: the example pipeline on a real Spark standalone cluster (master + 2 workers).

The cluster-mode run happens in its own process (a driver of its own, as a run
launched by the daemon would have); the local reference is the example graph's
run in the test process's shared session (conftest `example`, computed once for
the files of its xdist group). Both must produce the same tables.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import functions as F

from lakehouse_jobs.definitions import medallion_assets
from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.tables.delta_io import read_delta
from lakehouse_jobs_tests.example_run import ExampleRun

from .procs import log_tail, materialize, run_env, wait_for

SPARK_CLASS = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-class")


def _daemon(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([SPARK_CLASS, *args], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, preexec_fn=job_cluster._die_with_parent)


@pytest.fixture
def standalone_master(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A master and two 1-core workers, everything bound to 127.0.0.1; yields (url, master log)."""
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_HOME": os.path.dirname(pyspark.__file__),
    }
    port = job_cluster.free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log = tmp_path / "master.log"
    daemons = [_daemon(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"], master_log, env)]
    try:
        wait_for(lambda: job_cluster.port_open(port), 180, "the standalone master")
        for index in range(2):
            work = tmp_path / f"worker{index}"
            work.mkdir()
            daemons.append(
                _daemon(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "1g",
                        "--webui-port",
                        "0",
                        "--work-dir",
                        str(work),
                    ],
                    tmp_path / f"worker{index}.log",
                    env,
                )
            )
        wait_for(lambda: master_log.read_text().count("Registering worker") >= 2, 180, "two workers to register")
        yield url, master_log
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def _rows(spark, root: str, table: str) -> list[tuple]:
    """A table's rows, minus what legitimately differs between runs: ingestion time, the root
    folder, and past bronze which file an identical re-sent duplicate came from (the example's
    event dedup has no tie-breaker for copies ingested together)."""
    df = read_delta(spark, Path(root) / table)
    if "_ingested_at" in df.columns:
        df = df.drop("_ingested_at")
    if "_source_file" in df.columns and not table.startswith("bronze/"):
        df = df.drop("_source_file")
    elif "_source_file" in df.columns:
        df = df.withColumn("_source_file", F.regexp_extract("_source_file", r"([^/]+)$", 1))
    return sorted((tuple(row) for row in df.collect()), key=repr)


def test_the_example_on_a_standalone_cluster_builds_the_same_tables_as_local(standalone_master, example: ExampleRun, spark, tmp_path: Path):
    url, master_log = standalone_master
    cluster_root = tmp_path / "cluster_lake"
    shutil.copytree(example.root / "landing", cluster_root / "landing")
    settings = {
        "master": url,
        "app_name": "lakehouse_jobs_standalone_test",
        "spark_conf": {"spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2"},
    }
    log = tmp_path / "cluster_run.log"
    tables = sorted(key.to_user_string() for asset in medallion_assets for key in asset.keys)
    run = materialize(",".join(tables), run_env(cluster_root, settings, LJ_EXECUTOR="in_process"), log)
    assert run.wait(timeout=900) == 0, log_tail(log)

    assert "Registering app lakehouse_jobs_standalone_test" in master_log.read_text()
    executors = re.findall(r"Launching executor \S+ on worker", master_log.read_text())
    assert len(executors) == 2, master_log.read_text()[-2000:]  # one per worker
    assert len(tables) >= 9
    for table in tables:
        expected = _rows(spark, str(example.root), table)
        assert expected, table
        assert _rows(spark, str(cluster_root), table) == expected, table
