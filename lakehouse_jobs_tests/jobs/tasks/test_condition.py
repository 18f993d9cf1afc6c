"""condition_task: string vs numeric comparison, and branch outcomes in a real run."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs.result_states import EXCLUDED, FAILED, SUCCESS
from lakehouse_jobs.lib.jobs.tasks.condition import ConditionError, evaluate

from ..jobrun import py, run_spec, task
from ..sample_tasks import read_log


def test_equal_compares_strings_and_ordering_compares_numbers():
    assert evaluate("12.0", "EQUAL_TO", "12") == "false"  # as Databricks documents
    assert evaluate("abc", "EQUAL_TO", "abc") == "true"
    assert evaluate("abc", "NOT_EQUAL", "abd") == "true"
    assert evaluate("12.0", "GREATER_THAN_OR_EQUAL", "12") == "true"
    assert evaluate("10.0", "GREATER_THAN_OR_EQUAL", "12") == "false"
    assert evaluate("9", "LESS_THAN", "10") == "true"  # numerically, not "9" > "10" as strings
    assert evaluate("3", "LESS_THAN_OR_EQUAL", "3") == "true"
    assert evaluate("3", "GREATER_THAN", "3") == "false"
    with pytest.raises(ConditionError, match="not a number"):
        evaluate("many", "GREATER_THAN", "3")


def _branching(log: str, left: str, op: str = "GREATER_THAN") -> dict:
    return {
        "name": "branch",
        "tasks": [
            task("count", py("set_value", "n", left)),
            task("check", {"condition_task": {"left": "{{tasks.count.values.n}}", "op": op, "right": "10"}}, "count"),
            {"task_key": "big", **py("ok", log, "big"), "depends_on": [{"task_key": "check", "outcome": "true"}]},
            {"task_key": "small", **py("ok", log, "small"), "depends_on": [{"task_key": "check", "outcome": "false"}]},
            task("after_big", py("ok", log, "after_big"), "big"),
            task("join", py("ok", log, "join"), "big", "small", run_if="NONE_FAILED"),
        ],
    }


def test_true_branch_runs_false_branch_is_excluded(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    result = run_spec(instance, _branching(log, "42"))
    assert result.states == {"count": SUCCESS, "check": SUCCESS, "big": SUCCESS, "small": EXCLUDED, "after_big": SUCCESS, "join": SUCCESS}
    assert [e["label"] for e in read_log(log)] == ["big", "after_big", "join"]
    assert result.outputs["check"]["outcome"] == "true"
    assert result.result_state == SUCCESS and result.success


def test_false_branch_and_its_dependents_excluded(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    result = run_spec(instance, _branching(log, "3"))
    assert result.states["big"] == EXCLUDED and result.states["after_big"] == EXCLUDED
    assert result.states["small"] == SUCCESS and result.states["join"] == SUCCESS
    assert [e["label"] for e in read_log(log)] == ["small", "join"]


def test_non_numeric_operand_fails_the_condition(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    result = run_spec(instance, _branching(log, '"lots"'))
    assert result.states["check"] == FAILED
    assert "not a number" in result.outputs["check"]["error"]
    assert result.states["big"] == "UPSTREAM_FAILED" and read_log(log) == []
