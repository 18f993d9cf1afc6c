"""Observed lineage: the Delta tables a task commits to become materializations of their keys.

Real parts only: a python_callable task writes path-based Delta tables through the shared
SparkSession on a real Dagster instance; another run and another process (delta-rs)
commit under the same root meanwhile; nothing declares the tables anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from lakehouse_jobs.lib.jobs.lineage import USER_METADATA_CONF, identity
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS
from lakehouse_jobs.lib.tables.observed import asset_key, delta_tables, tables_written

from .jobrun import run_spec, task

TASKS = "lakehouse_jobs_tests.jobs.lineage_tasks"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The run's lakehouse root: the default LakehouseResource reads LAKEHOUSE_ROOT."""
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(lake))
    return lake


def _call(name: str, *args: str) -> dict:
    return {"python_callable_task": {"callable": f"{TASKS}:{name}", "parameters": list(args)}}


def _materializations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        mat = event.event_specific_data.materialization
        found["/".join(mat.asset_key.path)] = {"step": event.step_key, **{k: v.value for k, v in mat.metadata.items()}}
    return found


def test_tables_a_task_writes_are_materialized_and_others_are_not(instance, spark, root):
    result = run_spec(instance, {"name": "writer", "tasks": [task("write", _call("write_with_others", str(root)))]})
    assert result.states == {"write": SUCCESS}, result.outputs
    # the other run's and the other process's tables really were committed during the task
    assert {"/".join(asset_key(root, t)) for t in delta_tables(root)} == {"bronze/events", "silver/events", "gold/other_run", "bronze/other_process"}
    seen = _materializations(instance, result.run_id)
    assert set(seen) == {"bronze/events", "silver/events"}
    bronze, silver = seen["bronze/events"], seen["silver/events"]
    assert (bronze["delta_version"], bronze["rows"], bronze["operation"], bronze["commits"]) == (1, 5, "WRITE", 2)
    assert bronze["delta_versions"] == [0, 1]
    assert (silver["delta_version"], silver["rows"], silver["operation"]) == (1, 4, "WRITE")
    for key, meta in seen.items():
        assert meta["step"] == "write" and meta["task_key"] == "write" and meta["observed"] is True
        assert meta["path"] == str(root / key) and meta["run_id"] == result.run_id
    assert json.loads(json.dumps(result.outputs["write"]["written_tables"])) == ["bronze/events", "silver/events"]
    # the asset's history in the instance (what the asset page shows), though no definition declares it
    latest = instance.get_latest_materialization_event(dg.AssetKey(["bronze", "events"]))
    assert latest is not None and latest.run_id == result.run_id
    # the session is left as it was: later commits outside a task carry no identity
    assert spark.conf.get(USER_METADATA_CONF, None) is None


def test_a_failed_task_reports_what_it_committed_before_failing(instance, spark, root):
    result = run_spec(instance, {"name": "partial", "tasks": [task("boom", _call("write_then_fail", str(root)))]})
    assert result.states == {"boom": FAILED}
    assert "fails after its first write" in result.outputs["boom"]["error"]
    seen = _materializations(instance, result.run_id)
    assert set(seen) == {"bronze/partial"}
    assert (seen["bronze/partial"]["delta_version"], seen["bronze/partial"]["rows"]) == (0, 6)
    assert result.outputs["boom"]["written_tables"] == ["bronze/partial"]


def test_scan_skips_system_hidden_and_linked_folders_and_old_commits(tmp_path):
    root, outside = tmp_path / "lake", tmp_path / "outside"
    mine = identity("r1", "t", 1)

    def table(folder: Path, version: int, metadata: str | None, rows: int = 1) -> None:
        log = folder / "_delta_log"
        log.mkdir(parents=True, exist_ok=True)
        info = {"operation": "WRITE", "operationMetrics": {"numOutputRows": str(rows)}, **({"userMetadata": metadata} if metadata else {})}
        (log / f"{version:020d}.json").write_text(json.dumps({"commitInfo": info}) + "\n")

    for folder in (root / "_system" / "q", root / ".hidden" / "t", outside / "t", root / "a" / "b" / "c"):
        table(folder, 0, mine)
    (root / "linked").symlink_to(outside)
    table(root / "silver" / "old", 0, mine)
    old = time.time() - 3600
    os.utime(root / "silver" / "old" / "_delta_log" / f"{0:020d}.json", (old, old))
    os.utime(root / "silver" / "old" / "_delta_log", (old, old))
    writes = tables_written(root, time.time() - 60, mine)
    assert [w.key for w in writes] == [("a", "b", "c")]  # deeper paths keep every part


def test_a_session_the_task_starts_itself_is_tagged_too(tmp_path, root):
    """`lakehouse-jobs run` in a fresh process: no session exists until the task starts one."""
    spec = tmp_path / "job.yml"
    spec.write_text(yaml.safe_dump({"name": "fresh", "tasks": [task("write", _call("write_two", str(root)))]}))
    home = tmp_path / "dagster_home"
    home.mkdir()
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DAGSTER_HOME": str(home), "LAKEHOUSE_ROOT": str(root), "PYTHONPATH": str(repo)}
    cli = str(Path(sys.executable).with_name("lakehouse-jobs"))
    done = subprocess.run([cli, "run", str(spec)], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        seen = _materializations(instance, run.run_id)
    assert set(seen) == {"bronze/events", "silver/events"}
    assert seen["bronze/events"]["rows"] == 5
