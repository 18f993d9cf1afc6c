"""Task-level notifications, sent from the task's own Dagster step.

Databricks fields on a task: email_notifications / webhook_notifications
(on_start, on_success, on_failure, on_duration_warning_threshold_exceeded),
notification_settings (no_alert_for_skipped_runs, no_alert_for_canceled_runs,
alert_on_last_attempt) and health.rules (RUN_DURATION_SECONDS). They are read by
the job-level parser (`parse_notifications(task, path, task=True)`) and sent
here, because the step knows exactly when the task starts and ends:

- on_start when an attempt starts (with alert_on_last_attempt: the first attempt only);
- on_failure after every failed attempt, retried or not (with alert_on_last_attempt:
  only after the last one); a CANCELED task unless no_alert_for_canceled_runs;
- on_failure for a task that is skipped (UPSTREAM_FAILED, UPSTREAM_CANCELED,
  EXCLUDED, DISABLED) unless no_alert_for_skipped_runs;
- on_success when the task succeeds;
- on_duration_warning_threshold_exceeded once per attempt still running past the threshold.

Destinations are those of the job (Slack, Teams, PagerDuty, webhooks: see
destinations.py); a PagerDuty destination listed for the task's failures also gets
the `resolve` when the task later succeeds (dedup key per job and task).
A delivery that fails never fails the task: the step logs one warning per
destination naming its environment variable (or SMTP host), never a URL or password.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dagster as dg

from lakehouse_jobs.lib.jobs.automation.fields import checked
from lakehouse_jobs.lib.jobs.automation.notifications import DURATION_EVENT, DeliveryError, NotificationsSection, notify, parse_notifications, run_url
from lakehouse_jobs.lib.jobs.result_states import CANCELED, DISABLED, EXCLUDED, OWN_FAILURES, SUCCESS, UPSTREAM_CANCELED, UPSTREAM_FAILED
from lakehouse_jobs.lib.jobs.spec import TaskSpec
from lakehouse_jobs.lib.jobs.task_run import JobRuntime, TaskOutcome

SKIPPED_STATES = frozenset({UPSTREAM_FAILED, UPSTREAM_CANCELED, EXCLUDED, DISABLED})
RUNNING = "RUNNING"


def section_of(task: TaskSpec) -> NotificationsSection:
    return checked(parse_notifications(task.raw, task.task_key, task=True))


def _first_line(error: str | None) -> str | None:
    return error.strip().splitlines()[0] if error and error.strip() else None


class TaskAlerts:
    """The alerts of one task in one step: an attempt's start, failures, end, duration warning; or its skip."""

    def __init__(self, context: dg.OpExecutionContext, runtime: JobRuntime, task: TaskSpec):
        self.context, self.runtime, self.task = context, runtime, task
        self.section = section_of(task)
        self.attempt = context.retry_number + 1
        self.started = time.time()
        self._timer: threading.Timer | None = None

    def start(self) -> TaskAlerts:
        """The attempt starts: on_start, and the duration watch."""
        if not self.section:
            return self
        if self.attempt == 1 or not self.section.alert_on_last_attempt:
            self._send("on_start", RUNNING)
        threshold = self.section.duration_threshold
        # A threshold past what a timer can wait (~292 years) can never be exceeded: no timer.
        if threshold is not None and threshold <= threading.TIMEOUT_MAX and self.section.recipients[DURATION_EVENT]:
            message = f"task {self.task.task_key} still running after {threshold:g} s (health rule RUN_DURATION_SECONDS > {threshold:g})"
            self._timer = threading.Timer(threshold, self._send, (DURATION_EVENT, RUNNING, None, message))
            self._timer.daemon = True
            self._timer.start()
        return self

    def retrying(self, state: str, error: str | None) -> None:
        """A failed attempt that will be retried."""
        if self.section and not self.section.alert_on_last_attempt:
            self._send("on_failure", state, error)

    def stop(self) -> None:
        """The attempt ended (however): no duration warning after this (one being sent is waited for)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()

    def ended(self, outcome: TaskOutcome) -> None:
        """The task's final state after its last attempt."""
        state = outcome.result_state
        if not self.section or (state == CANCELED and self.section.no_alert_for_canceled_runs):
            return
        if state == SUCCESS:
            self._send("on_success", state, resolves=True)
        elif state in OWN_FAILURES:
            self._send("on_failure", state, outcome.error)

    def skipped(self, state: str) -> None:
        """The task did not run (run_if not met, disabled, excluded)."""
        if self.section and state in SKIPPED_STATES and not self.section.no_alert_for_skipped_runs:
            self.started = None
            self._send("on_failure", state)

    def body(self, event: str, state: str, error: str | None = None, message: str = "") -> dict[str, Any]:
        """Databricks' webhook shape (event_type, job, run) plus the task: key, state, attempt, error, timing."""
        now, run_id = time.time(), self.context.run_id
        ended = state not in (RUNNING,)
        return {
            "event_type": f"jobs.{event}",
            "workspace_id": "lakehouse_jobs",
            "job": {"job_id": self.runtime.spec.key, "name": self.runtime.spec.name},
            "run": {"run_id": run_id, "run_page_url": run_url(run_id)},
            "task": {
                "task_key": self.task.task_key,
                "state": state,
                "attempt": self.attempt if self.started is not None else 0,
                "error": _first_line(error),
                "start_time": self.started,
                "end_time": now if ended and self.started is not None else None,
                "duration_seconds": round(now - self.started, 3) if self.started is not None else None,
            },
            "message": message,
        }

    def _send(self, event: str, state: str, error: str | None = None, message: str = "", resolves: bool = False) -> None:
        recipients = self.section.recipients[event]
        if resolves:
            recipients = recipients.with_resolves(self.section.recipients["on_failure"], self.section.recipients[DURATION_EVENT])
        if not recipients:
            return
        body = self.body(event, state, error, message)
        spec, task_key = self.runtime.spec, self.task.task_key
        subject = f"[lakehouse_jobs] {spec.name} / {task_key}: {event} {state} (run {self.context.run_id[:8]})"
        if body["task"]["error"]:
            subject += f": {body['task']['error'][:120]}"

        def warn(error: DeliveryError) -> None:
            self.context.log.warning(f"{task_key}: {event} notification not delivered ({error}); the task's state is unaffected")

        notify(recipients, body, subject, on_error=warn, log=self.context.log.info)
