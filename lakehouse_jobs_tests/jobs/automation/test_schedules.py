"""Quartz cron -> Dagster schedules: conversion, refusals, time zones, pause, skip at the run limit."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.automation.schedules import compile_schedule, quartz_problems, quartz_to_cron


@pytest.mark.parametrize(
    ("quartz", "cron"),
    [
        ("0 0 1 * * ?", "0 1 * * *"),  # the example's nightly refresh
        ("0 */15 * ? * MON-FRI", "*/15 * * * 1-5"),
        ("0 0/15 8-18 ? * 2-6", "*/15 8-18 * * 1-5"),  # Quartz 2=MON..6=FRI
        ("0 5/20 * * * ?", "5,25,45 * * * *"),  # start/step
        ("0 0 22-2 * * ?", "0 0-2,22,23 * * *"),  # Quartz wraps ranges around
        ("0 0 12 ? * FRI-MON", "0 12 * * 0,1,5,6"),
        ("0 0 0 1,15 JAN,JUL ?", "0 0 1,15 1,7 *"),
        ("0 30 6 ? * 1", "30 6 * * 0"),  # Quartz 1 = Sunday = cron 0
        ("0 30 6 ? * SAT", "30 6 * * 6"),
        ("0 0 0 * * ? *", "0 0 * * *"),  # any year
        ("0 0 0 ? * wed", "0 0 * * 3"),  # names are case-insensitive
    ],
)
def test_quartz_converts_to_equivalent_cron(quartz: str, cron: str):
    assert quartz_problems(quartz) == []
    assert quartz_to_cron(quartz) == cron


@pytest.mark.parametrize(
    ("quartz", "words"),
    [
        ("30 0 0 * * ?", "once a minute"),
        ("0/10 * * * * ?", "seconds"),
        ("0 0 12 L * ?", "'L'"),
        ("0 0 12 ? * 6L", "'L'"),
        ("0 0 0 15W * ?", "'W'"),
        ("0 0 0 ? * 6#3", "'#'"),
        ("0 0 0 * * ? 2027", "year"),
        ("0 0 0 * * *", "'?'"),  # Quartz needs '?' in exactly one day field
        ("0 0 0 ? * ?", "'?'"),
        ("0 0 0 * *", "6 or 7 fields"),
        ("0 61 0 * * ?", "outside 0-59"),
        ("0 0 0 ? * 8", "outside 1-7"),
        ("0 0 0 ? FOO * ", "not a number or name"),
        ("0 0/0 * * * ?", "increment"),
    ],
)
def test_inexpressible_or_invalid_quartz_is_refused_clearly(quartz: str, words: str):
    problems = quartz_problems(quartz)
    assert len(problems) == 1 and words in problems[0], problems
    with pytest.raises(SpecError, match="schedule.quartz_cron_expression"):
        quartz_to_cron(quartz)


def test_schedule_fires_in_its_time_zone_and_honours_pause():
    schedule = compile_schedule("nightly", {"quartz_cron_expression": "0 0 1 * * ?", "timezone_id": "Europe/Paris"}, job_key="nightly")
    assert schedule.cron_schedule == "0 1 * * *" and schedule.execution_timezone == "Europe/Paris"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    start = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    ticks = cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone)
    first, second = next(ticks), next(ticks)  # across the DST change: still 01:00 local
    assert (first.hour, first.day, second.hour, second.day) == (1, 29, 1, 30)
    paused = compile_schedule("nightly", {"quartz_cron_expression": "0 0 1 * * ?", "pause_status": "PAUSED"}, job_key="nightly")
    assert paused.default_status == dg.DefaultScheduleStatus.STOPPED and paused.execution_timezone == "UTC"


@pytest.mark.parametrize(
    ("schedule", "path"),
    [
        ({"quartz_cron_expression": "0 0 1 * * ?", "timezone_id": "Mars/Olympus"}, "schedule.timezone_id"),
        ({"quartz_cron_expression": "0 0 1 * * ?", "pause_status": "SLEEPING"}, "schedule.pause_status"),
        ({"timezone_id": "UTC"}, "schedule.quartz_cron_expression"),
    ],
)
def test_bad_schedule_fields_name_their_path(schedule: dict, path: str):
    with pytest.raises(SpecError, match=path):
        compile_schedule("nightly", schedule, job_key="nightly")


@dg.op
def _noop():
    return None


@dg.job
def nightly():
    _noop()


def test_schedule_tags_its_runs_and_skips_at_the_run_limit():
    job = {"max_concurrent_runs": 1, "queue": {"enabled": False}}
    schedule = compile_schedule("nightly", {"quartz_cron_expression": "0 0 1 * * ?"}, job_key="nightly_key", job=job)
    with dg.instance_for_test() as instance:
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
        [request] = result.run_requests
        assert request.tags["lakehouse_jobs/trigger.type"] == "cron"
        assert request.tags["lakehouse_jobs/job_key"] == "nightly_key"
        assert request.tags["lakehouse_jobs/max_concurrent_runs.1"] == "nightly_key"
        # one run of the job is in progress: the next tick is skipped, not launched
        run = instance.create_run_for_job(nightly, status=dg.DagsterRunStatus.STARTED)
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
        assert not result.run_requests and "max_concurrent_runs is 1" in result.skip_message
        instance.report_run_failed(run)
        assert schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
