"""`run_if`: whether a task runs, given the result states of its dependencies.

Databricks semantics (docs "Configure task dependencies", "Disabled tasks"):
  ALL_SUCCESS / AT_LEAST_ONE_SUCCESS / NONE_FAILED, unmet -> UPSTREAM_FAILED;
  ALL_DONE always runs; AT_LEAST_ONE_FAILED / ALL_FAILED, unmet -> EXCLUDED;
  excluded dependencies count as successful, and a task whose dependencies are
  all excluded is excluded; a condition that fails only because parents are
  disabled marks the task DISABLED.
"""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse_jobs.lib.jobs.result_states import DISABLED, EXCLUDED, FAILURES, SUCCEEDED, SUCCESS, UPSTREAM_FAILED

ALL_SUCCESS = "ALL_SUCCESS"
AT_LEAST_ONE_SUCCESS = "AT_LEAST_ONE_SUCCESS"
NONE_FAILED = "NONE_FAILED"
ALL_DONE = "ALL_DONE"
AT_LEAST_ONE_FAILED = "AT_LEAST_ONE_FAILED"
ALL_FAILED = "ALL_FAILED"
RUN_IF_VALUES = (ALL_SUCCESS, AT_LEAST_ONE_SUCCESS, NONE_FAILED, ALL_DONE, AT_LEAST_ONE_FAILED, ALL_FAILED)


def edge_state(upstream_state: str, wanted_outcome: str | None, actual_outcome: str | None) -> str:
    """The state a dependency edge contributes: a condition branch not taken is EXCLUDED."""
    if wanted_outcome is not None and upstream_state == SUCCESS and actual_outcome != wanted_outcome:
        return EXCLUDED
    return upstream_state


def decide(run_if: str, states: Sequence[str]) -> str | None:
    """None when the task runs, else the state it gets without running."""
    if not states:
        return None
    if all(state == EXCLUDED for state in states):
        return EXCLUDED
    failed = [s for s in states if s in FAILURES]
    succeeded = [s for s in states if s in SUCCEEDED]
    not_met = UPSTREAM_FAILED if failed else DISABLED
    if run_if == ALL_DONE:
        return None
    if run_if == ALL_SUCCESS:
        return None if len(succeeded) == len(states) else not_met
    if run_if == AT_LEAST_ONE_SUCCESS:
        return None if succeeded else not_met
    if run_if == NONE_FAILED:
        return None if not failed and SUCCESS in states else not_met
    if run_if == AT_LEAST_ONE_FAILED:
        return None if failed else EXCLUDED
    if run_if == ALL_FAILED:
        return None if len(failed) == len(states) else EXCLUDED
    raise ValueError(f"unknown run_if {run_if!r}")
