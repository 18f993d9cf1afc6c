"""The messages Slack, Microsoft Teams and PagerDuty accept, built from one alert body.

The body is the generic webhook's JSON (Databricks' `event_type`, `job`, `run`, plus `task` for a
task's alert and `failed_tasks` for a job's): every format says the same things - job, run, state,
failed tasks with their error's first line, duration, the run's page in the Dagster UI.

- Slack incoming webhooks: `text` (the notification fallback) and Block Kit `blocks`
  (header, section fields, failed tasks, a button to the run).
- Microsoft Teams incoming webhooks / Workflows: a `message` with one Adaptive Card attachment.
- PagerDuty Events API v2: `routing_key`, `event_action` (trigger / resolve), `dedup_key` (one
  incident per job, or per job and task), `payload.summary/severity/source`.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

EVENT_WORDS = {
    "on_start": "started",
    "on_success": "succeeded",
    "on_failure": "failed",
    "on_duration_warning_threshold_exceeded": "is running longer than expected",
    "on_streaming_backlog_exceeded": "has a streaming backlog",
}
SLACK_SECTION_LIMIT = 2900  # Slack: a section's text is at most 3000 characters
SLACK_HEADER_LIMIT = 150
PAGERDUTY_SUMMARY_LIMIT = 1024
MAX_LISTED_TASKS = 10


def event_of(body: dict[str, Any]) -> str:
    return body["event_type"].removeprefix("jobs.")


def state_of(body: dict[str, Any]) -> str:
    if body.get("task"):
        return str(body["task"].get("state") or "")
    run = body["run"]
    return str(run.get("result_state") or run.get("status") or "")


def title(body: dict[str, Any]) -> str:
    """`nightly failed (FAILED)` or `nightly / load failed (FAILED)`."""
    name = body["job"]["name"] + (f" / {body['task']['task_key']}" if body.get("task") else "")
    state = state_of(body)
    return f"{name} {EVENT_WORDS.get(event_of(body), event_of(body))}" + (f" ({state})" if state and state not in ("RUNNING", "STARTED") else "")


def duration(body: dict[str, Any]) -> str | None:
    seconds = (body.get("task") or body["run"]).get("duration_seconds")
    if seconds is None:
        return None
    seconds = float(seconds)
    return f"{seconds:.1f} s" if seconds < 120 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def failures(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(task_key, state, error's first line) of the failed tasks the alert is about."""
    task = body.get("task")
    if task:
        return [(task["task_key"], task.get("state") or "", task.get("error"))] if task.get("error") else []
    return [(t["task_key"], t.get("state") or "", t.get("error")) for t in body.get("failed_tasks") or []]


def facts(body: dict[str, Any]) -> list[tuple[str, str]]:
    found = [("Job", f"{body['job']['name']} ({body['job']['job_id']})"), ("Run", body["run"]["run_id"])]
    if body.get("task"):
        found.append(("Task", f"{body['task']['task_key']} (attempt {body['task'].get('attempt')})"))
    found.append(("State", state_of(body) or "-"))
    if duration(body):
        found.append(("Duration", duration(body)))
    return found


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(body: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: `text` and `blocks` (Block Kit)."""
    url, head = body["run"]["run_page_url"], title(body)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:SLACK_HEADER_LIMIT]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}:*\n{_slack_escape(value)}"} for name, value in facts(body)]},
    ]
    failed = failures(body)
    if failed:
        lines = [f"• `{_slack_escape(key)}` {state}: {_slack_escape(error or '(no error message)')}" for key, state, error in failed[:MAX_LISTED_TASKS]]
        if len(failed) > MAX_LISTED_TASKS:
            lines.append(f"… and {len(failed) - MAX_LISTED_TASKS} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": ("*Failed tasks:*\n" + "\n".join(lines))[:SLACK_SECTION_LIMIT]}})
    if body.get("message"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(body["message"])[:SLACK_SECTION_LIMIT]}})
    blocks.append({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open the run"}, "url": url}]})
    return {"text": f"{head}: {url}", "blocks": blocks}


def teams(body: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook / Workflows message carrying one Adaptive Card."""
    failed = failures(body)
    attention = event_of(body) in ("on_failure", "on_duration_warning_threshold_exceeded")
    card_body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title(body), "weight": "Bolder", "size": "Medium", "wrap": True, "color": "Attention" if attention else "Default"},
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(body)]},
    ]
    if failed:
        card_body.append({"type": "TextBlock", "text": "Failed tasks", "weight": "Bolder", "wrap": True})
        card_body += [
            {"type": "TextBlock", "text": f"{key} {state}: {error or '(no error message)'}", "wrap": True} for key, state, error in failed[:MAX_LISTED_TASKS]
        ]
    if body.get("message"):
        card_body.append({"type": "TextBlock", "text": body["message"], "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the run", "url": body["run"]["run_page_url"]}],
    }
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def pagerduty_action(event: str) -> str | None:
    """trigger for failures and duration warnings, resolve for a success; None: a start is not an incident."""
    return {"on_failure": "trigger", "on_duration_warning_threshold_exceeded": "trigger", "on_success": "resolve"}.get(event)


def dedup_key(body: dict[str, Any]) -> str:
    """One incident per job (per job and task for a task's alerts): the next success resolves it."""
    key = f"lakehouse_jobs/{body['job']['job_id']}"
    return key + (f"/{body['task']['task_key']}" if body.get("task") else "")


def pagerduty(body: dict[str, Any], routing_key: str, action: str) -> dict[str, Any]:
    """An Events API v2 event (`resolve` events carry no payload, as documented)."""
    event = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(body)}
    if action == "resolve":
        return event
    failed = failures(body)
    summary = title(body) + (f": {failed[0][0]} {failed[0][2] or ''}".rstrip() if failed else "")
    details: dict[str, Any] = dict(facts(body))
    if failed:
        details["failed_tasks"] = [{"task_key": key, "state": state, "error": error} for key, state, error in failed]
    if body.get("message"):
        details["message"] = body["message"]
    url = body["run"]["run_page_url"]
    return {
        **event,
        "payload": {
            "summary": summary[:PAGERDUTY_SUMMARY_LIMIT],
            "severity": "error" if event_of(body) == "on_failure" else "warning",
            "source": f"lakehouse_jobs@{socket.gethostname()}",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "component": body["job"]["name"],
            "group": "lakehouse_jobs",
            "class": event_of(body),
            "custom_details": details,
        },
        "client": "lakehouse_jobs",
        "client_url": url,
        "links": [{"href": url, "text": "The run in the Dagster UI"}],
    }
