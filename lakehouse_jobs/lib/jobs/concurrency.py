"""`max_concurrent_runs` and `queue.enabled` on Dagster's run queue.

Databricks holds the runs of a job beyond `max_concurrent_runs` in a queue when
`queue.enabled`, and skips them otherwise. Here every run of a job carries two
tags (put them on the job, so UI, CLI, schedule and sensor runs all get them):

    lakehouse_jobs/max_concurrent_runs.<N> = <job_key>
    lakehouse_jobs/queue                   = enabled | disabled

`LakehouseRunCoordinator` (a QueuedRunCoordinator, set in dagster.yaml) adds a
tag concurrency rule "at most N in-progress runs per value of
lakehouse_jobs/max_concurrent_runs.<N>" for every N the instance's runs carry,
so the daemon's own dequeue loop holds the extra runs — that is the queue. When
queueing is off, it refuses the run at submission instead: the run ends
CANCELED with tag lakehouse_jobs/result_state=SKIPPED. Schedules and sensors
also check first and return a SkipReason, so no run is created at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRun, DagsterRunStatus, RunsFilter

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.jobs.automation.fields import Problems, at, checked, integer
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG

LIMIT_TAG_PREFIX = lakehouse_tags.MAX_CONCURRENT_RUNS_PREFIX
QUEUE_TAG = lakehouse_tags.QUEUE
SKIP_REASON_TAG = lakehouse_tags.SKIP_REASON
SKIPPED = "SKIPPED"
MAX_LIMIT = 1000  # Databricks' upper bound for max_concurrent_runs
DEFAULT_LIMIT = 1  # Databricks' default
ACTIVE_STATUSES = [DagsterRunStatus.QUEUED, *IN_PROGRESS_RUN_STATUSES]


@dataclass(frozen=True)
class ConcurrencyPolicy:
    """How many runs of one job may be active, and what happens to the rest."""

    job_key: str
    max_concurrent_runs: int = DEFAULT_LIMIT
    queue_enabled: bool = False

    @property
    def tags(self) -> dict[str, str]:
        return {f"{LIMIT_TAG_PREFIX}{self.max_concurrent_runs}": self.job_key, QUEUE_TAG: "enabled" if self.queue_enabled else "disabled"}

    def skip_reason(self, instance: dg.DagsterInstance, job_name: str, exclude_run_id: str | None = None) -> str | None:
        """Why a new run must be skipped now (None: launch it, the queue may still hold it)."""
        if self.max_concurrent_runs == 0:
            return "max_concurrent_runs is 0: every new run is skipped"
        if self.queue_enabled:
            return None
        active = [r for r in instance.get_runs(RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES)) if r.run_id != exclude_run_id]
        if len(active) >= self.max_concurrent_runs:
            return f"skipped: {len(active)} run(s) of job {job_name!r} active, max_concurrent_runs is {self.max_concurrent_runs} and queue is disabled"
        return None


@dataclass(frozen=True)
class ConcurrencySection:
    """A job's checked `max_concurrent_runs` and `queue.enabled` (Databricks defaults when absent)."""

    max_concurrent_runs: int = DEFAULT_LIMIT
    queue_enabled: bool = False


def parse_concurrency(job: Mapping, path: str = "") -> tuple[ConcurrencySection, Problems]:
    """The one reader of max_concurrent_runs and queue: `validate` reports its problems, compile raises them."""
    problems: Problems = []
    limit = integer(problems, job, "max_concurrent_runs", path, low=0, high=MAX_LIMIT, default=DEFAULT_LIMIT)
    queue = job.get("queue", {"enabled": False})
    enabled = queue.get("enabled") if isinstance(queue, Mapping) else None
    if not isinstance(enabled, bool):
        problems.append((at(path, "queue"), "expected {enabled: true|false}"))
    return ConcurrencySection(limit, enabled is True), problems


def concurrency_policy(job: Mapping, *, job_key: str) -> ConcurrencyPolicy:
    """The policy of a job dict; SpecError at its first bad field."""
    section = checked(parse_concurrency(job))
    return ConcurrencyPolicy(job_key=job_key, max_concurrent_runs=section.max_concurrent_runs, queue_enabled=section.queue_enabled)


def concurrency_tags(job: Mapping, *, job_key: str) -> dict[str, str]:
    """Tags to put on the Dagster job so every run of it obeys the policy."""
    return concurrency_policy(job, job_key=job_key).tags


def compile_concurrency(job_name: str, job: Mapping, *, job_key: str) -> ConcurrencyPolicy:
    """The policy; its `.tags` go on the job, its `.skip_reason` guards launches."""
    return concurrency_policy(job, job_key=job_key)


def policy_from_tags(tags: Mapping[str, str]) -> ConcurrencyPolicy | None:
    for key, value in tags.items():
        if key.startswith(LIMIT_TAG_PREFIX) and key[len(LIMIT_TAG_PREFIX) :].isdigit():
            return ConcurrencyPolicy(job_key=value, max_concurrent_runs=int(key[len(LIMIT_TAG_PREFIX) :]), queue_enabled=tags.get(QUEUE_TAG) == "enabled")
    return None


def limit_rules(limits: Iterable[int]) -> list[dict]:
    """Tag concurrency rules: at most N active runs per job carrying the limit-N tag."""
    return [{"key": f"{LIMIT_TAG_PREFIX}{n}", "value": {"applyLimitPerUniqueValue": True}, "limit": n} for n in sorted(limits)]


def limits_in_use(tag_keys: Iterable[str]) -> set[int]:
    """The N of every lakehouse_jobs/max_concurrent_runs.<N> tag key the instance's runs carry."""
    return {int(key[len(LIMIT_TAG_PREFIX) :]) for key in tag_keys if key.startswith(LIMIT_TAG_PREFIX) and key[len(LIMIT_TAG_PREFIX) :].isdigit()}


class LakehouseRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator + per-job max_concurrent_runs (queue) and skip when queue is off.

    dagster.yaml:
        run_coordinator:
          module: lakehouse_jobs.lib.jobs.concurrency
          class: LakehouseRunCoordinator
    (same config as QueuedRunCoordinator; the daemon must run to dequeue.)
    """

    def get_run_queue_config(self) -> Any:
        """The configured queue plus one rule per limit that runs in storage use (one DISTINCT query)."""
        config = super().get_run_queue_config()
        rules = limit_rules(limits_in_use(self._instance.get_run_tag_keys()))
        return config._replace(tag_concurrency_limits=[*config.tag_concurrency_limits, *rules])

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        policy = policy_from_tags(run.tags)
        if policy is not None and run.status == DagsterRunStatus.NOT_STARTED:
            reason = policy.skip_reason(self._instance, run.job_name, exclude_run_id=run.run_id)
            if reason:
                self._instance.add_run_tags(run.run_id, {JOB_RESULT_TAG: SKIPPED, SKIP_REASON_TAG: reason[:250]})
                self._instance.report_run_canceled(run, message=reason)
                return self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(context)


def run_coordinator_config(**queue_config: Any) -> dict:
    """The `run_coordinator` entry of an instance config (dagster.yaml or instance_for_test overrides)."""
    return {"module": __name__, "class": LakehouseRunCoordinator.__name__, "config": dict(queue_config)}
