"""Job notifications: email (smtplib) and webhooks (HTTP POST JSON) from run-status sensors.

`parse_notifications` reads these fields on a job and on a task (task=True: its
notification_settings also take alert_on_last_attempt); task-level alerts are
sent from the task's own step (task_notifications.py), job-level ones from the
sensors compiled here.

Databricks fields: email_notifications / webhook_notifications with on_start,
on_success, on_failure, on_duration_warning_threshold_exceeded;
notification_settings.no_alert_for_skipped_runs / no_alert_for_canceled_runs;
health.rules [{metric: RUN_DURATION_SECONDS, op: GREATER_THAN, value}].

As in Databricks, on_failure also fires for canceled runs and for skipped runs
(CANCELED + lakehouse_jobs/result_state=SKIPPED) unless the settings turn that off.

No secret lives in the spec. A webhook destination is `{"id": "env:VAR"}`: the
URL is read from environment variable VAR when the alert is sent. SMTP comes
from LAKEHOUSE_SMTP_HOST (default 127.0.0.1), LAKEHOUSE_SMTP_PORT (25),
LAKEHOUSE_SMTP_SENDER, and optional LAKEHOUSE_SMTP_USER/LAKEHOUSE_SMTP_PASSWORD
(+ LAKEHOUSE_SMTP_STARTTLS=1). Each delivery is tried 3 times (0.5 s, 1 s
apart); a final failure is recorded by Dagster on the sensor tick and in the
run's event log ("Error occurred during the execution sensor"), and the alert is
not retried later (Dagster's run-status sensors move their cursor on).
"""

from __future__ import annotations

import json
import os
import smtplib
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs.automation.fields import Problems, at, checked, choice, integer
from lakehouse_jobs.lib.jobs.concurrency import SKIPPED
from lakehouse_jobs.lib.jobs.fields import boolean
from lakehouse_jobs.lib.jobs.fields import unknown as unknown_fields
from lakehouse_jobs.lib.jobs.references import WORKSPACE
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG

EVENTS = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded")
ACCEPTED_EVENTS = (*EVENTS, "on_streaming_backlog_exceeded")  # the last has no local equivalent: accepted, never sent
DURATION_EVENT = "on_duration_warning_threshold_exceeded"
ALERTED_TAG = lakehouse_tags.DURATION_WARNING_SENT
ENV_PREFIX = "env:"
MAX_WEBHOOKS = 3  # per event, as in Databricks
RETRY_DELAYS = (0.5, 1.0)
JOB_SETTINGS = ("no_alert_for_skipped_runs", "no_alert_for_canceled_runs")
TASK_SETTINGS = (*JOB_SETTINGS, "alert_on_last_attempt")  # Databricks' TaskNotificationSettings


class DeliveryError(LakehouseError):
    """A notification could not be delivered (recorded on the sensor tick)."""


class NotConfigured(DeliveryError):
    """The destination's environment variable is unset: retrying cannot help."""


@dataclass(frozen=True)
class Recipients:
    emails: tuple[str, ...] = ()
    webhook_vars: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.emails or self.webhook_vars)


@dataclass(frozen=True)
class NotificationsSection:
    """Checked email/webhook notifications, notification_settings and health: who hears of what, and when."""

    recipients: Mapping[str, Recipients]
    no_alert_for_skipped_runs: bool = False
    no_alert_for_canceled_runs: bool = False
    duration_threshold: float | None = None
    alert_on_last_attempt: bool = False  # tasks only: no on_start for retries, on_failure only after the last one

    def __bool__(self) -> bool:
        return any(self.recipients.values())


def _email(problems: Problems, address: object, path: str) -> str | None:
    if isinstance(address, str) and "@" in address:
        return address
    problems.append((path, f"expected an e-mail address, got {address!r}"))
    return None


