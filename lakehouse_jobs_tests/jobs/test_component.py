"""LakehouseJobsComponent: defs.yaml loaded through Dagster's component machinery, and found in the registry."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster.components.core.package_entry import discover_entry_point_package_objects
from dagster.components.testing import create_defs_folder_sandbox

from lakehouse_jobs.lib.jobs.component import LakehouseJobsComponent

TYPE = "lakehouse_jobs.lib.jobs.component.LakehouseJobsComponent"
JOB = {
    "name": "Nightly check",
    "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "America/New_York"},
    "email_notifications": {"on_failure": ["ops@lakehouse.test"]},
    "tasks": [{"task_key": "check", "condition_task": {"left": "1", "op": "EQUAL_TO", "right": "1"}}],
}


def write(folder: Path, attributes: dict, extra: dict[str, object] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "defs.yaml").write_text(yaml.safe_dump({"type": TYPE, "attributes": attributes}))
    for name, content in (extra or {}).items():
        (folder / name).write_text(yaml.safe_dump(content))
    return folder


def load(sandbox, folder: Path) -> tuple[dg.Component, dg.Definitions]:
    with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
        return component, defs


def only(items):
    [item] = list(items)
    return item


def test_inline_spec_in_defs_yaml_builds_job_schedule_and_sensor():
    with create_defs_folder_sandbox() as sandbox:
        folder = write(sandbox.defs_folder_path / "nightly", {"spec": JOB})
        component, defs = load(sandbox, folder)
        assert isinstance(component, LakehouseJobsComponent)
        job = only(defs.jobs)
        schedule = only(defs.schedules)
        sensor = sorted(defs.sensors, key=lambda s: s.name)[1]
        assert schedule.job_name == job.name and schedule.cron_schedule == "30 2 * * 1-5" and schedule.execution_timezone == "America/New_York"
        assert sensor.name.endswith("_on_failure_failure")  # + one for canceled runs
        assert len(list(defs.sensors)) == 2
        assert job.tags["lakehouse_jobs/max_concurrent_runs.1"]  # the run queue policy rides on the job


def test_bundle_spec_file_next_to_defs_yaml():
    second = {k: v for k, v in JOB.items() if k != "schedule"} | {"name": "Second", "trigger": {"periodic": {"interval": 1, "unit": "DAYS"}}}
    bundle = {"resources": {"jobs": {"first": JOB, "second": second}}}
    with create_defs_folder_sandbox() as sandbox:
        folder = write(sandbox.defs_folder_path / "bundle", {"spec_file": "jobs.yml"}, {"jobs.yml": bundle})
        _, defs = load(sandbox, folder)
        assert len(list(defs.jobs)) == 2
        assert only(defs.schedules).cron_schedule == "30 2 * * 1-5"
        assert [s.name for s in defs.sensors if s.name.endswith("_periodic")]


def test_invalid_spec_in_defs_yaml_is_reported_with_its_field_path():
    bad = {**JOB, "schedule": {"quartz_cron_expression": "0 0 12 L * ?"}}
    with create_defs_folder_sandbox() as sandbox:
        folder = write(sandbox.defs_folder_path / "bad", {"spec": bad})
        with pytest.raises(Exception) as error:
            load(sandbox, folder)
        assert "schedule.quartz_cron_expression" in str(error.value.__cause__) and "'L'" in str(error.value.__cause__)


def test_component_is_registered_for_dg():
    keys = {key.to_typename() for key in discover_entry_point_package_objects()}
    assert TYPE in keys


SHOP = Path(__file__).parent.parent / "bundles" / "shop"


def test_bundle_folder_with_target_and_variables():
    """attributes.bundle: a Databricks Asset Bundle (relative to defs.yaml), its target and --var-style values."""
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "prod"
        write(folder, {"bundle": os.path.relpath(SHOP, folder), "target": "prod", "variables": {"cron": "0 0 7 * * ?"}})
        _, defs = load(sandbox, folder)
        assert sorted(job.name for job in defs.jobs) == ["shop_daily", "shop_etl"]
        schedule = only(defs.schedules)
        assert schedule.cron_schedule == "0 7 * * *" and schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # prod pauses it (a variable)


def test_bundle_definitions_in_development_mode():
    from lakehouse_jobs.lib.bundles import bundle_definitions

    defs = bundle_definitions(SHOP, target="dev", variables={"greeting": "hey"})
    jobs = {job.name: job for job in defs.jobs}
    assert sorted(jobs) == ["shop_daily", "shop_etl"]
    assert only(defs.schedules).default_status == dg.DefaultScheduleStatus.RUNNING  # the bundle set UNPAUSED itself
    periodic = only(s for s in defs.sensors if s.name.endswith("_periodic"))
    assert periodic.default_status == dg.DefaultSensorStatus.STOPPED  # development mode paused the trigger


def test_target_without_a_bundle_is_refused():
    with create_defs_folder_sandbox() as sandbox:
        folder = write(sandbox.defs_folder_path / "plain", {"spec": JOB, "target": "dev"})
        with pytest.raises(Exception) as error:
            load(sandbox, folder)
        assert "target and variables apply to a bundle" in str(error.value.__cause__ or error.value)
