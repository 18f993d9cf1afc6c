"""run_if: each of the six values decides on real upstream results in a real Dagster run."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs.result_states import DISABLED, EXCLUDED, FAILED, SUCCESS, TIMEDOUT, UPSTREAM_FAILED
from lakehouse_jobs.lib.jobs.run_if import decide, edge_state

from .jobrun import py, run_spec, task
from .sample_tasks import read_log


@pytest.mark.parametrize(
    ("run_if", "states", "expected"),
    [
        ("ALL_SUCCESS", [SUCCESS, SUCCESS], None),
        ("ALL_SUCCESS", [SUCCESS, FAILED], UPSTREAM_FAILED),
        ("ALL_SUCCESS", [SUCCESS, EXCLUDED], None),  # excluded counts as successful
        ("ALL_SUCCESS", [SUCCESS, DISABLED], DISABLED),
        ("AT_LEAST_ONE_SUCCESS", [FAILED, SUCCESS], None),
        ("AT_LEAST_ONE_SUCCESS", [FAILED, TIMEDOUT], UPSTREAM_FAILED),
        ("NONE_FAILED", [SUCCESS, EXCLUDED], None),
        ("NONE_FAILED", [SUCCESS, UPSTREAM_FAILED], UPSTREAM_FAILED),
        ("NONE_FAILED", [DISABLED, DISABLED], DISABLED),
        ("ALL_DONE", [FAILED, UPSTREAM_FAILED], None),
        ("AT_LEAST_ONE_FAILED", [SUCCESS, TIMEDOUT], None),
        ("AT_LEAST_ONE_FAILED", [SUCCESS, SUCCESS], EXCLUDED),
        ("ALL_FAILED", [FAILED, TIMEDOUT], None),
        ("ALL_FAILED", [FAILED, SUCCESS], EXCLUDED),
        ("ALL_DONE", [EXCLUDED, EXCLUDED], EXCLUDED),  # all dependencies excluded: excluded, whatever run_if
    ],
)
def test_decision_table(run_if, states, expected):
    assert decide(run_if, states) == expected


def test_condition_branch_not_taken_is_excluded():
    assert edge_state(SUCCESS, "true", "false") == EXCLUDED
    assert edge_state(SUCCESS, "true", "true") == SUCCESS
    assert edge_state(FAILED, "true", None) == FAILED


def test_every_run_if_value_in_a_real_run(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {
        "name": "run_if_matrix",
        "tasks": [
            task("ok", py("ok", log, "ok")),
            task("bad", py("fail", log, "bad")),
            task("all_success", py("ok", log, "all_success"), "ok", "bad"),
            task("all_success_ok", py("ok", log, "all_success_ok"), "ok"),
            task("at_least_one_success", py("ok", log, "at_least_one_success"), "ok", "bad", run_if="AT_LEAST_ONE_SUCCESS"),
            task("none_failed", py("ok", log, "none_failed"), "ok", "bad", run_if="NONE_FAILED"),
            task("all_done", py("ok", log, "all_done"), "ok", "bad", run_if="ALL_DONE"),
            task("at_least_one_failed", py("ok", log, "at_least_one_failed"), "ok", "bad", run_if="AT_LEAST_ONE_FAILED"),
            task("at_least_one_failed_no", py("ok", log, "at_least_one_failed_no"), "ok", run_if="AT_LEAST_ONE_FAILED"),
            task("all_failed", py("ok", log, "all_failed"), "bad", run_if="ALL_FAILED"),
            task("all_failed_no", py("ok", log, "all_failed_no"), "ok", "bad", run_if="ALL_FAILED"),
            # downstream of an UPSTREAM_FAILED task: ALL_DONE still runs, ALL_SUCCESS does not
            task("after_upstream_failed", py("ok", log, "after_upstream_failed"), "all_success", run_if="ALL_DONE"),
            task("chain_upstream_failed", py("ok", log, "chain_upstream_failed"), "all_success"),
            # a disabled task and its dependents
            task("off", py("ok", log, "off"), disabled=True),
            task("after_off", py("ok", log, "after_off"), "off"),
            task("after_off_done", py("ok", log, "after_off_done"), "off", run_if="ALL_DONE"),
        ],
    }
    result = run_spec(instance, spec)
    ran = {entry["label"] for entry in read_log(log)}
    expected = {
        "ok": SUCCESS, "bad": FAILED, "all_success": UPSTREAM_FAILED, "all_success_ok": SUCCESS,
        "at_least_one_success": SUCCESS, "none_failed": UPSTREAM_FAILED, "all_done": SUCCESS,
        "at_least_one_failed": SUCCESS, "at_least_one_failed_no": EXCLUDED, "all_failed": SUCCESS,
        "all_failed_no": EXCLUDED, "after_upstream_failed": SUCCESS, "chain_upstream_failed": UPSTREAM_FAILED,
        "off": DISABLED, "after_off": DISABLED, "after_off_done": SUCCESS,
    }  # fmt: skip
    assert result.states == expected
    assert ran == {key for key, state in expected.items() if state in (SUCCESS, FAILED)}
    # the failed task is a failed Dagster step (red in the UI); the run fails with it
    assert not result.success
    assert result.outputs["bad"]["result_state"] == FAILED
    assert result.result_state == FAILED  # leaf chain_upstream_failed did not succeed