def _webhook_var(problems: Problems, destination: object, path: str) -> str | None:
    """The environment variable holding the URL; the value itself is never echoed (it may be a secret URL)."""
    if not isinstance(destination, Mapping):
        problems.append((path, "expected {id: 'env:MY_WEBHOOK_URL'}"))
        return None
    ident = destination.get("id")
    if not isinstance(ident, str) or not ident.startswith(ENV_PREFIX) or not ident[len(ENV_PREFIX) :].replace("_", "a").isalnum():
        shown = "a URL" if isinstance(ident, str) and "://" in ident else repr(ident)
        problems.append(
            (
                f"{path}.id",
                f"got {shown}; give the webhook URL through an environment variable: {{id: 'env:MY_WEBHOOK_URL'}} (never inline URLs, they carry secrets)",
            )
        )
        return None
    return ident[len(ENV_PREFIX) :]


def _destinations(problems: Problems, owner: Mapping, path: str, section: str, item: Callable, at_most: int | None = None) -> dict[str, tuple[str, ...]]:
    """Per event, the checked destinations of email_notifications or webhook_notifications."""
    result: dict[str, tuple[str, ...]] = {event: () for event in EVENTS}
    body, where = owner.get(section), at(path, section)
    if body is None:
        return result
    if not isinstance(body, Mapping):
        problems.append((where, "expected an object keyed by event (on_failure, ...)"))
        return result
    unknown_fields(problems, body, where, {*ACCEPTED_EVENTS, "no_alert_for_skipped_runs"})
    boolean(problems, body, "no_alert_for_skipped_runs", where)
    for event in ACCEPTED_EVENTS:
        items, event_path = body.get(event), at(where, event)
        if items is None:
            continue
        if not isinstance(items, list) or (at_most is not None and len(items) > at_most):
            problems.append((event_path, "expected a list" + (f" of at most {at_most} destinations" if at_most else "")))
            continue
        values = [item(problems, value, f"{event_path}[{index}]") for index, value in enumerate(items)]
        if event in result:
            result[event] = tuple(value for value in values if value)
    return result


def _duration_threshold(problems: Problems, owner: Mapping, path: str) -> float | None:
    """The smallest RUN_DURATION_SECONDS GREATER_THAN value of the health rules (None if unset)."""
    if owner.get("health") is None:
        return None
    where = at(path, "health")
    rules = owner["health"].get("rules") if isinstance(owner["health"], Mapping) else None
    if not isinstance(rules, list):
        problems.append((at(where, "rules"), "expected a list of {metric, op, value}"))
        return None
    values = []
    for index, rule in enumerate(rules):
        rule_path = f"{where}.rules[{index}]"
        if not isinstance(rule, Mapping):
            problems.append((rule_path, "expected {metric, op, value}"))
            continue
        if rule.get("metric") != "RUN_DURATION_SECONDS":
            problems.append(
                (
                    f"{rule_path}.metric",
                    f"{rule.get('metric')!r} is not supported locally; only RUN_DURATION_SECONDS (streaming backlog metrics have no local equivalent)",
                )
            )
        choice(problems, rule, "op", rule_path, ("GREATER_THAN",))
        values.append(integer(problems, rule, "value", rule_path, low=1))
    return float(min(values)) if values else None


