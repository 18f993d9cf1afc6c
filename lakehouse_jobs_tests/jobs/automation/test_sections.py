"""Each job section is checked once: `validate` reports exactly what compiling that section refuses with."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import validate_document
from lakehouse_jobs.lib.jobs.automation import fields, schedules, triggers
from lakehouse_jobs.lib.jobs.automation.notifications import compile_notifications
from lakehouse_jobs.lib.jobs.automation.schedules import compile_schedule
from lakehouse_jobs.lib.jobs.automation.sections import trigger_problems
from lakehouse_jobs.lib.jobs.automation.triggers import compile_continuous, compile_trigger
from lakehouse_jobs.lib.jobs.concurrency import concurrency_tags

TASK = {"task_key": "a", "condition_task": {"left": "1", "op": "EQUAL_TO", "right": "1"}}
NIGHTLY = {"quartz_cron_expression": "0 0 1 * * ?"}
PREFIX = "resources.jobs.x."


def validate(**job) -> list[tuple[str, str]]:
    return validate_document({"resources": {"jobs": {"x": {"name": "x", "tasks": [TASK], **job}}}})


def compile_all(job: dict, root: Path) -> None:
    """Every compile function that reads a section of `job`, as build_definitions calls them."""
    if "schedule" in job:
        compile_schedule("x", job["schedule"], job_key="x", job=job)
    if "trigger" in job:
        compile_trigger("x", job["trigger"], job_key="x", lakehouse_root=root, job=job)
    if "continuous" in job:
        compile_continuous("x", job["continuous"], job_key="x", job=job)
    compile_notifications("x", job, job_key="x")
    concurrency_tags(job, job_key="x")


BAD = {
    "schedule.pause_status": {"schedule": {**NIGHTLY, "pause_status": "MAYBE"}},
    "schedule.timezone_id": {"schedule": {**NIGHTLY, "timezone_id": "Mars/Base"}},
    "schedule.quartz_cron_expression": {"schedule": {"quartz_cron_expression": "30 0 0 * * ?"}},
    "schedule.quartz_cron_expression (missing)": {"schedule": {"timezone_id": "UTC"}},
    "schedule.every": {"schedule": {**NIGHTLY, "every": "day"}},
    "schedule": {"schedule": "nightly"},
    "trigger.pause_status": {"trigger": {"periodic": {"interval": 1, "unit": "DAYS"}, "pause_status": "OFF"}},
    "trigger": {"trigger": {"periodic": {"interval": 1, "unit": "DAYS"}, "table_update": {"table_names": ["silver.x"]}}},
    "trigger.periodic.unit": {"trigger": {"periodic": {"interval": 1, "unit": "MINUTES"}}},
    "trigger.periodic.interval": {"trigger": {"periodic": {"interval": 0, "unit": "DAYS"}}},
    "trigger.periodic.interval (missing)": {"trigger": {"periodic": {"unit": "DAYS"}}},
    "trigger.table_update.table_names": {"trigger": {"table_update": {"table_names": []}}},
    "trigger.table_update.table_names[0]": {"trigger": {"table_update": {"table_names": ["platinum.x"]}}},
    "trigger.table_update.condition": {"trigger": {"table_update": {"table_names": ["silver.x"], "condition": "SOME"}}},
    "trigger.table_update.wait_after_last_change_seconds": {"trigger": {"table_update": {"table_names": ["silver.x"], "wait_after_last_change_seconds": -1}}},
    "trigger.file_arrival.url": {"trigger": {"file_arrival": {"url": "s3://bucket/landing"}}},
    "continuous.pause_status": {"continuous": {"pause_status": "SOMETIMES"}},
    "continuous.mode": {"continuous": {"mode": "fast"}},
    "webhook_notifications.on_failure[0].id": {"webhook_notifications": {"on_failure": [{"id": "https://hooks.example/secret"}]}},
    "webhook_notifications.on_failure": {"webhook_notifications": {"on_failure": [{"id": f"env:H{i}"} for i in range(4)]}},
    "email_notifications.on_failure[0]": {"email_notifications": {"on_failure": ["not-an-address"]}},
    "email_notifications.on_duration_warning_threshold_exceeded": {"email_notifications": {"on_duration_warning_threshold_exceeded": ["a@b.c"]}},
    "health.rules[0].metric": {"health": {"rules": [{"metric": "STREAMING_BACKLOG_BYTES", "op": "GREATER_THAN", "value": 1}]}},
    "health.rules[0].op": {"health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "LESS_THAN", "value": 1}]}},
    "health.rules[0].value": {"health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 0}]}},
    "notification_settings.typo": {"notification_settings": {"typo": True}},
    "max_concurrent_runs": {"max_concurrent_runs": 1001},
    "queue": {"queue": {"enabled": "yes"}},
}


@pytest.mark.parametrize("field", list(BAD))
def test_validate_reports_exactly_what_compile_refuses(field: str, tmp_path: Path):
    job = BAD[field]
    with pytest.raises(SpecError) as refused:
        compile_all(job, tmp_path)
    assert refused.value.path == field.split(" ")[0]
    assert validate(**job) == [(PREFIX + refused.value.path, refused.value.message)]


def test_a_valid_job_compiles_and_validates(tmp_path: Path):
    job = {
        "trigger": {"table_update": {"table_names": ["silver.orders", "gold/daily"], "condition": "ALL_UPDATED"}, "pause_status": "PAUSED"},
        "email_notifications": {"on_duration_warning_threshold_exceeded": ["ops@x.test"], "no_alert_for_skipped_runs": True},
        "webhook_notifications": {"on_failure": [{"id": "env:HOOK"}]},
        "health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 60}]},
        "max_concurrent_runs": 3,
        "queue": {"enabled": True},
    }
    assert validate(**job) == []
    compile_all(job, tmp_path)


def test_pause_status_is_checked_by_the_one_helper_for_schedule_trigger_and_continuous(monkeypatch, tmp_path: Path):
    seen: list[str] = []

    def spy(problems, obj, path):
        seen.append(path)
        return fields.paused(problems, obj, path)

    monkeypatch.setattr(schedules, "paused", spy)
    monkeypatch.setattr(triggers, "paused", spy)
    sections = {"schedule": NIGHTLY, "trigger": {"periodic": {"interval": 1, "unit": "DAYS"}}, "continuous": {}}
    for name, section in sections.items():
        bad = {name: {**section, "pause_status": "MAYBE"}}
        [(path, message)] = trigger_problems(bad, "job")
        assert (path, message) == (f"job.{name}.pause_status", "expected PAUSED or UNPAUSED, got 'MAYBE'")
        with pytest.raises(SpecError) as refused:
            compile_all(bad, tmp_path)
        assert (refused.value.path, refused.value.message) == (f"{name}.pause_status", message)
    assert seen == ["job.schedule", "schedule", "job.trigger", "trigger", "job.continuous", "continuous"]  # validate, then compile


def test_at_most_one_of_schedule_trigger_continuous_is_a_rule_across_sections():
    problems = trigger_problems({"schedule": NIGHTLY, "continuous": {}}, "job")
    assert problems == [("job.continuous", "a job has at most one of schedule, trigger, continuous; found schedule, continuous")]


def test_the_first_problem_is_the_one_compile_raises():
    section, problems = schedules.parse_schedule({"timezone_id": "Mars/Base", "pause_status": "MAYBE"})
    assert [path for path, _ in problems] == ["schedule.quartz_cron_expression", "schedule.timezone_id", "schedule.pause_status"]
    with pytest.raises(SpecError) as refused:
        fields.checked((section, problems))
    assert (refused.value.path, refused.value.message) == problems[0]
