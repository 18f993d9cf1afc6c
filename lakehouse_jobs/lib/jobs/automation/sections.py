"""`validate`'s entry to the job sections that become schedules, sensors and run limits.

Each section has one parser, in the module that compiles it (schedules.py,
triggers.py, notifications.py, concurrency.py, lib/git_source.py): the problems reported here are
the very ones compiling refuses with. Only rules across sections live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lakehouse_jobs.lib.git_source import parse_git_source
from lakehouse_jobs.lib.jobs.automation.fields import Problems, at
from lakehouse_jobs.lib.jobs.automation.notifications import parse_notifications
from lakehouse_jobs.lib.jobs.automation.schedules import parse_schedule
from lakehouse_jobs.lib.jobs.automation.triggers import parse_continuous, parse_trigger
from lakehouse_jobs.lib.jobs.concurrency import parse_concurrency

AUTOMATIONS = {"schedule": parse_schedule, "trigger": parse_trigger, "continuous": parse_continuous}


def trigger_problems(job: Mapping[str, Any], path: str) -> Problems:
    """Problems of schedule, trigger, continuous, notifications, health, max_concurrent_runs, queue, git_source."""
    problems: Problems = []
    present = [name for name in AUTOMATIONS if name in job]
    if len(present) > 1:
        problems.append((at(path, present[1]), f"a job has at most one of schedule, trigger, continuous; found {', '.join(present)}"))
    for name in present:
        problems.extend(AUTOMATIONS[name](job[name], at(path, name))[1])
    problems.extend(parse_notifications(job, path)[1])
    problems.extend(parse_concurrency(job, path)[1])
    problems.extend(parse_git_source(job.get("git_source"), at(path, "git_source"))[1])
    return problems
