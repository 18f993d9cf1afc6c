"""for_each_task: one nested task per input, `{{input}}`, bounded concurrency, in a real run."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS
from lakehouse_jobs.lib.jobs.tasks.for_each import parse_inputs

from ..jobrun import fn, py, run_spec, task
from ..sample_tasks import read_log


def _max_parallel(log: str) -> int:
    events = sorted((e["time"], 1 if e["phase"] == "start" else -1) for e in read_log(log) if e["label"] == "iteration")
    running = peak = 0
    for _, delta in sorted(events, key=lambda item: (item[0], item[1])):
        running += delta
        peak = max(peak, running)
    return peak


def _loop(log: str, inputs, concurrency: int, *deps: str) -> dict:
    nested = {"task_key": "each", "python_callable_task": {"callable": fn("iteration"), "parameters": [log, "{{input}}", "1.0"]}}
    return task("loop", {"for_each_task": {"inputs": inputs, "concurrency": concurrency, "task": nested}}, *deps)


def test_each_input_runs_with_the_concurrency_limit(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    result = run_spec(instance, {"name": "loop", "tasks": [_loop(log, '["a", "b", "c", "d", "e"]', 2)]})
    assert result.states == {"loop": SUCCESS}
    starts = sorted(e["item"] for e in read_log(log) if e["phase"] == "start")
    assert starts == ["a", "b", "c", "d", "e"]
    assert _max_parallel(log) == 2
    assert result.outputs["loop"]["iterations"] == 5


def test_inputs_from_a_task_value_and_a_failing_iteration(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {
        "name": "loop",
        "tasks": [
            task("plan", py("set_value", "items", '["x", "bad", "y"]')),
            _loop(log, "{{tasks.plan.values.items}}", 3, "plan"),
            task("after", py("ok", log, "after"), "loop"),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"plan": SUCCESS, "loop": FAILED, "after": "UPSTREAM_FAILED"}
    assert sorted(e["item"] for e in read_log(log) if e.get("phase") == "start") == ["bad", "x", "y"]
    assert _max_parallel(log) == 3
    states = {it["input"]: it["result_state"] for it in result.outputs["loop"]["iteration_states"]}
    assert states == {"x": SUCCESS, "bad": FAILED, "y": SUCCESS}
    assert "1 of 3 iterations" in result.outputs["loop"]["error"]


def test_nested_task_retries_each_iteration(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    nested = {"task_key": "each", "max_retries": 1, "min_retry_interval_millis": 200,
              "python_callable_task": {"callable": fn("fail_times"), "parameters": [log, "{{input}}", "1"]}}  # fmt: skip
    result = run_spec(instance, {"name": "loop", "tasks": [task("loop", {"for_each_task": {"inputs": '["p", "q"]', "concurrency": 2, "task": nested}})]})
    assert result.states == {"loop": SUCCESS}
    assert sorted(e["label"] for e in read_log(log)) == ["p", "p", "q", "q"]  # each failed once, then succeeded
    assert [it["attempts"] for it in result.outputs["loop"]["iteration_states"]] == [2, 2]


def test_parse_inputs():
    assert parse_inputs('[1, "a", {"k": 2}]') == [1, "a", {"k": 2}]
    assert parse_inputs([1, 2]) == [1, 2]
    with pytest.raises(ValueError, match="JSON array"):
        parse_inputs('{"a": 1}')
