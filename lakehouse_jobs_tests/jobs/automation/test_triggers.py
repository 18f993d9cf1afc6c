"""table_update / periodic / continuous / file_arrival triggers evaluated against a real instance and real Delta tables."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from deltalake import write_deltalake

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.automation.triggers import backoff_seconds, compile_continuous, compile_trigger, delta_version

TYPE = "lakehouse_jobs/trigger.type"


@dg.op
def _noop():
    return None


@dg.job
def refresh():
    _noop()


def append(root: Path, table: str, rows: int = 1) -> None:
    layer, name = table.split(".")
    write_deltalake(str(root / layer / name), pd.DataFrame({"id": range(rows)}), mode="append")


def tick(sensor: dg.SensorDefinition, instance, cursor: str | None):
    """One sensor evaluation as the daemon does it: (run requests, skip message, new cursor)."""
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    return data.run_requests, data.skip_message, data.cursor if data.cursor is not None else cursor


def table_trigger(root: Path, **section) -> dg.SensorDefinition:
    section.setdefault("table_names", ["silver.orders", "gold.daily"])
    return compile_trigger("refresh", {"table_update": section}, job_key="refresh_key", lakehouse_root=root)


def test_delta_version_reads_the_latest_commit_without_spark(tmp_path: Path):
    assert delta_version(tmp_path / "silver" / "orders") is None
    append(tmp_path, "silver.orders")
    append(tmp_path, "silver.orders")
    assert delta_version(tmp_path / "silver" / "orders")[0] == 1


def test_table_update_any_updated_triggers_once_per_new_version(tmp_path: Path):
    sensor = table_trigger(tmp_path)
    with dg.instance_for_test() as instance:
        runs, skip, cursor = tick(sensor, instance, None)
        assert not runs and "baseline" in skip
        append(tmp_path, "silver.orders")  # the table appears (version 0): an update
        [request], _, cursor = tick(sensor, instance, cursor)
        assert request.tags[TYPE] == "table_update" and request.tags["lakehouse_jobs/job_key"] == "refresh_key"
        assert request.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "silver.orders"
        runs, skip, cursor = tick(sensor, instance, cursor)  # the cursor is durable: no repeat
        assert not runs and skip == "no table updated"
        append(tmp_path, "gold.daily")
        [request], _, cursor = tick(sensor, instance, cursor)
        assert "gold.daily" in request.tags["lakehouse_jobs/trigger.table_update.updated_tables"]
        assert json.loads(cursor)["versions"] == {"silver.orders": 0, "gold.daily": 0}


def test_table_update_all_updated_waits_for_every_table(tmp_path: Path):
    append(tmp_path, "silver.orders")
    append(tmp_path, "gold.daily")
    sensor = table_trigger(tmp_path, condition="ALL_UPDATED")
    with dg.instance_for_test() as instance:
        _, _, cursor = tick(sensor, instance, None)
        append(tmp_path, "silver.orders")
        append(tmp_path, "silver.orders")
        runs, skip, cursor = tick(sensor, instance, cursor)
        assert not runs and skip == "no update of gold.daily yet"
        append(tmp_path, "gold.daily")
        [request], _, cursor = tick(sensor, instance, cursor)
        assert request.run_key == "table_update:gold.daily=1,silver.orders=2"


def test_table_update_timers(tmp_path: Path):
    sensor = table_trigger(tmp_path, wait_after_last_change_seconds=600, min_time_between_triggers_seconds=3600)
    with dg.instance_for_test() as instance:
        _, _, cursor = tick(sensor, instance, None)
        append(tmp_path, "silver.orders")
        runs, skip, _ = tick(sensor, instance, cursor)
        assert not runs and "waiting 600s after the last change" in skip
        commit = tmp_path / "silver" / "orders" / "_delta_log" / f"{0:020d}.json"
        os.utime(commit, (time.time() - 601, time.time() - 601))  # the change is now 601 s old
        [_], _, cursor = tick(sensor, instance, cursor)
        append(tmp_path, "gold.daily")
        commit = tmp_path / "gold" / "daily" / "_delta_log" / f"{0:020d}.json"
        os.utime(commit, (time.time() - 601, time.time() - 601))
        runs, skip, _ = tick(sensor, instance, cursor)
        assert not runs and "less than 3600s since the last triggered run" in skip


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"table_names": ["../outside"]}, "trigger.table_update.table_names[0]"),
        ({"table_names": ["/etc"]}, "trigger.table_update.table_names[0]"),
        ({"table_names": ["platinum.x"]}, "trigger.table_update.table_names[0]"),
        ({"table_names": ["silver.Bad-Name"]}, "trigger.table_update.table_names[0]"),
        ({"table_names": []}, "trigger.table_update.table_names"),
        ({"table_names": ["silver.orders"], "condition": "SOME"}, "trigger.table_update.condition"),
        ({"table_names": ["silver.orders"], "wait_after_last_change_seconds": -1}, "trigger.table_update.wait_after_last_change_seconds"),
    ],
)
def test_bad_table_update_fields_name_their_path(tmp_path: Path, section: dict, path: str):
    with pytest.raises(SpecError, match=path.replace("[", r"\[").replace("]", r"\]")):
        compile_trigger("refresh", {"table_update": section}, job_key="k", lakehouse_root=tmp_path)


def test_table_update_accepts_paths_inside_the_root(tmp_path: Path):
    append(tmp_path, "silver.orders")
    sensor = compile_trigger("refresh", {"table_update": {"table_names": ["silver/orders"]}}, job_key="k", lakehouse_root=tmp_path)
    with dg.instance_for_test() as instance:
        _, _, cursor = tick(sensor, instance, None)
        assert json.loads(cursor)["versions"] == {"silver/orders": 0}


def test_periodic_runs_every_interval(tmp_path: Path):
    sensor = compile_trigger("refresh", {"periodic": {"interval": 2, "unit": "HOURS"}}, job_key="k", lakehouse_root=tmp_path)
    with dg.instance_for_test() as instance:
        [request], _, cursor = tick(sensor, instance, None)
        assert request.tags[TYPE] == "periodic"
        runs, skip, _ = tick(sensor, instance, cursor)
        assert not runs and skip.startswith("next run in 7")  # ~7200 s left
        [_], _, _ = tick(sensor, instance, str(float(cursor) - 7200))  # two hours later
    with pytest.raises(SpecError, match="trigger.periodic.unit"):
        compile_trigger("refresh", {"periodic": {"interval": 1, "unit": "MINUTES"}}, job_key="k", lakehouse_root=tmp_path)
    with pytest.raises(SpecError, match="exactly one of"):
        compile_trigger(
            "refresh", {"periodic": {"interval": 1, "unit": "DAYS"}, "table_update": {"table_names": ["silver.x"]}}, job_key="k", lakehouse_root=tmp_path
        )


def test_pause_status_stops_the_sensor(tmp_path: Path):
    sensor = compile_trigger("refresh", {"periodic": {"interval": 1, "unit": "DAYS"}, "pause_status": "PAUSED"}, job_key="k", lakehouse_root=tmp_path)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert compile_continuous("refresh", {}, job_key="k").default_status == dg.DefaultSensorStatus.RUNNING
    assert compile_continuous("refresh", {"pause_status": "PAUSED"}, job_key="k").default_status == dg.DefaultSensorStatus.STOPPED


def test_continuous_keeps_exactly_one_run_going():
    sensor = compile_continuous("refresh", {"pause_status": "UNPAUSED"}, job_key="refresh_key")
    with dg.instance_for_test() as instance:
        [request], _, _ = tick(sensor, instance, None)
        assert request.tags[TYPE] == "continuous"
        result = refresh.execute_in_process(instance=instance, tags=request.tags, run_config=request.run_config)
        assert result.success and instance.get_run_by_id(result.run_id).tags[TYPE] == "continuous"
        [again], _, _ = tick(sensor, instance, None)  # the run finished: start the next one
        assert again.run_key == f"continuous:after:{result.run_id}"
        instance.create_run_for_job(refresh, status=dg.DagsterRunStatus.STARTED)
        runs, skip, _ = tick(sensor, instance, None)
        assert not runs and skip == "a run is already active"


def test_continuous_backs_off_after_consecutive_failures():
    sensor = compile_continuous("refresh", {}, job_key="refresh_key")
    with dg.instance_for_test() as instance:

        def fail_one():
            run = instance.create_run_for_job(refresh, status=dg.DagsterRunStatus.STARTED)
            instance.report_run_failed(run)

        fail_one()
        runs, skip, _ = tick(sensor, instance, None)
        assert not runs and ("next run in 10s" in skip or "next run in 9s" in skip)
        fail_one()
        runs, skip, _ = tick(sensor, instance, None)
        assert not runs and ("next run in 20s" in skip or "next run in 19s" in skip)
        records = instance.get_run_records(dg.RunsFilter(job_name="refresh"))
        assert backoff_seconds(records, time.time() + 21) == 0  # the delay passed: restart
        assert refresh.execute_in_process(instance=instance).success
        [request], _, _ = tick(sensor, instance, None)  # a success resets the back-off


def test_file_arrival_watches_a_landing_folder_inside_the_root(tmp_path: Path):
    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    sensor = compile_trigger("refresh", {"file_arrival": {"url": "landing/orders"}}, job_key="k", lakehouse_root=tmp_path)
    with dg.instance_for_test() as instance:
        (landing / "a.csv").write_text("id\n1\n")
        time.sleep(0.05)
        [request], _, _ = tick(sensor, instance, None)
        assert request.tags[TYPE] == "file_arrival"
        assert request.tags["lakehouse_jobs/trigger.file_arrival.location"] == str(landing.resolve())
        assert request.tags["lakehouse_jobs/job_key"] == "k"
    with pytest.raises(SpecError, match="trigger.file_arrival.url"):
        compile_trigger("refresh", {"file_arrival": {"url": "../elsewhere"}}, job_key="k", lakehouse_root=tmp_path)


def test_unity_catalog_names_in_triggers_map_under_the_root(tmp_path: Path):
    """A volume URL (`/Volumes/<c>/<s>/<v>/...`) and three-part table names, by lib/catalog's rule."""
    volume = tmp_path / "volumes" / "main" / "sales" / "landing" / "orders"
    volume.mkdir(parents=True)
    for url in ("/Volumes/main/sales/landing/orders", "dbfs:/Volumes/main/sales/landing/orders"):
        sensor = compile_trigger("refresh", {"file_arrival": {"url": url}}, job_key="k", lakehouse_root=tmp_path)
        with dg.instance_for_test() as instance:
            (volume / f"{len(url)}.csv").write_text("id\n1\n")
            time.sleep(0.05)
            [request], _, _ = tick(sensor, instance, None)
            assert request.tags["lakehouse_jobs/trigger.file_arrival.location"] == str(volume.resolve())
    with pytest.raises(SpecError, match="trigger.file_arrival.url"):
        compile_trigger("refresh", {"file_arrival": {"url": "/Volumes/main/sales/../../../etc"}}, job_key="k", lakehouse_root=tmp_path)

    sensor = table_trigger(tmp_path, table_names=["main.silver.orders", "dev.gold.daily"])
    with dg.instance_for_test() as instance:
        _, _, cursor = tick(sensor, instance, None)
        append(tmp_path, "silver.orders")  # main.silver.orders is <root>/silver/orders
        [request], _, cursor = tick(sensor, instance, cursor)
        assert request.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "main.silver.orders"
        write_deltalake(str(tmp_path / "catalogs" / "dev" / "gold" / "daily"), pd.DataFrame({"id": [1]}))  # another catalog
        [request], _, _ = tick(sensor, instance, cursor)
        assert request.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "dev.gold.daily"


