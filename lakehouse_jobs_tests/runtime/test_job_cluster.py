"""Job clusters: one Spark Connect server per run, shared by parallel tasks, never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pyspark

from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
from lakehouse_jobs.lib.runtime.spark import SparkResource

from .procs import log_tail, materialize, probes, run_env, wait_for

SPARK_HOME = os.path.dirname(pyspark.__file__)


def _gone(*pids: int) -> bool:
    return not any(job_cluster.alive(pid) for pid in pids)


def _spark(tmp_path: Path, **fields: object) -> dict:
    return {"job_cluster": True, "num_workers": 2, "cluster_state_dir": str(tmp_path / "clusters"), **fields}


# ------------------------------------------------------------------ pure parts


def test_server_listens_on_loopback_only_with_delta():
    command = job_cluster.server_command("/spark", {"spark.sql.extensions": "x", "spark.jars": "ignored"}, ("/a.jar",), 4242)
    assert command[:3] == ["/spark/bin/spark-submit", "--class", job_cluster.CONNECT_SERVER_CLASS]
    assert "spark.connect.grpc.binding.address=127.0.0.1" in command
    assert "spark.connect.grpc.binding.port=4242" in command
    assert command[command.index("--jars") + 1] == "/a.jar"
    assert not any(arg.startswith("spark.jars=") for arg in command)


def test_per_run_clusters_are_private_and_reusable_ones_shared():
    per_run = job_cluster.ClusterSpec(conf={"a": "1"})
    assert per_run.key("run1") != per_run.key("run2")
    shared = job_cluster.ClusterSpec(conf={"a": "1"}, autotermination_s=60)
    assert shared.key("run1") == shared.key("run2")
    assert shared.key("run1") != job_cluster.ClusterSpec(conf={"a": "2"}, autotermination_s=60).key("run1")


def test_leases_of_finished_runs_are_dropped(tmp_path: Path):
    (tmp_path / "leases").mkdir()
    finished = subprocess.Popen(["true"])
    finished.wait()
    job_cluster.write_json(tmp_path / "leases" / "old.json", {"pid": finished.pid, "start": "1"})
    job_cluster.write_json(tmp_path / "leases" / "live.json", {"pid": os.getpid(), "start": job_cluster.proc_start(os.getpid())})
    job_cluster.write_json(tmp_path / "leases" / "reused.json", {"pid": os.getpid(), "start": "0"})  # same pid, other process
    assert job_cluster.live_leases(tmp_path) == ["live"]
    assert sorted(p.name for p in (tmp_path / "leases").iterdir()) == ["live.json"]


# ------------------------------------------------------------------ real servers


def test_parallel_tasks_share_one_server_that_stops_when_the_run_ends(tmp_path: Path):
    probe_file = tmp_path / "probes.jsonl"
    env = run_env(tmp_path / "lake", _spark(tmp_path), LJ_PROBES=str(probe_file), LJ_PROBE_S="4")
    log = tmp_path / "run.log"
    run = materialize("probe_a,probe_b", env, log)
    assert run.wait(timeout=600) == 0, log_tail(log)

    records = [r for r in probes(probe_file) if "end" in r]
    assert len(records) == 2, probes(probe_file)
    a, b = records
    assert a["step_pid"] != b["step_pid"]  # two step processes ...
    assert a["start"] < b["end"] and b["start"] < a["end"]  # ... at the same time ...
    assert a["jvm_pid"] == b["jvm_pid"]  # ... on one server
    assert all(r["session"].startswith("pyspark.sql.connect") and not r["local_jvm"] for r in records)  # thin clients
    assert all(r["rows"] == 1000 for r in records)
    assert len(list((tmp_path / "clusters").iterdir())) == 1
    wait_for(lambda: _gone(a["jvm_pid"], a["watchdog_pid"]), 30, "the job cluster to stop after the run")


def test_sigkill_of_the_run_leaves_no_jvm_behind(tmp_path: Path):
    probe_file = tmp_path / "probes.jsonl"
    env = run_env(tmp_path / "lake", _spark(tmp_path), LJ_PROBES=str(probe_file), LJ_PROBE_S="300", LJ_EXECUTOR="multiprocess")
    log = tmp_path / "run.log"
    run = materialize("probe_a", env, log, start_new_session=True)
    try:
        record = wait_for(lambda: probes(probe_file), 400, "the task to attach to its cluster")[0]
        assert job_cluster.alive(record["jvm_pid"])
        os.kill(run.pid, signal.SIGKILL)  # the run process dies without any cleanup
        run.wait()
        wait_for(lambda: _gone(record["jvm_pid"], record["watchdog_pid"]), 30, "the orphaned cluster to stop")
    finally:
        try:
            os.killpg(run.pid, signal.SIGKILL)  # the orphaned step process, if still there
        except ProcessLookupError:
            pass
    assert not list((tmp_path / "clusters").glob("*/state.json"))  # no later task can attach to a dead cluster


def test_a_reusable_cluster_serves_later_runs_then_terminates_when_idle(tmp_path: Path):
    spec = job_cluster.ClusterSpec(conf=SparkResource(job_cluster=True, num_workers=1).conf(), jars=tuple(resolve_delta_jars()), autotermination_s=3)
    first_run, second_run = subprocess.Popen(["sleep", "600"]), subprocess.Popen(["sleep", "600"])
    try:
        one = job_cluster.attach(spec, tmp_path, "run-1", first_run.pid, SPARK_HOME)
        two = job_cluster.attach(spec, tmp_path, "run-2", second_run.pid, SPARK_HOME)
        assert (two.jvm_pid, two.port) == (one.jvm_pid, one.port)  # warm: no second JVM
        first_run.kill()
        first_run.wait()
        time.sleep(1.5)
        assert job_cluster.alive(one.jvm_pid)  # the second run still holds it
        second_run.kill()
        second_run.wait()
        idle_from = time.monotonic()
        time.sleep(1.5)
        assert job_cluster.alive(one.jvm_pid)  # idle, but within autotermination
        wait_for(lambda: _gone(one.jvm_pid, one.watchdog_pid), 30, "auto-termination")
        assert time.monotonic() - idle_from >= 3
        assert not (one.directory / "state.json").exists()
    finally:
        for owner in (first_run, second_run):
            owner.kill()
        if "one" in locals():
            job_cluster.stop(one.directory)


def test_lakehouse_jobs_clusters_lists_warm_clusters_and_stops_them(tmp_path: Path, capsys):
    from lakehouse_jobs.cli import main

    spec = job_cluster.ClusterSpec(conf=SparkResource(job_cluster=True, num_workers=1).conf(), jars=tuple(resolve_delta_jars()), autotermination_s=600)
    owner = subprocess.Popen(["sleep", "600"])
    try:
        endpoint = job_cluster.attach(spec, tmp_path, "run-1", owner.pid, SPARK_HOME)
        assert main(["clusters", "--state-dir", str(tmp_path)]) == 0
        listed = capsys.readouterr().out
        assert f"ready on 127.0.0.1:{endpoint.port}, jvm pid {endpoint.jvm_pid}, runs attached: run-1" in listed
        owner.kill()
        owner.wait()
        assert main(["clusters", "--state-dir", str(tmp_path), "--stop"]) == 0
        assert f"stopped {endpoint.directory.name}" in capsys.readouterr().out
        assert _gone(endpoint.jvm_pid, endpoint.watchdog_pid)  # warm for 10 more minutes, but stopped on request
        assert job_cluster.running(tmp_path) == []
        main(["clusters", "--state-dir", str(tmp_path)])
        assert "no job cluster running" in capsys.readouterr().out
    finally:
        owner.kill()
        job_cluster.stop_all(tmp_path)
