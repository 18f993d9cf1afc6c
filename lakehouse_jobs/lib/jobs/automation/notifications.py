"""Job notifications: e-mail and destinations (Slack, Teams, PagerDuty, webhooks) from run-status sensors.

`parse_notifications` reads these fields on a job and on a task (task=True: its
notification_settings also take alert_on_last_attempt); task-level alerts are
sent from the task's own step (task_notifications.py), job-level ones from the
sensors compiled here.

Databricks fields: email_notifications / webhook_notifications with on_start,
on_success, on_failure, on_duration_warning_threshold_exceeded (and
on_streaming_backlog_exceeded, accepted and never sent: there is no streaming
backlog metric locally); notification_settings.no_alert_for_skipped_runs /
no_alert_for_canceled_runs; health.rules [{metric: RUN_DURATION_SECONDS, op: GREATER_THAN, value}].

As in Databricks, on_failure also fires for canceled runs and for skipped runs
(CANCELED + lakehouse_jobs/result_state=SKIPPED) unless the settings turn that off.

No secret lives in the spec: `webhook_notifications.<event>[].id` names a
destination (destinations.py: a local file or environment variables, URLs and
keys read from the environment when sending; `env:VAR` is a generic webhook).
A PagerDuty destination listed for failures also receives the `resolve` of the
next successful run. A final delivery failure is recorded by Dagster on the
sensor tick and in the run's event log, naming the variable, never its value; the
alert is not retried later (Dagster's run-status sensors move their cursor on).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.jobs.automation import destinations as destination_config
from lakehouse_jobs.lib.jobs.automation.delivery import (  # noqa: F401 - NotConfigured, post_webhook, smtp_settings: re-exported from their first home
    DeliveryError,
    NotConfigured,
    deliver,
    post_webhook,
    retried,
    send_email,
    smtp_settings,
)
from lakehouse_jobs.lib.jobs.automation.destinations import Destination, DestinationError
from lakehouse_jobs.lib.jobs.automation.fields import Problems, at, checked, choice, integer
from lakehouse_jobs.lib.jobs.concurrency import SKIPPED
from lakehouse_jobs.lib.jobs.fields import boolean
from lakehouse_jobs.lib.jobs.fields import unknown as unknown_fields
from lakehouse_jobs.lib.jobs.references import WORKSPACE
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG, OWN_FAILURES

EVENTS = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded")
ACCEPTED_EVENTS = (*EVENTS, "on_streaming_backlog_exceeded")  # the last has no local equivalent: accepted, never sent
DURATION_EVENT = "on_duration_warning_threshold_exceeded"
ALERTED_TAG = lakehouse_tags.DURATION_WARNING_SENT
MAX_WEBHOOKS = 3  # per event, as in Databricks
UI_URL_ENV = "LAKEHOUSE_UI_URL"
JOB_SETTINGS = ("no_alert_for_skipped_runs", "no_alert_for_canceled_runs")
TASK_SETTINGS = (*JOB_SETTINGS, "alert_on_last_attempt")  # Databricks' TaskNotificationSettings


@dataclass(frozen=True)
class Recipients:
    emails: tuple[str, ...] = ()
    destinations: tuple[Destination, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.emails or self.destinations)

    def with_resolves(self, *others: Recipients) -> Recipients:
        """These, plus the PagerDuty destinations of `others` (failure events): a success resolves their incident."""
        found = {d.id: d for d in self.destinations}
        for destination in (d for other in others for d in other.destinations if d.type == "pagerduty"):
            found.setdefault(destination.id, destination)
        return Recipients(self.emails, tuple(found.values()))


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


def _destination(problems: Problems, given: object, path: str) -> Destination | None:
    """The destination `{id: ...}` names; the URL or key itself is never read or echoed here."""
    if not isinstance(given, Mapping) or not isinstance(given.get("id"), str):
        problems.append((path, "expected {id: <destination id>} (a destination from $LAKEHOUSE_NOTIFICATION_DESTINATIONS or LAKEHOUSE_DESTINATION_<ID>_*)"))
        return None
    ident = given["id"]
    if "://" in ident:
        problems.append((f"{path}.id", "got a URL; name a destination whose URL is in an environment variable (never inline URLs, they carry secrets)"))
        return None
    try:
        return destination_config.lookup(ident)
    except DestinationError as error:
        problems.append((f"{path}.id", str(error)))
        return None


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
    hooks = _destinations(problems, owner, path, "webhook_notifications", _destination, MAX_WEBHOOKS)
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
    """The run's page in the Dagster UI ($LAKEHOUSE_UI_URL or $DAGSTER_WEBSERVER_URL, else the local `make dev` webserver)."""
    base = os.environ.get(UI_URL_ENV) or os.environ.get("DAGSTER_WEBSERVER_URL") or WORKSPACE["url"]
    return f"{base.rstrip('/')}/runs/{run_id}"