def parse_notifications(owner: Mapping, path: str = "", *, task: bool = False) -> tuple[NotificationsSection, Problems]:
    """The one reader of the notification fields of a job (or of a task: `task=True`, `path` the task's).

    `validate` reports its problems, compile_notifications and the task step raise them.
    """
    problems: Problems = []
    emails = _destinations(problems, owner, path, "email_notifications", _email)
    hooks = _destinations(problems, owner, path, "webhook_notifications", _webhook_var, MAX_WEBHOOKS)
    recipients = {event: Recipients(emails[event], hooks[event]) for event in EVENTS}
    settings, where = owner.get("notification_settings") or {}, at(path, "notification_settings")
    names = TASK_SETTINGS if task else JOB_SETTINGS
    if not isinstance(settings, Mapping):
        problems.append((where, f"expected {{{', '.join(names)}}}"))
        settings = {}
    unknown_fields(problems, settings, where, set(names))
    for name in names:
        boolean(problems, settings, name, where)
    legacy = owner.get("email_notifications")
    legacy = legacy.get("no_alert_for_skipped_runs", False) if isinstance(legacy, Mapping) else False
    before = len(problems)
    threshold = _duration_threshold(problems, owner, path)
    if threshold is None and recipients[DURATION_EVENT] and len(problems) == before:  # not when health itself is bad
        section = "email_notifications" if emails[DURATION_EVENT] else "webhook_notifications"
        problems.append((at(path, f"{section}.{DURATION_EVENT}"), "needs a health rule {metric: RUN_DURATION_SECONDS, op: GREATER_THAN, value: <seconds>}"))
    no_skipped = settings.get("no_alert_for_skipped_runs", legacy) is True
    no_canceled = settings.get("no_alert_for_canceled_runs") is True
    return NotificationsSection(recipients, no_skipped, no_canceled, threshold, task and settings.get("alert_on_last_attempt") is True), problems


def run_url(run_id: str) -> str:
    """The run's page in the Dagster UI ($DAGSTER_WEBSERVER_URL, else the local `make dev` webserver)."""
    base = os.environ.get("DAGSTER_WEBSERVER_URL") or WORKSPACE["url"]
    return f"{base.rstrip('/')}/runs/{run_id}"


def smtp_settings() -> dict:
    return {
        "host": os.environ.get("LAKEHOUSE_SMTP_HOST", "127.0.0.1"),
        "port": int(os.environ.get("LAKEHOUSE_SMTP_PORT", "25")),
        "sender": os.environ.get("LAKEHOUSE_SMTP_SENDER", "lakehouse-jobs@localhost"),
        "user": os.environ.get("LAKEHOUSE_SMTP_USER"),
        "password": os.environ.get("LAKEHOUSE_SMTP_PASSWORD"),
        "starttls": os.environ.get("LAKEHOUSE_SMTP_STARTTLS") == "1",
    }


def send_email(recipients: list[str], subject: str, body: str) -> None:
    settings = smtp_settings()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings["sender"], ", ".join(recipients), subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings["host"], settings["port"], timeout=30) as smtp:
            if settings["starttls"]:
                smtp.starttls()
            if settings["user"]:
                smtp.login(settings["user"], settings["password"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"email to {', '.join(recipients)} via {settings['host']}:{settings['port']} failed: {error}") from None


def post_webhook(variable: str, payload: Mapping) -> None:
    url = os.environ.get(variable)
    if not url:
        raise NotConfigured(f"webhook destination env:{variable}: environment variable {variable} is not set")
    if not url.lower().startswith(("http://", "https://")):  # never echoed: it may carry a token
        raise NotConfigured(f"webhook destination env:{variable}: environment variable {variable} does not hold an http(s) URL")
    try:
        request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST")  # noqa: S310 - http(s) only, checked above
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - see above
            response.read()
    except ValueError:  # its message quotes the URL
        raise NotConfigured(f"webhook destination env:{variable}: environment variable {variable} does not hold a valid URL") from None
    except OSError as error:  # URLError/HTTPError; the URL itself is never shown (it may hold a token)
        raise DeliveryError(f"webhook env:{variable} failed: {getattr(error, 'code', '') or getattr(error, 'reason', error)}") from None


def payload(event: str, job_name: str, job_key: str, run: dg.DagsterRun, record: dg.RunRecord | None, extra: str = "") -> dict:
    """Databricks' webhook shape (event_type, run, job) plus what Dagster knows about the run."""
    start = record.start_time if record else None
    end = record.end_time if record else None
    return {
        "event_type": f"jobs.{event}",
        "workspace_id": "lakehouse_jobs",
        "job": {"job_id": job_key, "name": job_name},
        "run": {
            "run_id": run.run_id,
            "run_page_url": run_url(run.run_id),
            "status": run.status.value,
            "result_state": run.tags.get(JOB_RESULT_TAG),
            "start_time": start,
            "end_time": end,
            "duration_seconds": round((end or time.time()) - start, 3) if start else None,
        },
        "message": extra,
    }


def _with_retries(send: Callable[[], None], delays: Sequence[float] = RETRY_DELAYS) -> None:
    for delay in delays:
        try:
            return send()
        except NotConfigured:
            raise
        except DeliveryError:
            time.sleep(delay)
    send()


def notify(recipients: Recipients, body: dict, subject: str | None = None, on_error: Callable[[DeliveryError], None] | None = None) -> None:
    """E-mail and POST `body`; a failed delivery raises, or (with `on_error`) is handed to it and the other destinations still get theirs."""
    run, job = body["run"], body["job"]
    subject = subject or f"[lakehouse_jobs] {job['name']}: {body['event_type'].removeprefix('jobs.')} (run {run['run_id'][:8]})"
    text = json.dumps(body, indent=2)
    sends = [lambda: send_email(list(recipients.emails), subject, text)] if recipients.emails else []
    sends += [lambda variable=variable: post_webhook(variable, body) for variable in recipients.webhook_vars]
    for send in sends:
        try:
            _with_retries(send)
        except DeliveryError as error:
            if on_error is None:
                raise
            on_error(error)


def _status_sensor(name: str, status: dg.DagsterRunStatus, job_name: str, handler: Callable) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name=name, run_status=status, minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING, description=f"Notifications for {job_name}."
    )
    def _sensor(context: dg.RunStatusSensorContext):
        # Return None, never a SkipReason: Dagster stops a tick at the first non-None result.
        if context.dagster_run.job_name == job_name:
            handler(context.instance, context.dagster_run)

    return _sensor


