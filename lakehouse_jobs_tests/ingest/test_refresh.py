"""The coalescing refresh sensor on a real Dagster instance: real materialization events and run records."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id

from lakehouse_jobs.lib.ingest.refresh import RefreshState, refresh_sensor

BRONZE = dg.AssetKey(["bronze", "orders"])
JOB = "orders_refresh"
defs = dg.Definitions()  # the code location the run records point at (nothing here executes them)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "dagster_home"


@pytest.fixture
def instance(home: Path):
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def _sensor(**kwargs) -> dg.SensorDefinition:
    return refresh_sensor("orders_refresh_after_arrival", JOB, [BRONZE], tags={"team": "data-eng"}, **kwargs)


def _tick(instance: dg.DagsterInstance, cursor: str | None, sensor: dg.SensorDefinition | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return (sensor or _sensor())(context)


def _land(instance: dg.DagsterInstance, key: dg.AssetKey = BRONZE) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, metadata={"rows_ingested": 10}))


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, job_name: str = JOB, sensor: str | None = "orders_refresh_after_arrival") -> dg.DagsterRun:
    """A run record moved to `status` by the run events the coordinator and the run worker report."""
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__, attribute="defs"), location_name="refresh_test")
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)  # queued runs need to know where their job lives
    tags = {"dagster/sensor_name": sensor} if sensor else {}
    run = instance.add_run(
        dg.DagsterRun(job_name=job_name, run_id=make_new_run_id(), status=dg.DagsterRunStatus.NOT_STARTED, remote_job_origin=origin, tags=tags)
    )
    lifecycle = {dg.DagsterRunStatus.QUEUED: ["RUN_ENQUEUED"], dg.DagsterRunStatus.STARTING: ["RUN_ENQUEUED", "RUN_STARTING"]}
    lifecycle[dg.DagsterRunStatus.STARTED] = [*lifecycle[dg.DagsterRunStatus.STARTING], "RUN_START"]
    for event in lifecycle.get(status, []):
        instance.report_dagster_event(dg.DagsterEvent(event_type_value=dg.DagsterEventType[event].value, job_name=job_name), run_id=run.run_id)
    run = instance.get_run_by_id(run.run_id)
    assert run.status == status
    return run


def test_a_new_upstream_materialization_requests_one_run_tagged_with_what_changed(instance):
    _land(instance)
    _land(instance)
    result = _tick(instance, None)
    (request,) = result.run_requests
    newest = RefreshState.from_cursor(result.cursor).after
    assert request.run_key == f"orders_refresh_after_arrival:{newest}"
    assert request.tags == {
        "team": "data-eng",
        "lakehouse_jobs/trigger.type": "table_update",
        "lakehouse_jobs/trigger.table_update.updated_tables": "bronze/orders",
    }
    latest = instance.fetch_materializations(BRONZE, limit=1).records[0].storage_id
    assert newest == latest  # both commits are behind the cursor: one run for the two


def test_nothing_new_is_a_skip_that_says_so(instance):
    first = _tick(instance, None)
    assert not first.run_requests
    assert first.skip_reason.skip_message == "nothing new from bronze/orders since event 0"
    _land(instance, dg.AssetKey(["bronze", "clickstream"]))  # another source's commit is not ours
    again = _tick(instance, first.cursor)
    assert not again.run_requests and "nothing new from bronze/orders" in again.skip_reason.skip_message


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING])
def test_a_pending_run_absorbs_new_materializations_and_the_cursor_moves_on(instance, status):
    _land(instance)
    first = _tick(instance, None)
    assert len(first.run_requests) == 1
    pending = _run(instance, status)  # the requested run, not started yet
    _land(instance)
    _land(instance)
    absorbed = _tick(instance, first.cursor)
    assert not absorbed.run_requests
    assert absorbed.skip_reason.skip_message == (
        f"2 new materialization(s) of bronze/orders absorbed by pending run {pending.run_id} ({status.value}) of {JOB}"
    )
    assert RefreshState.from_cursor(absorbed.cursor).after > RefreshState.from_cursor(first.cursor).after
    assert not _tick(instance, absorbed.cursor).run_requests  # already absorbed: not requested again later


def _step_started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    instance.report_dagster_event(
        dg.DagsterEvent(event_type_value=dg.DagsterEventType.STEP_START.value, job_name=run.job_name, step_key="silver__orders"), run_id=run.run_id
    )


def test_a_started_run_absorbs_until_its_first_step_begins(instance):
    """Its steps read bronze after their STEP_START: a commit made before that is theirs, one after may be missed."""
    _land(instance)
    first = _tick(instance, None)
    starting = _run(instance, dg.DagsterRunStatus.STARTED)  # its process is starting: no step yet
    _land(instance)
    absorbed = _tick(instance, first.cursor)
    assert not absorbed.run_requests and f"absorbed by pending run {starting.run_id} (STARTED)" in absorbed.skip_reason.skip_message
    time.sleep(0.01)
    _step_started(instance, starting)  # began after that commit: it reads it
    assert "absorbed" in _tick(instance, first.cursor).skip_reason.skip_message
    _land(instance)  # lands after the step began: the run may have read bronze already
    (request,) = _tick(instance, absorbed.cursor).run_requests
    assert request.run_key.startswith("orders_refresh_after_arrival:")


def test_a_running_run_or_one_started_by_hand_does_not_absorb_so_the_next_commit_requests_a_run(instance):
    _land(instance)
    first = _tick(instance, None)
    _step_started(instance, _run(instance, dg.DagsterRunStatus.STARTED))  # already reading bronze: it may miss what lands now
    _run(instance, dg.DagsterRunStatus.QUEUED, job_name="clickstream_refresh", sensor="clickstream_refresh_after_arrival")  # another job's
    _run(instance, dg.DagsterRunStatus.QUEUED, sensor=None)  # started by hand: it may select less than the sensor's runs
    _land(instance)
    second = _tick(instance, first.cursor)
    (request,) = second.run_requests
    assert request.run_key != first.run_requests[0].run_key


def test_the_cursor_survives_a_restart_of_the_instance(home: Path):
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        _land(instance)
        cursor = _tick(instance, None).cursor
    with dg.instance_for_test(temp_dir=str(home)) as reopened:  # same storage, a new process's view
        assert not _tick(reopened, cursor).run_requests  # nothing new: the commit is not refreshed twice
        _land(reopened)
        (request,) = _tick(reopened, cursor).run_requests
        assert request.run_key == f"orders_refresh_after_arrival:{reopened.fetch_materializations(BRONZE, limit=1).records[0].storage_id}"


def test_the_sensor_targets_the_job_with_its_run_config_and_needs_an_upstream_key(instance):
    sensor = _sensor(run_config={"resources": {"spark": {"config": {"job_cluster": True}}}})
    assert sensor.job_name == JOB and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    _land(instance)
    (request,) = _tick(instance, None, sensor).run_requests
    assert request.run_config == {"resources": {"spark": {"config": {"job_cluster": True}}}}
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="needs at least one upstream asset key"):
        refresh_sensor("empty", JOB, [])


def test_several_upstream_keys_are_read_from_one_cursor(instance):
    customers, history = dg.AssetKey(["bronze", "customers"]), dg.AssetKey(["bronze", "customers_cdc"])
    sensor = refresh_sensor("customers_refresh_after_arrival", "customers_refresh", [customers, history])
    _land(instance, history)
    first = _tick(instance, None, sensor)
    (request,) = first.run_requests
    assert request.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "bronze/customers_cdc"
    _run(instance, dg.DagsterRunStatus.QUEUED, job_name="customers_refresh", sensor="customers_refresh_after_arrival")
    _land(instance, customers)
    _land(instance, history)
    message = _tick(instance, first.cursor, sensor).skip_reason.skip_message
    assert message.startswith("2 new materialization(s) of bronze/customers, bronze/customers_cdc absorbed by pending run")
