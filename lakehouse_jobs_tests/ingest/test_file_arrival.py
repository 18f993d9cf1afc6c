"""The file-arrival sensor: new files once per batch, Databricks' timers, a small durable cursor."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.ingest.file_arrival import IN_TICK_WAIT_SECONDS, LAG_SECONDS, ArrivalState, decide, file_arrival_sensor


def _sensor(folder: Path | str, **kwargs) -> dg.SensorDefinition:
    return file_arrival_sensor(
        name="landing_sensor", location=folder, job_name="ingest",
        run_config_for_files=lambda files, location: {"ops": {"bronze__t": {"config": {"files": files, "location": location}}}}, **kwargs,
    )  # fmt: skip


def _tick(sensor, cursor=None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def _touch(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_new_files_launch_one_run_with_exactly_those_files_and_the_location(tmp_path):
    folder = tmp_path / "landing" / "orders"
    a, b = _touch(folder / "a.csv"), _touch(folder / "2026" / "01" / "b.csv")
    _touch(folder / ".a.csv.tmp"), _touch(folder / "_staging" / "c.csv"), _touch(folder / "_SUCCESS")
    sensor = _sensor(folder, tags={"team": "x"})
    first = _tick(sensor)
    (request,) = first.run_requests
    config = request.run_config["ops"]["bronze__t"]["config"]
    assert config == {"files": [str(b), str(a)], "location": str(folder)}
    assert request.tags["lakehouse_jobs/trigger.type"] == "file_arrival"
    assert request.tags["lakehouse_jobs/trigger.file_arrival.location"] == str(folder)
    assert request.tags["team"] == "x"
    assert request.run_key.startswith("landing_sensor:1:")
    again = _tick(sensor, first.cursor)  # the durable cursor: nothing new, nothing launched
    assert not again.run_requests and "no new files" in again.skip_reason.skip_message
    c = _touch(folder / "c.csv")
    (second,) = _tick(sensor, again.cursor).run_requests
    assert second.run_config["ops"]["bronze__t"]["config"]["files"] == [str(c)]
    assert second.run_key.startswith("landing_sensor:2:")


def test_a_replayed_tick_produces_the_same_run_key_so_dagster_launches_it_once(tmp_path):
    _touch(tmp_path / "a.csv")
    sensor = _sensor(tmp_path)
    assert _tick(sensor).run_requests[0].run_key == _tick(sensor).run_requests[0].run_key


def test_wait_after_last_change_restarts_with_each_new_file():
    state, t0 = ArrivalState(), 1_000.0
    kw = dict(wait_after_last_change_seconds=2.0)
    d = decide(state, {"a": t0}, listed_at=t0 + 0.5, now=t0 + 0.5, **kw)
    assert not d.files and "waiting 1.5s more" in d.reason
    d = decide(d.state, {"a": t0, "b": t0 + 1.5}, listed_at=t0 + 2.6, now=t0 + 2.6, **kw)
    assert not d.files  # b restarted the wait
    d = decide(d.state, {"a": t0, "a2": t0 - 50, "b": t0 + 1.5}, listed_at=t0 + 3.6, now=t0 + 3.6, **kw)
    assert d.files == ["a", "b"]  # a2's ctime is below the watermark: it was there before the sensor's first look


def test_timers_report_how_long_until_the_batch_may_fire():
    d = decide(ArrivalState(), {"a": 10.0}, listed_at=10.5, now=10.5, wait_after_last_change_seconds=2.0)
    assert d.wait_s == pytest.approx(1.5)
    fired = decide(ArrivalState(), {"a": 10.0}, listed_at=13.0, now=13.0, wait_after_last_change_seconds=2.0)
    d = decide(fired.state, {"a": 10.0, "b": 14.0}, listed_at=15.0, now=15.0, min_time_between_triggers_seconds=10.0)
    assert not d.files and d.wait_s == pytest.approx(8.0)


def test_a_short_debounce_is_waited_out_within_the_tick_not_a_daemon_loop_later(tmp_path):
    _touch(tmp_path / "a.csv")
    started = time.monotonic()
    result = _tick(_sensor(tmp_path, wait_after_last_change_seconds=1.0))
    assert [len(r.run_config["ops"]["bronze__t"]["config"]["files"]) for r in result.run_requests] == [1]
    assert time.monotonic() - started >= 1.0  # the file was quiet for the whole debounce before it was taken
    _touch(tmp_path / "b.csv")
    started = time.monotonic()
    longer = _tick(_sensor(tmp_path, wait_after_last_change_seconds=IN_TICK_WAIT_SECONDS + 3))
    assert not longer.run_requests and "waiting" in longer.skip_reason.skip_message
    assert time.monotonic() - started < IN_TICK_WAIT_SECONDS  # a long timer is left to a later tick


def test_a_file_still_being_written_restarts_the_wait():
    kw = dict(wait_after_last_change_seconds=1.0)
    d = decide(ArrivalState(), {"a": 10.0}, listed_at=10.2, now=10.2, **kw)
    d = decide(d.state, {"a": 11.0}, listed_at=11.5, now=11.5, **kw)  # appended to at 11.0
    assert not d.files
    assert decide(d.state, {"a": 11.0}, listed_at=12.1, now=12.1, **kw).files == ["a"]


def test_min_time_between_triggers_batches_files_that_arrive_meanwhile():
    kw = dict(min_time_between_triggers_seconds=10.0)
    d = decide(ArrivalState(), {"a": 100.0}, listed_at=100.1, now=100.1, **kw)
    assert d.files == ["a"]
    d = decide(d.state, {"a": 100.0, "b": 101.0}, listed_at=101.1, now=101.1, **kw)
    assert not d.files and "next trigger allowed in 9.0s" in d.reason
    d = decide(d.state, {"a": 100.0, "b": 101.0, "c": 105.0}, listed_at=110.2, now=110.2, **kw)
    assert d.files == ["b", "c"] and d.state.batch == 2


def test_a_file_landing_while_the_listing_runs_is_not_lost():
    d = decide(ArrivalState(), {"a": 100.0}, listed_at=100.5, now=100.6)
    assert d.state.hw == pytest.approx(100.5 - LAG_SECONDS)
    # b's ctime is older than the previous listing's start, but it was not visible to it
    assert decide(d.state, {"a": 100.0, "b": 100.4}, listed_at=101.5, now=101.5).files == ["b"]


def test_the_cursor_stays_small_however_many_files_were_seen(tmp_path):
    old = time.time() - 3600
    for i in range(1000):
        path = _touch(tmp_path / f"d{i % 10}" / f"f{i}.csv")
        os.utime(path, (old, old))
    sensor = _sensor(tmp_path)
    first = _tick(sensor)
    assert len(first.run_requests[0].run_config["ops"]["bronze__t"]["config"]["files"]) == 1000
    time.sleep(LAG_SECONDS + 0.1)
    second = _tick(sensor, first.cursor)
    assert not second.run_requests
    assert len(second.cursor) < 300 and json.loads(second.cursor)["recent"] == {}


def test_file_urls_and_bad_timers(tmp_path):
    _touch(tmp_path / "a.json")
    assert _tick(_sensor(tmp_path.as_uri())).run_requests
    with pytest.raises(SpecError, match="only local folders"):
        file_arrival_sensor(name="s", location="s3://bucket/x", job_name="j")
    with pytest.raises(SpecError, match="wait_after_last_change_seconds"):
        file_arrival_sensor(name="s", location=tmp_path, job_name="j", wait_after_last_change_seconds=-1)


def test_a_missing_folder_is_skipped_not_an_error(tmp_path):
    result = _tick(_sensor(tmp_path / "not_yet"))
    assert not result.run_requests and result.skip_reason.skip_message == "no new files"


@dg.op(config_schema={"fail": bool})
def _batch(context) -> None:
    if context.op_config["fail"]:
        raise RuntimeError("the run worker died")  # as run monitoring reports a killed run: FAILURE


@dg.job
def _batch_job():
    _batch()


def _end_run(instance, run_key: str, *, fail: bool) -> None:
    """A real run of the batch (tagged with its run key, as Dagster tags a sensor's runs) that fails or succeeds."""
    _batch_job.execute_in_process(
        run_config={"ops": {"_batch": {"config": {"fail": fail}}}}, instance=instance, tags={"dagster/run_key": run_key}, raise_on_error=False
    )


def test_the_files_of_a_failed_run_are_offered_again_a_bounded_number_of_times(tmp_path):
    a, b = _touch(tmp_path / "a.csv"), _touch(tmp_path / "b.csv")
    sensor = _sensor(tmp_path, redeliver_failed=2)
    plain = _sensor(tmp_path)  # a job trigger: Databricks never re-offers a failed run's files
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance))
        (request,) = first.run_requests
        _end_run(instance, request.run_key, fail=True)
        again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        (retry,) = again.run_requests  # both files, in a new batch (a new run key)
        assert retry.run_config["ops"]["bronze__t"]["config"]["files"] == [str(a), str(b)]
        assert retry.run_key != request.run_key and retry.run_key.startswith("landing_sensor:2:")

        _end_run(instance, retry.run_key, fail=True)
        third = sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor))
        (last,) = third.run_requests
        _end_run(instance, last.run_key, fail=True)  # offered twice already: left for a manual run
        done = sensor(dg.build_sensor_context(instance=instance, cursor=third.cursor))
        assert not done.run_requests
        assert json.loads(done.cursor).get("inflight", {}) == {} and json.loads(done.cursor).get("attempts", {}) == {}

        c = _touch(tmp_path / "c.csv")
        fresh_tick = sensor(dg.build_sensor_context(instance=instance, cursor=done.cursor))
        (fresh,) = fresh_tick.run_requests
        assert fresh.run_config["ops"]["bronze__t"]["config"]["files"] == [str(c)]
        _end_run(instance, fresh.run_key, fail=False)  # a run that succeeded: nothing offered again
        after = sensor(dg.build_sensor_context(instance=instance, cursor=fresh_tick.cursor))
        assert not after.run_requests and json.loads(after.cursor).get("inflight", {}) == {}

        once = plain(dg.build_sensor_context(instance=instance))
        _end_run(instance, once.run_requests[0].run_key, fail=True)
        assert not plain(dg.build_sensor_context(instance=instance, cursor=once.cursor)).run_requests