def failed_tasks(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """The run's failed tasks (task_key, state, error's first line), from their steps' `result` outputs."""
    found: dict[str, dict] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        metadata = entry.dagster_event.step_output_data.metadata or {}
        state, key = getattr(metadata.get("result_state"), "value", None), getattr(metadata.get("task_key"), "value", None)
        if key is None:
            continue
        error = getattr(metadata.get("error"), "value", None)
        found[key] = {"task_key": key, "state": state, "error": first_line(error)}
    return [task for task in found.values() if task["state"] in OWN_FAILURES]


def first_line(error: str | None) -> str | None:
    return error.strip().splitlines()[0] if error and error.strip() else None


def payload(event: str, job_name: str, job_key: str, run: dg.DagsterRun, record: dg.RunRecord | None, extra: str = "", failed: list | None = None) -> dict:
    """Databricks' webhook shape (event_type, run, job) plus what Dagster knows about the run (and its failed tasks)."""
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
        "failed_tasks": failed or [],
        "message": extra,
    }


def notify(
    recipients: Recipients,
    body: dict,
    subject: str | None = None,
    on_error: Callable[[DeliveryError], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Send `body` to every recipient. A failed delivery is handed to `on_error` (and the others still get theirs);
    without it, one DeliveryError naming every failure is raised after all were tried."""
    run, job, event = body["run"], body["job"], body["event_type"].removeprefix("jobs.")
    subject = subject or f"[lakehouse_jobs] {job['name']}: {event} (run {run['run_id'][:8]})"
    sends = [lambda: retried(lambda: send_email(list(recipients.emails), subject, json.dumps(body, indent=2)))] if recipients.emails else []
    sends += [lambda destination=destination: deliver(destination, event, body, subject) for destination in recipients.destinations]
    errors: list[DeliveryError] = []
    for send in sends:
        try:
            note = send()  # why nothing was sent, if so (e.g. a start to PagerDuty)
            if note and log:
                log(note)
        except DeliveryError as error:
            if on_error is None:
                errors.append(error)
            else:
                on_error(error)
    if errors:
        raise errors[0] if len(errors) == 1 else DeliveryError("; ".join(str(error) for error in errors))


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
    targets = {**recipients, "on_success": recipients["on_success"].with_resolves(recipients["on_failure"], recipients[DURATION_EVENT])}

    def sender(event: str):
        def handle(instance: dg.DagsterInstance, run: dg.DagsterRun):
            if run.status == dg.DagsterRunStatus.CANCELED:
                skipped = run.tags.get(JOB_RESULT_TAG) == SKIPPED
                if (skipped and no_skipped) or (not skipped and no_canceled):
                    return  # turned off by notification_settings
            [record] = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
            failed = failed_tasks(instance, run.run_id) if event == "on_failure" else []
            notify(targets[event], payload(event, job_name, job_key, run, record, failed=failed))

        return handle

    sensors = []
    statuses = {
        "on_start": [dg.DagsterRunStatus.STARTED],
        "on_success": [dg.DagsterRunStatus.SUCCESS],
        "on_failure": [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
    }
    for event, run_statuses in statuses.items():
        if targets[event]:
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
