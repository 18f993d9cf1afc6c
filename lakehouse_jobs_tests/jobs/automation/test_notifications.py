"""Notifications delivered to a real SMTP server (aiosmtpd) and a real HTTP receiver on 127.0.0.1,
from sensors evaluated against real runs on a real instance."""

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.automation.notifications import ALERTED_TAG, DeliveryError, compile_notifications, post_webhook
from lakehouse_jobs.lib.jobs.concurrency import SKIPPED


def subject(message) -> str:
    return " ".join(str(message["Subject"]).split())  # long subjects come back folded


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's readiness check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("LAKEHOUSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LAKEHOUSE_SMTP_PORT", str(port))
    monkeypatch.setenv("LAKEHOUSE_SMTP_SENDER", "jobs@lakehouse.test")
    yield inbox
    controller.stop()


@pytest.fixture
def webhook(monkeypatch):
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TEST_FAILURE_WEBHOOK", f"http://127.0.0.1:{server.server_address[1]}/hooks/failure")
    yield received
    server.shutdown()
    server.server_close()


class Boom(dg.Config):
    fail: bool = False


@dg.op
def work(config: Boom):
    if config.fail:
        raise RuntimeError("boom")


@dg.job
def nightly():
    work()


def run(instance, fail: bool = False) -> str:
    result = nightly.execute_in_process(instance=instance, run_config={"ops": {"work": {"config": {"fail": fail}}}}, raise_on_error=False)
    assert result.success is not fail
    return result.run_id


class Sensors:
    """Ticks the job's notification sensors the way the daemon does: each with its own durable cursor."""

    def __init__(self, instance, job: dict):
        self.instance = instance
        self.sensors = compile_notifications("nightly", job, job_key="nightly_key")
        self.repo = dg.Definitions(jobs=[nightly], sensors=self.sensors).get_repository_def()
        self.cursors: dict[str, str | None] = {}
        self.tick()  # first tick: start from now

    def tick(self) -> list[str]:
        """Evaluate every sensor once; the delivery errors Dagster records on the ticks."""
        errors = []
        for sensor in self.sensors:
            context = dg.build_sensor_context(instance=self.instance, repository_def=self.repo, cursor=self.cursors.get(sensor.name))
            data = sensor.evaluate_tick(context)
            self.cursors[sensor.name] = data.cursor
            errors += [reaction.error.message for reaction in data.dagster_run_reactions if reaction.error]
        return errors


JOB = {
    "email_notifications": {
        "on_start": ["ops@lakehouse.test"],
        "on_success": ["ops@lakehouse.test", "lead@lakehouse.test"],
        "on_failure": ["oncall@lakehouse.test"],
    },
    "webhook_notifications": {"on_failure": [{"id": "env:TEST_FAILURE_WEBHOOK"}]},
}


def test_start_success_and_failure_are_emailed_and_failures_posted(smtp: Inbox, webhook: list):
    with dg.instance_for_test() as instance:
        sensors = Sensors(instance, JOB)
        ok = run(instance)
        assert sensors.tick() == []
        subjects = sorted(subject(message) for _, message in smtp.messages)
        assert subjects == [f"[lakehouse_jobs] nightly: on_start (run {ok[:8]})", f"[lakehouse_jobs] nightly: on_success (run {ok[:8]})"]
        success = next(m for rcpt, m in smtp.messages if "on_success" in subject(m))
        assert success["From"] == "jobs@lakehouse.test" and json.loads(success.get_content())["run"]["run_id"] == ok
        assert sorted(next(rcpt for rcpt, m in smtp.messages if "on_success" in subject(m))) == ["lead@lakehouse.test", "ops@lakehouse.test"]
        assert webhook == []
        smtp.messages.clear()
        failed = run(instance, fail=True)
        sensors.tick()
        sensors.tick()  # durable cursors: nothing is sent twice
        assert sorted(subject(m) for _, m in smtp.messages) == [
            f"[lakehouse_jobs] nightly: on_failure (run {failed[:8]})",
            f"[lakehouse_jobs] nightly: on_start (run {failed[:8]})",
        ]
        [(path, content_type, body)] = webhook
        assert path == "/hooks/failure" and content_type == "application/json"
        assert body["event_type"] == "jobs.on_failure" and body["run"]["run_id"] == failed and body["job"] == {"job_id": "nightly_key", "name": "nightly"}


def cancel(instance, skipped: bool) -> str:
    run = instance.create_run_for_job(nightly, tags={"lakehouse_jobs/result_state": SKIPPED} if skipped else {})
    instance.report_run_canceled(run)
    return run.run_id