# ------------------------------------------------------------------ coalescing (ingested_files=)

_DURING_STEP: list = []  # what the listing step below does while its run is STARTED (set by the test)


@dg.op
def _listing_step() -> None:
    for action in _DURING_STEP:
        action()


@dg.job
def _listing_job():
    _listing_step()


def _files_of(result: dg.SensorResult) -> list[str]:
    return [Path(f).name for r in result.run_requests for f in r.run_config["ops"]["bronze__t"]["config"]["files"]]


def test_new_files_are_left_to_a_run_that_lists_the_folder_after_they_landed(tmp_path):
    """Coalescing: a file waits for this sensor's run that has not started its step, or started it after the
    file landed (its listing sees the file); once that run ended, what its commit holds is not launched again."""
    ingested: set[str] = set()
    sensor = file_arrival_sensor(
        name="landing_sensor", location=tmp_path, job_name="_listing_job", ingested_files=lambda: ingested,
        run_config_for_files=lambda files, location: {"ops": {"bronze__t": {"config": {"files": files}}}},
    )  # fmt: skip
    mine = {"dagster/sensor_name": "landing_sensor"}
    with dg.instance_for_test() as instance:

        def tick(cursor):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))

        _touch(tmp_path / "a.csv")
        first = tick(None)
        assert _files_of(first) == ["a.csv"]  # no run of ours yet: launched at once

        queued = instance.create_run_for_job(_listing_job, tags=mine)  # NOT_STARTED: will list the folder later
        other = instance.create_run_for_job(_listing_job, tags={"dagster/sensor_name": "another_sensor"})
        _touch(tmp_path / "b.csv")
        held = tick(first.cursor)
        assert not held.run_requests and "left to a run" in held.skip_reason.skip_message
        instance.report_run_canceled(queued)  # ... but it never ran: b is launched after all
        instance.report_run_canceled(other)
        freed = tick(held.cursor)
        assert _files_of(freed) == ["b.csv"]

        seen: dict[str, dg.SensorResult] = {}
        _touch(tmp_path / "c.csv")
        time.sleep(0.05)

        def while_running():  # our run is STARTED and its step began after c landed: c is left to it
            seen["c"] = tick(freed.cursor)
            time.sleep(0.05)
            _touch(tmp_path / "d.csv")  # lands after the step started: the listing may have missed it
            seen["d"] = tick(seen["c"].cursor)

        _DURING_STEP[:] = [while_running]
        try:
            assert _listing_job.execute_in_process(instance=instance, tags=mine).success
        finally:
            _DURING_STEP.clear()
        assert not seen["c"].run_requests and "left to a run" in seen["c"].skip_reason.skip_message
        assert _files_of(seen["d"]) == ["d.csv"]

        ingested.add("c.csv")  # the run ended and its commit holds c: nothing left to launch
        after = tick(seen["d"].cursor)
        assert not after.run_requests and "already ingested by an earlier run" in after.skip_reason.skip_message
        assert not tick(after.cursor).run_requests  # c is not offered later either

    with dg.instance_for_test() as instance:  # a run that ended without committing its files: they are launched
        ingested.clear()
        _touch(tmp_path / "e.csv")
        _DURING_STEP[:] = [lambda: seen.__setitem__("e", tick(after.cursor))]
        try:
            assert _listing_job.execute_in_process(instance=instance, tags=mine).success
        finally:
            _DURING_STEP.clear()
        assert not seen["e"].run_requests
        assert _files_of(tick(seen["e"].cursor)) == ["e.csv"]


