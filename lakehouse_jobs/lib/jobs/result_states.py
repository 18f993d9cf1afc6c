"""Task and job result states, named as the Databricks Jobs API reports them.

A task's state travels to its dependents (they decide whether to run from it),
to the Dagster UI (op output metadata and a run tag per task) and to the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lakehouse_jobs.lib import tags as lakehouse_tags

SUCCESS = "SUCCESS"
FAILED = "FAILED"
TIMEDOUT = "TIMEDOUT"
CANCELED = "CANCELED"
UPSTREAM_FAILED = "UPSTREAM_FAILED"
UPSTREAM_CANCELED = "UPSTREAM_CANCELED"
EXCLUDED = "EXCLUDED"
DISABLED = "DISABLED"
SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"

TASK_STATES = (SUCCESS, FAILED, TIMEDOUT, CANCELED, UPSTREAM_FAILED, UPSTREAM_CANCELED, EXCLUDED, DISABLED)
# "Excluded tasks are skipped and are treated as successful" (Databricks run-if docs).
SUCCEEDED = frozenset({SUCCESS, EXCLUDED})
FAILURES = frozenset({FAILED, TIMEDOUT, CANCELED, UPSTREAM_FAILED, UPSTREAM_CANCELED})
# States a task reaches by running and failing itself (a red step in Dagster).
OWN_FAILURES = frozenset({FAILED, TIMEDOUT, CANCELED})

JOB_RESULT_TAG = lakehouse_tags.JOB_RESULT
JOB_KEY_TAG = lakehouse_tags.JOB_KEY
TRIGGER_TYPE_TAG = lakehouse_tags.TRIGGER_TYPE
FILE_ARRIVAL_LOCATION_TAG = lakehouse_tags.FILE_ARRIVAL_LOCATION
REPAIR_COUNT_TAG = lakehouse_tags.REPAIR_COUNT
task_tag = lakehouse_tags.task_tag


def task_states_from_tags(tags: Mapping[str, str], task_keys: Iterable[str]) -> dict[str, str]:
    return {key: tags[task_tag(key)] for key in task_keys if task_tag(key) in tags}


def job_result_state(states: Mapping[str, str], leaves: Iterable[str], timed_out: bool = False) -> str:
    """SUCCESS, SUCCESS_WITH_FAILURES (some task failed, every leaf succeeded) or FAILED.

    Databricks decides a run's outcome from its leaf tasks (tasks nothing depends on).
    """
    if timed_out:
        return TIMEDOUT
    if any(states.get(leaf) in FAILURES for leaf in leaves):
        if any(states.get(leaf) == CANCELED for leaf in leaves) and not any(states.get(leaf) in OWN_FAILURES - {CANCELED} for leaf in leaves):
            return CANCELED
        return FAILED
    if any(state in FAILURES for state in states.values()):
        return SUCCESS_WITH_FAILURES
    return SUCCESS