def compile_notifications(job_name: str, job: Mapping, *, job_key: str) -> list[dg.SensorDefinition]:
    """The run-status sensors (and the duration watcher) that deliver the job's alerts."""
    section = checked(parse_notifications(job))
    recipients, threshold = section.recipients, section.duration_threshold
    no_skipped, no_canceled = section.no_alert_for_skipped_runs, section.no_alert_for_canceled_runs

    def sender(event: str):
        def handle(instance: dg.DagsterInstance, run: dg.DagsterRun):
            if run.status == dg.DagsterRunStatus.CANCELED:
                skipped = run.tags.get(JOB_RESULT_TAG) == SKIPPED
                if (skipped and no_skipped) or (not skipped and no_canceled):
                    return  # turned off by notification_settings
            [record] = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
            notify(recipients[event], payload(event, job_name, job_key, run, record))

        return handle

    sensors = []
    statuses = {
        "on_start": [dg.DagsterRunStatus.STARTED],
        "on_success": [dg.DagsterRunStatus.SUCCESS],
        "on_failure": [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
    }
    for event, run_statuses in statuses.items():
        if recipients[event]:
            for status in run_statuses:
                sensors.append(_status_sensor(f"{job_name}_{event}_{status.value.lower()}", status, job_name, sender(event)))
    if recipients[DURATION_EVENT]:
        sensors.append(_duration_sensor(job_name, job_key, threshold, recipients[DURATION_EVENT]))
    return sensors


def _duration_sensor(job_name: str, job_key: str, threshold: float, recipients: Recipients) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{job_name}_{DURATION_EVENT}",
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Warns when a run of {job_name} exceeds {threshold:.0f}s.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        """Alert once per run: the run gets a tag when its warning was sent."""
        now, sent = time.time(), []
        records = context.instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED]))
        for record in records:
            run = record.dagster_run
            if ALERTED_TAG in run.tags or not record.start_time or now - record.start_time <= threshold:
                continue
            notify(recipients, payload(DURATION_EVENT, job_name, job_key, run, record, f"run duration exceeded {threshold:.0f}s"))
            context.instance.add_run_tags(run.run_id, {ALERTED_TAG: str(int(now))})
            sent.append(run.run_id)
        return dg.SkipReason(f"warned for {', '.join(sent)}" if sent else f"no run of {job_name} over {threshold:.0f}s")

    return _sensor
