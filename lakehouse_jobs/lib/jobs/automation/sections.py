"""Shape checks for the job sections that become schedules, sensors and run limits.

Helper modules compile them (schedules.py, triggers.py, notifications.py,
concurrency.py); this module only makes sure `validate` reports their mistakes
with field paths, before anything is compiled. The cron expression itself is
checked by schedules.quartz_problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import available_timezones

from lakehouse_jobs.lib.jobs.automation.schedules import quartz_problems

PAUSE = ("PAUSED", "UNPAUSED")
NOTIFICATION_EVENTS = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded", "on_streaming_backlog_exceeded")
Problems = list[tuple[str, str]]


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _fields(problems: Problems, obj: Mapping[str, Any], path: str, known: set[str]) -> None:
    for name in obj:
        if name not in known:
            problems.append((_at(path, str(name)), "unknown field"))


def _pause(problems: Problems, obj: Mapping[str, Any], path: str) -> None:
    if "pause_status" in obj and obj["pause_status"] not in PAUSE:
        problems.append((_at(path, "pause_status"), f"expected PAUSED or UNPAUSED, got {obj['pause_status']!r}"))


def _positive(problems: Problems, obj: Mapping[str, Any], name: str, path: str, minimum: int = 0) -> None:
    value = obj.get(name)
    if name in obj and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        problems.append((_at(path, name), f"expected an integer >= {minimum}, got {value!r}"))


def _schedule(problems: Problems, schedule: Any, path: str) -> None:
    if not isinstance(schedule, Mapping):
        problems.append((path, "expected {quartz_cron_expression, timezone_id, pause_status}"))
        return
    _fields(problems, schedule, path, {"quartz_cron_expression", "timezone_id", "pause_status"})
    expr = schedule.get("quartz_cron_expression")
    if not isinstance(expr, str) or not expr.strip():
        problems.append((_at(path, "quartz_cron_expression"), "missing: a Quartz cron expression such as '0 0 1 * * ?'"))
    else:
        problems.extend((_at(path, "quartz_cron_expression"), message) for message in quartz_problems(expr))
    tz = schedule.get("timezone_id")
    if tz is not None and (not isinstance(tz, str) or tz not in available_timezones() and tz != "UTC"):
        problems.append((_at(path, "timezone_id"), f"unknown time zone {tz!r} (use an IANA name like Europe/Paris)"))
    _pause(problems, schedule, path)


def _trigger(problems: Problems, trigger: Any, path: str) -> None:
    if not isinstance(trigger, Mapping):
        problems.append((path, "expected one of file_arrival, table_update, periodic"))
        return
    kinds = [k for k in ("file_arrival", "table_update", "periodic") if k in trigger]
    _fields(problems, trigger, path, {"file_arrival", "table_update", "periodic", "pause_status"})
    _pause(problems, trigger, path)
    if len(kinds) != 1:
        problems.append((path, f"a trigger has exactly one of file_arrival, table_update, periodic; found {', '.join(kinds) or 'none'}"))
        return
    kind = kinds[0]
    body, where = trigger[kind], _at(path, kind)
    if not isinstance(body, Mapping):
        problems.append((where, "expected an object"))
        return
    waits = {"min_time_between_triggers_seconds", "wait_after_last_change_seconds"}
    for name in waits:
        _positive(problems, body, name, where)
    if kind == "file_arrival":
        _fields(problems, body, where, {"url", *waits})
        if not isinstance(body.get("url"), str) or not body["url"].strip():
            problems.append((_at(where, "url"), "missing: the folder to watch"))
    elif kind == "table_update":
        _fields(problems, body, where, {"table_names", "condition", *waits})
        names = body.get("table_names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            problems.append((_at(where, "table_names"), "expected a non-empty list of table names"))
        if body.get("condition", "ANY_UPDATED") not in ("ANY_UPDATED", "ALL_UPDATED"):
            problems.append((_at(where, "condition"), f"expected ANY_UPDATED or ALL_UPDATED, got {body.get('condition')!r}"))
    else:
        _fields(problems, body, where, {"interval", "unit"})
        _positive(problems, body, "interval", where, 1)
        if "interval" not in body:
            problems.append((_at(where, "interval"), "missing"))
        if body.get("unit") not in ("HOURS", "DAYS", "WEEKS"):
            problems.append((_at(where, "unit"), f"expected HOURS, DAYS or WEEKS, got {body.get('unit')!r}"))


def _notifications(problems: Problems, job: Mapping[str, Any], path: str) -> None:
    for section, item_check in (("email_notifications", lambda x: isinstance(x, str) and "@" in x), ("webhook_notifications", lambda x: isinstance(x, Mapping) and isinstance(x.get("id"), str))):
        body = job.get(section)
        if body is None:
            continue
        where = _at(path, section)
        if not isinstance(body, Mapping):
            problems.append((where, "expected an object keyed by event (on_failure, ...)"))
            continue
        _fields(problems, body, where, {*NOTIFICATION_EVENTS, "no_alert_for_skipped_runs"})
        for event in NOTIFICATION_EVENTS:
            items = body.get(event)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append((_at(where, event), "expected a list"))
                continue
            for index, item in enumerate(items):
                if not item_check(item):
                    expected = "an e-mail address" if section == "email_notifications" else "{id: <destination>}"
                    problems.append((f"{_at(where, event)}[{index}]", f"expected {expected}, got {item!r}"))
    settings = job.get("notification_settings")
    if settings is not None:
        where = _at(path, "notification_settings")
        if not isinstance(settings, Mapping):
            problems.append((where, "expected {no_alert_for_skipped_runs, no_alert_for_canceled_runs}"))
        else:
            _fields(problems, settings, where, {"no_alert_for_skipped_runs", "no_alert_for_canceled_runs"})
    health = job.get("health")
    if health is not None:
        where = _at(path, "health")
        rules = health.get("rules") if isinstance(health, Mapping) else None
        if not isinstance(rules, list):
            problems.append((_at(where, "rules"), "expected a list of {metric, op, value}"))
            return
        for index, rule in enumerate(rules):
            r_where = f"{where}.rules[{index}]"
            if not isinstance(rule, Mapping):
                problems.append((r_where, "expected {metric, op, value}"))
                continue
            if rule.get("metric") != "RUN_DURATION_SECONDS":
                problems.append((f"{r_where}.metric", f"only RUN_DURATION_SECONDS is supported, got {rule.get('metric')!r}"))
            if rule.get("op") != "GREATER_THAN":
                problems.append((f"{r_where}.op", f"only GREATER_THAN is supported, got {rule.get('op')!r}"))
            _positive(problems, rule, "value", r_where, 1)


def trigger_problems(job: Mapping[str, Any], path: str) -> Problems:
    """Problems of schedule, trigger, continuous, notifications, health, max_concurrent_runs, queue."""
    problems: Problems = []
    present = [name for name in ("schedule", "trigger", "continuous") if name in job]
    if len(present) > 1:
        problems.append((_at(path, present[1]), f"a job has at most one of schedule, trigger, continuous; found {', '.join(present)}"))
    if "schedule" in job:
        _schedule(problems, job["schedule"], _at(path, "schedule"))
    if "trigger" in job:
        _trigger(problems, job["trigger"], _at(path, "trigger"))
    if "continuous" in job:
        cont = job["continuous"]
        if not isinstance(cont, Mapping):
            problems.append((_at(path, "continuous"), "expected {pause_status}"))
        else:
            _fields(problems, cont, _at(path, "continuous"), {"pause_status", "task_retry_mode"})
            _pause(problems, cont, _at(path, "continuous"))
    _notifications(problems, job, path)
    if "max_concurrent_runs" in job:
        value = job["max_concurrent_runs"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            problems.append((_at(path, "max_concurrent_runs"), f"expected an integer from 0 to 1000, got {value!r}"))
    if "queue" in job:
        queue = job["queue"]
        if not isinstance(queue, Mapping) or not isinstance(queue.get("enabled"), bool):
            problems.append((_at(path, "queue"), "expected {enabled: true|false}"))
    return problems
