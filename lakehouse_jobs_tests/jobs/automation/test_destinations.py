"""Slack, Microsoft Teams, PagerDuty and webhook destinations: real job runs on a real instance, their
notification sensors ticked, every message received by a real HTTP server on 127.0.0.1 and checked
against the service's documented format; failing deliveries never fail a run nor show a secret."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import reconstructable_job
from lakehouse_jobs.lib.jobs.automation.notifications import compile_notifications
from lakehouse_jobs.lib.jobs.validate import validate_document
from lakehouse_jobs_tests.jobs.automation.test_notifications import smtp  # noqa: F401 - fixture
from lakehouse_jobs_tests.jobs.jobrun import py, run_spec, task

UI = "http://dagster.example:3000"


class Receiver:
    """A threaded HTTP server recording each POST (path, headers, JSON); `/fail` answers 500."""

    def __init__(self):
        self.received: list[tuple[str, dict, dict]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.path, dict(self.headers), body))
                self.send_response(500 if self.path.startswith("/fail") else 202 if self.path == "/pagerduty" else 200)
                self.end_headers()
                self.wfile.write(b'{"status": "success"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        return [body for p, _, body in self.received if p == path]


@pytest.fixture
def receiver(monkeypatch, tmp_path: Path):
    server = Receiver()
    monkeypatch.setenv("LAKEHOUSE_UI_URL", UI)
    monkeypatch.setenv("LAKEHOUSE_PAGERDUTY_EVENTS_URL", f"{server.url}/pagerduty")
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def destinations_file(tmp_path: Path, monkeypatch, text: str) -> Path:
    path = tmp_path / "destinations.yml"
    path.write_text(text)
    monkeypatch.setenv("LAKEHOUSE_NOTIFICATION_DESTINATIONS", str(path))
    return path


class JobSensors:
    """The job-level notification sensors of `spec`, ticked as the daemon does (durable cursors)."""

    def __init__(self, instance, spec: dict, job_key: str = "nightly_key"):
        self.instance = instance
        self.sensors = compile_notifications(spec["name"], spec, job_key=job_key)
        job = reconstructable_job(spec=spec).get_definition()
        self.repo = dg.Definitions(jobs=[job], sensors=self.sensors).get_repository_def()
        self.cursors: dict[str, str | None] = {}
        self.tick()

    def tick(self) -> list[str]:
        """Every sensor once; the errors Dagster would store on the ticks (their full text, stack included)."""
        errors = []
        for sensor in self.sensors:
            context = dg.build_sensor_context(instance=self.instance, repository_def=self.repo, cursor=self.cursors.get(sensor.name))
            data = sensor.evaluate_tick(context)
            self.cursors[sensor.name] = data.cursor
            errors += [reaction.error.to_string() for reaction in data.dagster_run_reactions if reaction.error]
        return errors


def spec_failing_while(flag: Path, log: Path, **job_fields) -> dict:
    return {
        "name": "nightly",
        "tasks": [
            task("extract", py("ok", str(log), "extract")),
            task("load", py("fail_if_exists", str(log), "load", str(flag)), "extract", **job_fields.pop("load_fields", {})),
        ],
        **job_fields,
    }


def test_slack_teams_and_pagerduty_get_their_documented_formats(instance, receiver: Receiver, tmp_path: Path, monkeypatch):
    destinations_file(
        tmp_path,
        monkeypatch,
        "oncall-slack: {type: slack, url_env: SLACK_URL}\nteam: {type: microsoft_teams, url_env: TEAMS_URL}\n",
    )
    monkeypatch.setenv("SLACK_URL", f"{receiver.url}/slack/T000/B000/token")
    monkeypatch.setenv("TEAMS_URL", f"{receiver.url}/teams/workflow?sig=abc")
    monkeypatch.setenv("LAKEHOUSE_DESTINATION_PAGER_TYPE", "pagerduty")  # defined by the environment alone
    monkeypatch.setenv("LAKEHOUSE_DESTINATION_PAGER_INTEGRATION_KEY", "R0UTINGKEY0123456789012345678901")
    flag = tmp_path / "broken"
    flag.touch()
    failure = [{"id": "oncall-slack"}, {"id": "team"}, {"id": "pager"}]
    spec = spec_failing_while(
        flag,
        tmp_path / "log",
        webhook_notifications={"on_failure": failure, "on_success": [{"id": "oncall-slack"}]},
        load_fields={"webhook_notifications": {"on_failure": [{"id": "oncall-slack"}]}},
    )
    assert validate_document(spec) == []
    sensors = JobSensors(instance, spec)
    failed = run_spec(instance, spec)
    assert failed.states == {"extract": "SUCCESS", "load": "FAILED"}
    assert sensors.tick() == []
    run_link = f"{UI}/runs/{failed.run_id}"

    [task_alert, job_alert] = receiver.at("/slack/T000/B000/token")  # the task's step alerts first, the job's sensor after the run
    for message in (task_alert, job_alert):
        assert set(message) == {"text", "blocks"} and run_link in message["text"]
        header, fields, tasks, *rest, actions = message["blocks"]
        assert header["type"] == "header" and header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
        assert fields["type"] == "section" and all(f["type"] == "mrkdwn" for f in fields["fields"]) and len(fields["fields"]) <= 10
        assert tasks["type"] == "section" and tasks["text"]["type"] == "mrkdwn"
        assert "`load` FAILED: RuntimeError: load fails while" in tasks["text"]["text"] and "Traceback" not in tasks["text"]["text"]
        assert actions == {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open the run"}, "url": run_link}]}
    assert job_alert["blocks"][0]["text"]["text"] == "nightly failed (FAILED)" and task_alert["blocks"][0]["text"]["text"] == "nightly / load failed (FAILED)"
    job_fields = {f["text"].split(":*\n")[0].strip("*"): f["text"].split(":*\n")[1] for f in job_alert["blocks"][1]["fields"]}
    assert job_fields["Job"] == "nightly (nightly_key)" and job_fields["Run"] == failed.run_id and job_fields["State"] == "FAILED"
    assert job_fields["Duration"].endswith(" s")

    [teams] = receiver.at("/teams/workflow?sig=abc")
    assert teams["type"] == "message" and len(teams["attachments"]) == 1
    attachment = teams["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4" and card["$schema"].startswith("http://adaptivecards.io/schemas/")
    assert {element["type"] for element in card["body"]} <= {"TextBlock", "FactSet", "ColumnSet", "Container"}
    facts = {fact["title"]: fact["value"] for element in card["body"] if element["type"] == "FactSet" for fact in element["facts"]}
    assert facts["Run"] == failed.run_id and facts["State"] == "FAILED"
    assert any(element.get("text", "").startswith("load FAILED: RuntimeError: load fails while") for element in card["body"])
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the run", "url": run_link}]

    [trigger] = receiver.at("/pagerduty")
    assert trigger["routing_key"] == "R0UTINGKEY0123456789012345678901" and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "lakehouse_jobs/nightly_key"
    event = trigger["payload"]
    assert event["severity"] == "error" and event["source"].startswith("lakehouse_jobs@") and 0 < len(event["summary"]) <= 1024
    assert event["summary"].startswith("nightly failed (FAILED): load RuntimeError: load fails while")
    assert trigger["links"] == [{"href": run_link, "text": "The run in the Dagster UI"}]

    flag.unlink()  # fixed: the next run succeeds and resolves the incident (pager is listed for failures only)
    receiver.received.clear()
    succeeded = run_spec(instance, spec)
    assert succeeded.success and sensors.tick() == []
    assert receiver.at("/pagerduty") == [
        {"routing_key": "R0UTINGKEY0123456789012345678901", "event_action": "resolve", "dedup_key": "lakehouse_jobs/nightly_key"}
    ]
    [success] = receiver.at("/slack/T000/B000/token")
    assert success["blocks"][0]["text"]["text"] == "nightly succeeded (SUCCESS)" and [b["type"] for b in success["blocks"]] == ["header", "section", "actions"]
    assert receiver.at("/teams/workflow?sig=abc") == []


SECRETS = ("pw-secret-1", "token-secret-2", "token-secret-3", "token-secret-4", "R0UTING-secret-5")


def test_failing_deliveries_never_fail_a_run_nor_show_a_secret(instance, receiver: Receiver, tmp_path: Path, monkeypatch, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    destinations_file(
        tmp_path,
        monkeypatch,
        "\n".join(
            [
                "http500: {type: slack, url_env: URL_500}",
                "refused: {type: microsoft_teams, url_env: URL_REFUSED}",
                "spaced: {type: webhook, url_env: URL_SPACED}",
                "userinfo: {type: webhook, url_env: URL_USERINFO}",
                "basic: {type: webhook, url_env: URL_BASIC}",
                "pager: {type: pagerduty, integration_key_env: PD_KEY}",
            ]
        ),
    )
    monkeypatch.setenv("URL_500", f"{receiver.url}/fail/token-secret-2")
    monkeypatch.setenv("URL_REFUSED", f"http://127.0.0.1:{closed_port()}/hook/token-secret-3")
    monkeypatch.setenv("URL_SPACED", f"{receiver.url}/hook/token-secret-4 trailing")
    monkeypatch.setenv("URL_USERINFO", "http://admin:pw-secret-1@127.0.0.1/hook")  # no port: port 80, where nothing listens
    monkeypatch.setenv("URL_BASIC", f"http://robot:pw-secret-1@127.0.0.1:{receiver.server.server_address[1]}/basic")
    monkeypatch.setenv("PD_KEY", "R0UTING-secret-5")
    monkeypatch.setenv("LAKEHOUSE_PAGERDUTY_EVENTS_URL", f"{receiver.url}/fail/pagerduty")
    monkeypatch.setattr("lakehouse_jobs.lib.jobs.automation.delivery.RETRY_DELAYS", (0.01, 0.01))
    hooks = {
        "on_start": [{"id": "userinfo"}, {"id": "basic"}],
        "on_success": [{"id": "http500"}, {"id": "refused"}, {"id": "spaced"}],
        "on_failure": [{"id": "pager"}],
    }
    spec = {"name": "nightly", "tasks": [task("ok", py("ok", str(tmp_path / "log"), "ok"), webhook_notifications=hooks)], "webhook_notifications": hooks}
    sensors = JobSensors(instance, spec)
    result = run_spec(instance, spec)
    assert result.success and result.states == {"ok": "SUCCESS"}  # the task's own alerts all failed or were refused
    tick_errors = sensors.tick()

    # the one URL that works: user:password@ became Basic authentication, not part of the request line
    basic = [(path, headers) for path, headers, _ in receiver.received if path == "/basic"]
    assert len(basic) == 2 and all(headers["Authorization"] == "Basic " + base64.b64encode(b"robot:pw-secret-1").decode() for _, headers in basic)

    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING and "notification not delivered" in e.user_message]
    assert len(warnings) == 5  # on_start: userinfo; on_success: 500, refused, spaced; resolve to the failing PagerDuty
    text = "\n".join(warnings)
    for expected in ("URL in environment variable URL_USERINFO) failed", "URL_500) failed: the server answered HTTP 500", "URL_REFUSED) failed"):
        assert expected in text
    assert "URL_SPACED): the variable does not hold a valid URL (it contains a space" in text
    assert "routing key in environment variable PD_KEY) failed: the server answered HTTP 500" in text
    assert len(tick_errors) == 2 and "URL_500) failed" in tick_errors[1] and "URL_USERINFO) failed" in tick_errors[0]

    run = instance.get_run_by_id(result.run_id)
    everything = [
        *tick_errors,
        serialize_value(list(instance.all_logs(result.run_id))),
        json.dumps(dict(run.tags)),
        *capfd.readouterr(),
        caplog.text,
    ]
    for secret in SECRETS:
        assert not any(secret in text for text in everything), secret


def test_destination_problems_are_one_sentence_at_the_field(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_DESTINATION_NOWHERE_TYPE", raising=False)
    monkeypatch.delenv("LAKEHOUSE_NOTIFICATION_DESTINATIONS", raising=False)

    def problems(ident: str) -> list[tuple[str, str]]:
        job = {"name": "j", "tasks": [task("a", py("ok", "x"))], "webhook_notifications": {"on_failure": [{"id": ident}]}}
        return validate_document(job)

    [(path, message)] = problems("nowhere")
    assert path == "webhook_notifications.on_failure[0].id" and "LAKEHOUSE_DESTINATION_NOWHERE_TYPE" in message
    path = destinations_file(tmp_path, monkeypatch, "inline: {type: slack, url: 'https://hooks.slack.com/services/T/B/very-secret'}\nodd: {type: fax}\n")
    [(_, message)] = problems("inline")
    assert message.startswith(f"{path}: destination 'inline'.url: secrets are never written in the file") and "very-secret" not in message
    [(_, message)] = problems("odd")
    assert f"{path}: destination 'odd'.type: expected one of slack, microsoft_teams, pagerduty, webhook, email" in message
    [(_, message)] = problems("https://hooks.slack.com/services/T/B/very-secret")
    assert "got a URL" in message and "very-secret" not in message
    with pytest.raises(SpecError, match=r"webhook_notifications\.on_failure\[0\]\.id"):
        compile_notifications("j", {"webhook_notifications": {"on_failure": [{"id": "odd"}]}}, job_key="j")
    (tmp_path / "destinations.yml").write_text("a: [unclosed\n")
    [(_, message)] = problems("a")
    assert message == f"{path} line 2: not valid YAML"


def test_task_alerts_reach_pagerduty_email_and_authenticated_webhooks(instance, receiver: Receiver, smtp, tmp_path: Path, monkeypatch):  # noqa: F811
    destinations_file(
        tmp_path,
        monkeypatch,
        "owners: {type: email, addresses: [a@x.test, b@x.test]}\naudit: {type: webhook, url_env: AUDIT_URL, username_env: AUDIT_USER, password_env: AUDIT_PASSWORD}\n",
    )
    monkeypatch.setenv("AUDIT_URL", f"{receiver.url}/audit")
    monkeypatch.setenv("AUDIT_USER", "auditor")
    monkeypatch.setenv("AUDIT_PASSWORD", "p4ss")
    monkeypatch.setenv("LAKEHOUSE_DESTINATION_PAGER_TYPE", "PagerDuty")
    monkeypatch.setenv("LAKEHOUSE_DESTINATION_PAGER_INTEGRATION_KEY", "key-123")
    hooks = {"on_start": [{"id": "owners"}, {"id": "pager"}], "on_failure": [{"id": "pager"}], "on_success": [{"id": "audit"}]}
    log = str(tmp_path / "log")
    spec = {"name": "flaky_job", "tasks": [task("flaky", py("fail_times", log, "flaky", "1"), max_retries=1, webhook_notifications=hooks)]}
    result = run_spec(instance, spec)
    assert result.states == {"flaky": "SUCCESS"}

    assert sorted(tuple(sorted(rcpts)) for rcpts, _ in smtp.messages) == [("a@x.test", "b@x.test")] * 2  # on_start, both attempts
    trigger, resolve = receiver.at("/pagerduty")  # the failed attempt, then the success resolves it (pager is not under on_success)
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "key-123" and trigger["dedup_key"].endswith("/flaky")
    assert trigger["payload"]["summary"].startswith("flaky_job / flaky failed (FAILED): flaky RuntimeError: flaky attempt 1 fails on purpose")
    assert resolve == {"routing_key": "key-123", "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    [(_, headers, body)] = [entry for entry in receiver.received if entry[0] == "/audit"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"auditor:p4ss").decode()
    assert body["event_type"] == "jobs.on_success" and body["task"]["task_key"] == "flaky" and body["task"]["attempt"] == 2
    notes = [e.user_message for e in instance.all_logs(result.run_id) if "is not sent to PagerDuty" in e.user_message]
    assert len(notes) == 2  # on_start of each attempt: a start is not an incident