def test_an_unreadable_target_does_not_stop_arrivals(tmp_path):
    def broken() -> set[str]:
        raise OSError("the table's log is unreadable")

    _touch(tmp_path / "a.csv")
    sensor = file_arrival_sensor(name="s", location=tmp_path, job_name="j", ingested_files=broken)
    (request,) = _tick(sensor).run_requests  # launched; the run reports the table's problem itself
    assert request.run_key.startswith("s:1:")


def test_new_files_call_on_new_files_once_per_tick_and_a_failing_hook_loses_nothing(tmp_path):
    calls: list[int] = []
    sensor = _sensor(tmp_path, wait_after_last_change_seconds=60, on_new_files=lambda: calls.append(1))
    first = _tick(sensor)
    assert calls == []  # nothing new: no warm-up
    _touch(tmp_path / "a.csv")
    waiting = _tick(sensor, first.cursor)
    assert not waiting.run_requests and calls == [1]  # seen while it settles: the warm-up starts before the run
    _tick(sensor, waiting.cursor)
    assert calls == [1, 1]  # still waiting: each tick may start it again (a no-op once it runs)

    def broken() -> None:
        raise RuntimeError("no Java here")

    (request,) = _tick(_sensor(tmp_path, on_new_files=broken)).run_requests
    assert request.run_config["ops"]["bronze__t"]["config"]["files"] == [str(tmp_path / "a.csv")]