def test_table_update_in_the_sensor_daemon_launches_the_spec_job(tmp_path: Path, monkeypatch):
    """End to end: real code server, the daemons' sensor and run-queue iterations, a real run reading {{job.trigger.type}}."""
    import logging

    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
    from dagster._daemon.sensor import execute_sensor_iteration

    from lakehouse_jobs.lib.jobs.concurrency import run_coordinator_config

    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_JOBS_SENSOR_INTERVAL_SECONDS", "1")
    defs_file = Path(__file__).parent.parent / "trigger_defs.py"
    target = PythonFileTarget(python_file=str(defs_file), attribute="defs", working_directory=str(defs_file.parents[2]), location_name="trigger_defs")
    logger, queue = logging.getLogger("sensor-daemon-test"), QueuedRunCoordinatorDaemon(interval_seconds=1)
    overrides = {"run_coordinator": run_coordinator_config()}
    with dg.instance_for_test(overrides=overrides) as instance, create_test_daemon_workspace_context(target, instance) as context:

        def sensor_tick():
            time.sleep(1.1)  # the sensor's minimum interval
            list(execute_sensor_iteration(context, logger, None, None))

        sensor_tick()  # baseline
        assert instance.get_runs() == []
        append(tmp_path, "silver.orders")
        sensor_tick()
        [run] = instance.get_runs()
        deadline = time.monotonic() + 120
        while instance.get_run_by_id(run.run_id).status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
            assert time.monotonic() < deadline, instance.get_run_by_id(run.run_id).status
            list(queue.run_iteration(context))
            time.sleep(0.2)
        run = instance.get_run_by_id(run.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags[TYPE] == "table_update" and run.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "silver.orders"
        assert (tmp_path / "seen_trigger.txt").read_text() == "table_update"
        sensor_tick()  # no new version: no new run
        assert len(instance.get_runs()) == 1
        instance.run_launcher.join()
