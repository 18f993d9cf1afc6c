"""Job clusters: one Spark Connect server per run, shared by parallel tasks, never left behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pyspark

from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
from lakehouse_jobs.lib.runtime.spark import SparkResource

from .procs import REPO, log_tail, materialize, probes, run_env, wait_for

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
    assert not any("token" in arg for arg in command)  # the token goes through the environment, never `ps`


def test_urls_with_a_token_are_redacted_and_endpoints_do_not_print_theirs(tmp_path: Path):
    text = "cannot reach sc://localhost:4242/;token=abc-DEF_123;use_ssl=false ('sc://localhost:1/;token=xyz')"
    assert job_cluster.redact(text) == "cannot reach sc://localhost:4242/;token=<redacted>;use_ssl=false ('sc://localhost:1/;token=<redacted>')"
    endpoint = job_cluster.Endpoint("sc://localhost:4242/;token=s3cret", 4242, 1, 2, tmp_path)
    assert "s3cret" not in repr(endpoint) and "s3cret" not in str(endpoint)


def test_cluster_folders_are_private_and_the_token_file_owner_only(tmp_path: Path):
    shared = tmp_path / "clusters"
    shared.mkdir(mode=0o755)
    directory = job_cluster.private_dir(shared / "c1")
    assert directory.stat().st_mode & 0o777 == 0o700
    job_cluster.private_dir(shared)
    assert shared.stat().st_mode & 0o777 == 0o700  # tightened
    old = os.umask(0)
    try:
        token = job_cluster.write_token(directory)
    finally:
        os.umask(old)
    assert (directory / "token").stat().st_mode & 0o777 == 0o600
    assert len(token) >= 40 and job_cluster.read_token(directory) == token
    assert job_cluster.write_token(directory) != token  # a new one per cluster start


def test_per_run_clusters_are_private_and_reusable_ones_shared():
    per_run = job_cluster.ClusterSpec(conf={"a": "1"})
    assert per_run.key("run1") != per_run.key("run2")
    shared = job_cluster.ClusterSpec(conf={"a": "1"}, autotermination_s=60)
    assert shared.key("run1") == shared.key("run2")
    assert shared.key("run1") != job_cluster.ClusterSpec(conf={"a": "2"}, autotermination_s=60).key("run1")


def test_the_run_worker_reported_by_dagster_owns_the_lease(tmp_path: Path, monkeypatch):
    from lakehouse_jobs.lib.runtime.run_process import lease_owner

    instance = dg.DagsterInstance.ephemeral()
    run = instance.create_run_for_job(job_def=_lease_job)
    assert lease_owner(instance, run.run_id) == os.getpid()  # no run worker reported: in-process run
    assert lease_owner(None, None) == os.getpid()
    instance.report_engine_event(f"Started process for run (pid: {os.getpid()}).", run)
    assert lease_owner(instance, run.run_id) == os.getpid()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.05)
        instance.report_engine_event(f"Started process for run (pid: {stranger.pid}).", run)
        assert lease_owner(instance, run.run_id) == os.getpid()  # not this process nor its run's: never trusted
    finally:
        stranger.kill()
        stranger.wait()


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
    text = log.read_text()
    assert "Spark engine: spark (sc://localhost:" in text and ";token=<redacted>" in text
    assert not re.search(r"token=(?!<redacted>)", text)  # the cluster's token never reaches the run's logs
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


def test_a_prestarted_cluster_is_the_one_the_next_run_attaches_to(tmp_path: Path):
    """A file-arrival sensor's warm-up: the JVM starts with no lease and no wait; the run then finds it."""
    resource = SparkResource(job_cluster=True, num_workers=1, autotermination_minutes=0.05, cluster_state_dir=str(tmp_path))
    assert not SparkResource(job_cluster=True, autotermination_minutes=0, cluster_state_dir=str(tmp_path)).prestart_job_cluster()  # per-run: nothing to warm
    assert not list(tmp_path.glob("*/state.json"))
    assert resource.prestart_job_cluster()
    (warm,) = job_cluster.running(tmp_path)
    assert warm["status"] == "starting" and warm["leases"] == []  # returned without waiting for the JVM, holding no lease
    assert not resource.prestart_job_cluster()  # starting already: not twice
    run = subprocess.Popen(["sleep", "600"])
    try:
        endpoint = job_cluster.attach(resource.cluster_spec(), tmp_path, "run-1", run.pid, SPARK_HOME)
        assert endpoint.watchdog_pid == warm["watchdog_pid"] and len(job_cluster.running(tmp_path)) == 1  # the warm JVM, no second one
    finally:
        run.kill()
        run.wait()
    wait_for(lambda: _gone(endpoint.jvm_pid, endpoint.watchdog_pid), 30, "auto-termination of the warmed cluster")


def test_lakehouse_jobs_clusters_lists_warm_clusters_and_stops_them(tmp_path: Path, capsys):
    from lakehouse_jobs.cli import main

    spec = job_cluster.ClusterSpec(conf=SparkResource(job_cluster=True, num_workers=1).conf(), jars=tuple(resolve_delta_jars()), autotermination_s=600)
    owner = subprocess.Popen(["sleep", "600"])
    try:
        endpoint = job_cluster.attach(spec, tmp_path, "run-1", owner.pid, SPARK_HOME)
        assert main(["clusters", "--state-dir", str(tmp_path)]) == 0
        listed = capsys.readouterr().out
        assert f"spark, ready on 127.0.0.1:{endpoint.port}, server pid {endpoint.jvm_pid}, runs attached: run-1" in listed
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


# ------------------------------------------------------------------ the dagster dev shape: a code server spawns the run


