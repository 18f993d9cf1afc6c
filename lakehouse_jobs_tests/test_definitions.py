"""The code location as users see it: a medallion lineage graph, served by `dagster dev` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.definitions import defs
from lakehouse_jobs.defs.paths import REPO_ROOT
from lakehouse_jobs.lib.errors import SetupError

BIN = Path(sys.executable).parent
MEDALLION = {
    "bronze": {"orders", "clickstream", "customers"},
    "silver": {"orders", "events", "customers"},
    "gold": {"daily_revenue", "event_funnel", "customer_features"},
}


def test_medallion_graph_has_layers_as_groups_and_expected_lineage():
    graph = defs.resolve_asset_graph()
    for layer, tables in MEDALLION.items():
        for table in tables:
            node = graph.get(dg.AssetKey([layer, table]))
            assert node.group_name == layer
            assert {"spark", "delta"} <= set(node.kinds)
    parents = lambda key: {p.to_user_string() for p in graph.get(dg.AssetKey(key.split("/"))).parent_keys}  # noqa: E731
    assert parents("silver/orders") == {"bronze/orders"}
    assert parents("silver/events") == {"bronze/clickstream"}
    assert {"silver/customers", "silver/orders", "silver/events"} <= parents("gold/customer_features")


def test_file_arrival_runs_default_to_a_warm_job_cluster_and_other_runs_do_not(monkeypatch):
    from lakehouse_jobs.defs.sensors import arrival_cluster

    for job in [f"{source}_{kind}" for source in ("orders", "clickstream", "customers") for kind in ("arrival", "refresh")]:
        spark = defs.resolve_job_def(job).run_config_schema.config_type.fields["resources"].config_type.fields["spark"]
        assert spark.default_value["config"] == {"job_cluster": True, "autotermination_minutes": 10.0, "engine": "auto"}
    refresh = defs.resolve_job_def("lakehouse_refresh").run_config_schema.config_type.fields["resources"].config_type.fields["spark"]
    assert refresh.default_value["config"]["job_cluster"] is False  # make materialize: one embedded JVM, no server
    monkeypatch.setenv("LAKEHOUSE_ENGINE", "spark")
    assert arrival_cluster()["engine"] == "spark"  # the setting still decides: auto is only its default here
    monkeypatch.setenv("LAKEHOUSE_CLUSTER_IDLE_MINUTES", "0")
    assert arrival_cluster()["autotermination_minutes"] == 0  # a cluster per run, stopped at its end
    for bad in ("ten", "-1", "nan"):
        monkeypatch.setenv("LAKEHOUSE_CLUSTER_IDLE_MINUTES", bad)
        with pytest.raises(SetupError, match="LAKEHOUSE_CLUSTER_IDLE_MINUTES must be a number of minutes >= 0"):
            arrival_cluster()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def _outward_addresses() -> list[str]:
    try:
        return [a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split() if not a.startswith("127.")]
    except OSError:
        return []


def test_dagster_dev_serves_lineage_on_loopback_only_with_a_running_daemon(tmp_path):
    port = _free_port()
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "LAKEHOUSE_ROOT": str(tmp_path / "lake")}
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        assets, daemons = None, {}
        while time.monotonic() < deadline:
            try:
                data = _graphql(port, "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } "
                                      "instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }")  # fmt: skip
                assets = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
                daemons = {d["daemonType"]: d["healthy"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
                if daemons.get("SENSOR") and daemons.get("SCHEDULER"):
                    break
            except OSError:
                pass
            time.sleep(2)
        assert assets, "webserver never answered on 127.0.0.1"
        assert daemons.get("SENSOR") and daemons.get("SCHEDULER") and daemons.get("QUEUED_RUN_COORDINATOR"), daemons
        assert {"/".join(d["path"]) for d in assets["gold/daily_revenue"]["dependencyKeys"]} == {"silver/orders"}
        assert assets["bronze/orders"]["groupName"] == "bronze"
        for address in _outward_addresses():
            with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
                s.settimeout(2)
                assert s.connect_ex((address, port)) != 0, f"webserver reachable on {address}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
