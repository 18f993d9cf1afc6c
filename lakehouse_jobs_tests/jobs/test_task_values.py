"""Task values: set in one task, read downstream (API and reference), JSON-only, <= 48 KiB."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs import task_values
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS

from .jobrun import py, run_spec, task
from .sample_tasks import read_log


def test_values_flow_downstream_through_get_and_references(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    spec = {
        "name": "values",
        "tasks": [
            task("produce", py("set_value", "stats", '{"rows": 42, "tables": ["a", "b"]}')),
            task("middle", py("ok", log, "middle"), "produce"),
            # two levels down: values of any upstream task are visible, not only direct parents
            task("consume_api", py("read_value", log, "consume_api", "produce", "stats"), "middle"),
            {
                "task_key": "consume_ref",
                "depends_on": [{"task_key": "middle"}],
                "python_callable_task": {
                    "callable": "lakehouse_jobs_tests.jobs.sample_tasks:echo",
                    "parameters": [log, "consume_ref", "{{tasks.produce.values.stats}}"],
                },
            },  # fmt: skip
        ],
    }
    result = run_spec(instance, spec)
    assert set(result.states.values()) == {SUCCESS}
    entries = {e["label"]: e for e in read_log(log)}
    assert entries["consume_api"]["value"] == {"rows": 42, "tables": ["a", "b"]}
    assert entries["consume_ref"]["args"] == ['{"rows": 42, "tables": ["a", "b"]}']


def test_values_over_48_kib_or_not_json_fail_the_task(instance):
    spec = {
        "name": "values",
        "tasks": [
            task("fits", py("set_raw", "v", 48 * 1024 - 2)),  # + 2 quote characters = exactly 48 KiB
            task("too_big", py("set_raw", "v", 48 * 1024 - 1)),
            task("not_json", py("set_unserializable", "v")),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"fits": SUCCESS, "too_big": FAILED, "not_json": FAILED}
    assert "48 KiB" in result.outputs["too_big"]["error"]
    assert "not JSON-serializable" in result.outputs["not_json"]["error"]


def test_outside_a_job_run():
    assert task_values.get("any", "key", debug_value=7) == 7
    with pytest.raises(task_values.TaskValueError, match="only available inside"):
        task_values.set("k", 1)
