"""Task callables the job tests run, named 'lakehouse_jobs_tests.jobs.sample_tasks:<fn>'.

They leave evidence in files (a run happened, when, with which arguments), so a
test proves what really ran rather than trusting reported states.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lakehouse_jobs.lib.jobs import task_values


def record(log: str, label: str = "", **fields) -> None:
    """Append one JSON line to `log`: the label, arguments and the time."""
    with Path(log).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"label": label, "time": time.time(), **fields}) + "\n")


def read_log(log: str | Path) -> list[dict]:
    path = Path(log)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ok(log: str, label: str = "") -> None:
    record(log, label)


def fail(log: str, label: str = "") -> None:
    record(log, label)
    raise RuntimeError(f"{label} fails on purpose")


def fail_times(log: str, label: str, failures: str) -> None:
    """Fail the first `failures` calls (counted in the log), then succeed."""
    calls = sum(1 for entry in read_log(log) if entry["label"] == label)
    record(log, label)
    if calls < int(failures):
        raise RuntimeError(f"{label} attempt {calls + 1} fails on purpose")


def fail_if_exists(log: str, label: str, flag: str) -> None:
    """Fail while the file `flag` exists (a test removes it, then repairs)."""
    record(log, label)
    if Path(flag).exists():
        raise RuntimeError(f"{label} fails while {flag} exists")


def sleep(log: str, label: str, seconds: str) -> None:
    record(log, label, phase="start")
    time.sleep(float(seconds))
    record(log, label, phase="end")


def set_value(key: str, value: str) -> None:
    task_values.set(key, json.loads(value))


def set_raw(key: str, size: str) -> None:
    task_values.set(key, "x" * int(size))


def set_unserializable(key: str) -> None:
    task_values.set(key, object())


def echo(log: str, label: str = "", *args, **kwargs) -> None:
    """Record the (resolved) parameters the task received."""
    record(log, label, args=list(args), kwargs=kwargs)


def read_value(log: str, label: str, task_key: str, key: str) -> None:
    record(log, label, value=task_values.get(task_key, key, default="<missing>"))


def iteration(log: str, item: str, seconds: str = "0.4") -> None:
    record(log, "iteration", phase="start", item=item)
    time.sleep(float(seconds))
    record(log, "iteration", phase="end", item=item)
    if item == "bad":
        raise ValueError("bad input")
