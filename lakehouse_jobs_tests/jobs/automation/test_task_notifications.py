"""Task-level notifications: a real job run on a real instance, delivering to a real SMTP server
(aiosmtpd) and a real HTTP receiver on 127.0.0.1 from the tasks' own steps."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import pytest

from lakehouse_jobs.lib.jobs.automation.notifications import run_url
from lakehouse_jobs.lib.jobs.validate import validate_document
from lakehouse_jobs_tests.jobs.automation.test_notifications import Inbox, smtp, subject, webhook  # noqa: F401 - fixtures
from lakehouse_jobs_tests.jobs.jobrun import py, run_spec, task

HOOK = {"id": "env:TEST_FAILURE_WEBHOOK"}


def emails(inbox: Inbox) -> Counter:
    """(recipient, task_key, event, state) of every message received."""
    found = Counter()
    for rcpts, message in inbox.messages:
        words = subject(message).split()  # [lakehouse_jobs] <job> / <task>: <event> <state> (run ...)
        found[(",".join(sorted(rcpts)), words[3].rstrip(":"), words[4], words[5])] += 1
    return found


def posts(received: list) -> Counter:
    return Counter((body["task"]["task_key"], body["event_type"], body["task"]["state"], body["task"]["attempt"]) for _, _, body in received)


def test_task_alerts_follow_the_task_lifecycle(instance, smtp: Inbox, webhook: list, tmp_path: Path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://dagster.test:3000/")
    log = str(tmp_path / "log.jsonl")
    every = {"on_start": ["ops@x.test"], "on_success": ["ops@x.test"], "on_failure": ["ops@x.test"]}
    spec = {
        "name": "alerts",
        "tasks": [
            task("ok", py("ok", log, "ok"), email_notifications=every, webhook_notifications={"on_success": [HOOK]}),
            # fails on every attempt; on_failure after the last only, on_start for the first only
            task("flaky", py("fail", log, "flaky"), max_retries=1, email_notifications=every, notification_settings={"alert_on_last_attempt": True}),
            # the default: on_start and on_failure for each attempt
            task("noisy", py("fail", log, "noisy"), max_retries=1, webhook_notifications={"on_start": [HOOK], "on_failure": [HOOK]}),
            task("muted", py("ok", log, "muted"), "flaky", email_notifications=every, notification_settings={"no_alert_for_skipped_runs": True}),
            task("loud", py("ok", log, "loud"), "flaky", email_notifications={"on_failure": ["lead@x.test"]}),
            task(
                "slow",
                py("sleep", log, "slow", "2"),
                health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1}]},
                email_notifications={"on_duration_warning_threshold_exceeded": ["ops@x.test"]},
                webhook_notifications={"on_duration_warning_threshold_exceeded": [HOOK]},
            ),
            task(
                "fast",
                py("ok", log, "fast"),
                health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 30}]},
                email_notifications={"on_duration_warning_threshold_exceeded": ["ops@x.test"]},
            ),  # fmt: skip
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {
        "ok": "SUCCESS",
        "flaky": "FAILED",
        "noisy": "FAILED",
        "muted": "UPSTREAM_FAILED",
        "loud": "UPSTREAM_FAILED",
        "slow": "SUCCESS",
        "fast": "SUCCESS",
    }
    assert emails(smtp) == Counter(
        {
            ("ops@x.test", "ok", "on_start", "RUNNING"): 1,
            ("ops@x.test", "ok", "on_success", "SUCCESS"): 1,
            ("ops@x.test", "flaky", "on_start", "RUNNING"): 1,
            ("ops@x.test", "flaky", "on_failure", "FAILED"): 1,
            ("lead@x.test", "loud", "on_failure", "UPSTREAM_FAILED"): 1,
            ("ops@x.test", "slow", DURATION, "RUNNING"): 1,
        }
    )
    assert posts(webhook) == Counter(
        {
            ("ok", "jobs.on_success", "SUCCESS", 1): 1,
            ("noisy", "jobs.on_start", "RUNNING", 1): 1,
            ("noisy", "jobs.on_failure", "FAILED", 1): 1,
            ("noisy", "jobs.on_start", "RUNNING", 2): 1,
            ("noisy", "jobs.on_failure", "FAILED", 2): 1,
            ("slow", f"jobs.{DURATION}", "RUNNING", 1): 1,
        }
    )
    flaky = next(m for _, m in smtp.messages if "flaky: on_failure" in subject(m))
    assert subject(flaky) == f"[lakehouse_jobs] alerts / flaky: on_failure FAILED (run {result.run_id[:8]}): RuntimeError: flaky fails on purpose"
    failure = next(body for _, _, body in webhook if body["event_type"] == "jobs.on_failure" and body["task"]["attempt"] == 2)
    assert failure["job"]["name"] == "alerts" and failure["run"] == {"run_id": result.run_id, "run_page_url": f"http://dagster.test:3000/runs/{result.run_id}"}
    assert failure["task"]["error"] == "RuntimeError: noisy fails on purpose" and failure["task"]["duration_seconds"] >= 0
    slow = next(body for _, _, body in webhook if body["task"]["task_key"] == "slow")
    assert 1 <= slow["task"]["duration_seconds"] < 2 and slow["task"]["end_time"] is None


DURATION = "on_duration_warning_threshold_exceeded"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe goes


def test_failed_deliveries_never_fail_the_task(instance, smtp: Inbox, tmp_path: Path, monkeypatch):  # noqa: F811
    secret = f"http://127.0.0.1:{closed_port()}/hooks/T0/secret-token"
    monkeypatch.setenv("CLOSED_HOOK", secret)
    monkeypatch.delenv("UNSET_HOOK", raising=False)
    hooks = {"on_success": [{"id": "env:UNSET_HOOK"}, {"id": "env:CLOSED_HOOK"}]}
    spec = {
        "name": "quiet",
        "tasks": [task("ok", py("ok", str(tmp_path / "log"), "ok"), webhook_notifications=hooks, email_notifications={"on_success": ["ops@x.test"]})],
    }
    result = run_spec(instance, spec)
    assert result.states == {"ok": "SUCCESS"} and result.success
    assert [subject(m) for _, m in smtp.messages] == [f"[lakehouse_jobs] quiet / ok: on_success SUCCESS (run {result.run_id[:8]})"]  # the rest still delivered
    warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == 30 and "notification" in entry.user_message]
    assert len(warnings) == 2
    assert "env:UNSET_HOOK" in warnings[0] and "is not set" in warnings[0]
    assert "env:CLOSED_HOOK failed" in warnings[1]
    assert not any("secret-token" in entry.user_message for entry in instance.all_logs(result.run_id))


def test_task_notification_problems_are_reported_at_the_task_field():
    def job(**fields) -> dict:
        return {"name": "j", "tasks": [{"task_key": "a", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}, **fields}]}

    cases = {
        "tasks[0].email_notifications.on_failure[0]": job(email_notifications={"on_failure": ["not-an-address"]}),
        "tasks[0].webhook_notifications.on_start[0].id": job(webhook_notifications={"on_start": [{"id": "https://hooks.slack.com/services/T0/B0/secret"}]}),
        "tasks[0].notification_settings.alert_on_last_attempt": job(notification_settings={"alert_on_last_attempt": "yes"}),
        "tasks[0].notification_settings.typo": job(notification_settings={"typo": True}),
        "tasks[0].health.rules[0].op": job(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "LESS_THAN", "value": 1}]}),
        f"tasks[0].email_notifications.{DURATION}": job(email_notifications={DURATION: ["a@x.test"]}),
    }
    for path, spec in cases.items():
        problems = validate_document(spec)
        assert [p for p, _ in problems] == [path], (path, problems)
        assert "hooks.slack.com" not in str(problems)
    good = job(
        email_notifications={"on_start": ["a@x.test"], "on_failure": ["a@x.test"]},
        webhook_notifications={"on_success": [HOOK]},
        notification_settings={"alert_on_last_attempt": True, "no_alert_for_skipped_runs": True, "no_alert_for_canceled_runs": False},
        health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 5}]},
    )
    assert validate_document(good) == []
    # alert_on_last_attempt is a task setting: a job's notification_settings refuse it, as Databricks' JobNotificationSettings has none
    assert [p for p, _ in validate_document({**job(), "notification_settings": {"alert_on_last_attempt": True}})] == [
        "notification_settings.alert_on_last_attempt"
    ]
    nested = {
        "name": "j",
        "tasks": [
            {
                "task_key": "each",
                "for_each_task": {"inputs": "[1]", "task": {"task_key": "inner", **py("ok", "x"), "email_notifications": {"on_failure": ["a@x.test"]}}},
            }
        ],
    }
    assert [p for p, _ in validate_document(nested)] == ["tasks[0].for_each_task.task.email_notifications"]


@pytest.fixture(autouse=True)
def _webserver_url(monkeypatch):
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)


def test_run_page_url_defaults_to_the_local_webserver():
    assert run_url("abc") == "http://127.0.0.1:3000/runs/abc"