@pytest.mark.parametrize(
    ("settings", "alerted"),
    [({}, {"canceled", "skipped"}), ({"no_alert_for_canceled_runs": True}, {"skipped"}), ({"no_alert_for_skipped_runs": True}, {"canceled"})],
)
def test_canceled_and_skipped_runs_alert_on_failure_unless_turned_off(webhook: list, settings: dict, alerted: set):
    with dg.instance_for_test() as instance:
        sensors = Sensors(instance, {**JOB, "email_notifications": {}, "notification_settings": settings})
        ids = {"canceled": cancel(instance, skipped=False), "skipped": cancel(instance, skipped=True)}
        sensors.tick()
        assert {body["run"]["run_id"] for _, _, body in webhook} == {ids[kind] for kind in alerted}


class Hold(dg.Config):
    release_file: str


@dg.op
def hold(config: Hold):
    deadline = time.monotonic() + 60
    while not Path(config.release_file).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@dg.job
def slow():
    hold()


def test_duration_warning_is_sent_once_per_run(smtp: Inbox, webhook: list, tmp_path: Path):
    job = {
        "health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 3}]},
        "email_notifications": {"on_duration_warning_threshold_exceeded": ["ops@lakehouse.test"]},
        "webhook_notifications": {"on_duration_warning_threshold_exceeded": [{"id": "env:TEST_FAILURE_WEBHOOK"}]},
    }
    release = tmp_path / "release"
    [sensor] = compile_notifications("slow", job, job_key="slow_key")
    with dg.instance_for_test() as instance:
        config = {"ops": {"hold": {"config": {"release_file": str(release)}}}}
        thread = threading.Thread(target=slow.execute_in_process, kwargs={"instance": instance, "run_config": config})
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not instance.get_runs(dg.RunsFilter(job_name="slow", statuses=[dg.DagsterRunStatus.STARTED])):
                assert time.monotonic() < deadline, "the run never started"
                time.sleep(0.05)
            sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
            assert webhook == []  # under the threshold yet
            [record] = instance.get_run_records(dg.RunsFilter(job_name="slow"))
            time.sleep(max(0.0, record.start_time + 3.2 - time.time()))
            for _ in range(2):  # over it: warned once, not once per tick
                sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        finally:
            release.touch()
            thread.join()
        [run_record] = instance.get_run_records(dg.RunsFilter(job_name="slow"))
        assert [body["run"]["run_id"] for _, _, body in webhook] == [run_record.dagster_run.run_id]
        assert webhook[0][2]["event_type"] == "jobs.on_duration_warning_threshold_exceeded" and webhook[0][2]["run"]["duration_seconds"] > 3
        assert [subject(m) for _, m in smtp.messages] == [
            f"[lakehouse_jobs] slow: on_duration_warning_threshold_exceeded (run {run_record.dagster_run.run_id[:8]})"
        ]
        assert ALERTED_TAG in run_record.dagster_run.tags


def test_unreachable_destination_fails_the_tick_clearly(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LAKEHOUSE_SMTP_PORT", "1")  # nothing listens there
    with dg.instance_for_test() as instance:
        sensors = Sensors(instance, {"email_notifications": {"on_success": ["ops@lakehouse.test"]}})
        run(instance)
        [error] = sensors.tick()
        assert "email to ops@lakehouse.test via 127.0.0.1:1 failed" in error
    monkeypatch.delenv("UNSET_HOOK", raising=False)
    with pytest.raises(DeliveryError, match="environment variable UNSET_HOOK is not set"):
        post_webhook("UNSET_HOOK", {})


@pytest.mark.parametrize(
    ("job", "path"),
    [
        ({"webhook_notifications": {"on_failure": [{"id": "https://hooks.slack.com/services/T0/B0/secret"}]}}, "webhook_notifications.on_failure[0].id"),
        ({"webhook_notifications": {"on_failure": [{"id": "a1b2-uuid"}]}}, "webhook_notifications.on_failure[0].id"),
        ({"email_notifications": {"on_failure": ["not-an-address"]}}, "email_notifications.on_failure[0]"),
        ({"email_notifications": {"on_duration_warning_threshold_exceeded": ["a@b.c"]}}, "email_notifications.on_duration_warning_threshold_exceeded"),
        ({"health": {"rules": [{"metric": "STREAMING_BACKLOG_BYTES", "op": "GREATER_THAN", "value": 1}]}}, "health.rules[0].metric"),
        ({"health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "LESS_THAN", "value": 1}]}}, "health.rules[0].op"),
    ],
)
def test_bad_notification_fields_are_refused_without_echoing_secrets(job: dict, path: str):
    with pytest.raises(SpecError) as error:
        compile_notifications("nightly", job, job_key="k")
    assert error.value.path == path and "hooks.slack.com" not in str(error.value)
