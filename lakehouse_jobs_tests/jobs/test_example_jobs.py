"""The example lakehouse declares its jobs as a bundle: they load, validate and compile as the issue asks."""

from __future__ import annotations

import dagster as dg

from lakehouse_jobs.cli import main
from lakehouse_jobs.defs.jobs import SPEC
from lakehouse_jobs.lib.jobs import load_spec_file


def test_example_spec_validates(capsys):
    assert main(["validate", str(SPEC)]) == 0
    document = load_spec_file(SPEC)
    assert set(document.jobs) == {"ingest_orders", "nightly_refresh", "weekly_retrain"}
    assert document.job("ingest_orders").raw["trigger"]["file_arrival"]["url"] == "landing/orders"
    assert document.job("nightly_refresh").raw["schedule"]["quartz_cron_expression"] == "0 0 1 * * ?"
    for job in document.jobs.values():
        assert job.raw["webhook_notifications"]["on_failure"] == [{"id": "env:LAKEHOUSE_FAILURE_WEBHOOK_URL"}]
    retrain = document.job("weekly_retrain")
    assert retrain.task_by_key["train"].body["selection"] == "ml/churn_model"
    assert retrain.task_by_key["train"].depends_on[0].outcome == "true"


def test_code_location_has_the_jobs_schedules_and_sensors():
    from lakehouse_jobs.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {"ingest_orders", "nightly_refresh", "weekly_retrain", "lakehouse_refresh"} <= {job.name for job in repo.get_all_jobs()}
    nightly = repo.get_schedule_def("nightly_refresh_schedule")
    assert (nightly.cron_schedule, nightly.execution_timezone) == ("0 1 * * *", "Europe/Paris")
    assert repo.has_sensor_def("ingest_orders_file_arrival")
    # declared PAUSED: the per-source sensor orders_file_arrival ingests landing/orders, one run per batch
    assert repo.get_sensor_def("ingest_orders_file_arrival").default_status == dg.DefaultSensorStatus.STOPPED
    assert repo.get_sensor_def("orders_file_arrival").default_status == dg.DefaultSensorStatus.RUNNING
    assert any(name.startswith("nightly_refresh_on_failure") for name in (s.name for s in repo.sensor_defs))