@dg.op(required_resource_keys={"spark"})
def _lease_probe(context) -> None:
    resource = context.resources.spark
    rows = resource.get_session().range(10).count()
    directory = resource.cluster_directory()
    state = json.loads((directory / "state.json").read_text())
    lease = json.loads(next((directory / "leases").glob("*.json")).read_text())
    record = {"rows": rows, "jvm_pid": state["jvm_pid"], "watchdog_pid": state["watchdog_pid"], "lease": lease, "worker": os.getpid()}
    Path(os.environ["LJ_PROBES"]).write_text(json.dumps(record))


@dg.job(resource_defs={"spark": SparkResource(job_cluster=True, num_workers=1)}, executor_def=dg.in_process_executor)
def _lease_job() -> None:
    _lease_probe()


def _run_worker(go: str) -> None:
    """What Dagster's code server runs in its multiprocessing child: report the worker's pid, execute the run."""
    from dagster._core.execution.api import execute_run

    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(job_def=_lease_job)
        instance.report_engine_event(f"Started process for run (pid: {os.getpid()}).", run)
        result = execute_run(dg.reconstructable(_lease_job), run, instance)
        Path(go).with_suffix(".run").write_text(f"{run.run_id} {result.success}")
    deadline = time.monotonic() + 300
    while not Path(go).exists() and time.monotonic() < deadline:  # the worker outlives its run for a while
        time.sleep(0.1)


def code_server(go: str) -> None:
    """A stand-in for `dagster dev`'s code server: starts the run worker with multiprocessing, stays up."""
    worker = multiprocessing.get_context("spawn").Process(target=_run_worker, args=(go,))
    worker.start()
    worker.join()
    deadline = time.monotonic() + 300
    while not Path(go).exists() and time.monotonic() < deadline:  # stays up while the test looks, as a code server does
        time.sleep(0.1)


def test_a_run_spawned_by_a_code_server_releases_its_lease_when_it_ends(tmp_path: Path):
    clusters, go, probe = tmp_path / "clusters", tmp_path / "go", tmp_path / "probe.json"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LAKEHOUSE_CLUSTER_STATE_DIR": str(clusters),
        "LJ_PROBES": str(probe),
        "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
    }
    env.pop("SPARK_CONNECT_AUTHENTICATE_TOKEN", None)
    script = f"from lakehouse_jobs_tests.runtime.test_job_cluster import code_server; code_server({str(go)!r})"
    log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: go.with_suffix(".run").exists() or server.poll() is not None, 400, "the run to end")
        assert go.with_suffix(".run").exists(), log_tail(log)
        run_id, success = go.with_suffix(".run").read_text().split()
        record = json.loads(probe.read_text())
        assert success == "True" and record["rows"] == 10
        assert record["lease"]["pid"] == record["worker"] != server.pid  # the run worker, not the code server
        assert record["lease"]["run_id"] == run_id
        # the run is over but its worker and the code server still live: the lease ended with the run
        wait_for(lambda: _gone(record["jvm_pid"], record["watchdog_pid"]), 30, "the idle-0 job cluster to stop after the run")
        assert job_cluster.alive(record["worker"]) and server.poll() is None
        assert not list(clusters.glob("*/leases/*.json"))
        listed = subprocess.run(
            [sys.executable, "-m", "lakehouse_jobs.cli", "clusters", "--state-dir", str(clusters)], cwd=REPO, capture_output=True, text=True
        )
        assert run_id not in listed.stdout and "no job cluster running" in listed.stdout, listed.stdout + listed.stderr
    finally:
        go.write_text("")
        server.kill()
        server.wait()
        job_cluster.stop_all(clusters)


# ------------------------------------------------------------------ D: the token


_CLIENT = """
import sys
from pyspark.sql import SparkSession
try:
    print("rows", SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(3).count())
except Exception as exc:
    print("unauthenticated" if "StatusCode.UNAUTHENTICATED" in str(exc) else "failed", " ".join(str(exc).split())[:400])
"""


def test_only_runs_holding_the_token_can_use_the_cluster(tmp_path: Path):
    spec = SparkResource(job_cluster=True, num_workers=1).cluster_spec()
    owner = subprocess.Popen(["sleep", "600"])
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_AUTHENTICATE_TOKEN", "SPARK_REMOTE")}
    try:
        endpoint = job_cluster.attach(spec, tmp_path, "run-1", owner.pid, SPARK_HOME)
        token = job_cluster.read_token(endpoint.directory)
        assert endpoint.url == f"sc://localhost:{endpoint.port}/;token={token}"
        assert (endpoint.directory / "token").stat().st_mode & 0o777 == 0o600 and endpoint.directory.stat().st_mode & 0o777 == 0o700

        def client(url: str) -> str:
            return subprocess.run([sys.executable, "-c", _CLIENT, url], env=env, capture_output=True, text=True, timeout=300).stdout

        for stranger in (f"sc://localhost:{endpoint.port}", f"sc://127.0.0.1:{endpoint.port}", f"sc://localhost:{endpoint.port}/;token=guess"):
            answer = client(stranger)
            assert answer.startswith("unauthenticated"), (stranger, answer)
        assert client(endpoint.url).strip() == "rows 3"

        for pid in (endpoint.jvm_pid, endpoint.watchdog_pid):
            assert token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        for name in ("server.log", "spec.json", "state.json"):
            assert token not in (endpoint.directory / name).read_text()
        listed = subprocess.run(
            [sys.executable, "-m", "lakehouse_jobs.cli", "clusters", "--state-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True
        )
        assert "run-1" in listed.stdout and token not in listed.stdout + listed.stderr
    finally:
        owner.kill()
        owner.wait()
        job_cluster.stop_all(tmp_path)
