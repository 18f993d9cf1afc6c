"""The task-type registry: a type defined outside the package validates, compiles and runs.

Adding a task type is one module (toy_task.py) registered in code or through the
`lakehouse_jobs.task_types` entry point; nothing under lakehouse_jobs/lib changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import validate_document
from lakehouse_jobs.lib.jobs.result_states import EXCLUDED, SUCCESS
from lakehouse_jobs.lib.jobs.tasks import registry

from ..jobrun import run_spec, task
from . import toy_task

CLI = str(Path(sys.executable).with_name("lakehouse-jobs"))


@pytest.fixture
def echo_registered():
    registry.register_task_type(toy_task.TASK_TYPE)
    yield
    registry.unregister_task_type("echo_task")


def _job(out: Path) -> dict:
    return {
        "name": "echo",
        "parameters": [{"name": "who", "default": "world"}],
        "tasks": [
            task("hello", {"echo_task": {"message": "hello {{job.parameters.who}}", "file": str(out)}}),
            task("check", {"condition_task": {"left": "{{tasks.hello.values.echoed}}", "op": "EQUAL_TO", "right": "hello lakehouse"}}, "hello"),
            task("after", {"echo_task": {"message": "branch taken", "file": str(out)}}, **{"depends_on": [{"task_key": "check", "outcome": "true"}]}),
            task("other", {"echo_task": {"message": "branch not taken", "file": str(out)}}, **{"depends_on": [{"task_key": "check", "outcome": "false"}]}),
        ],
    }


def test_an_unregistered_type_is_refused_then_a_registered_one_validates_with_field_paths(tmp_path):
    spec = _job(tmp_path / "out.txt")
    before = dict(validate_document(spec))
    assert before["tasks[0].echo_task"] == "unknown field"
    registry.register_task_type(toy_task.TASK_TYPE)
    try:
        assert validate_document(spec) == []
        spec["tasks"][0]["echo_task"] = {"file": "x", "mesage": "typo"}
        problems = dict(validate_document(spec))
        assert problems["tasks[0].echo_task.mesage"] == "unknown field"
        assert problems["tasks[0].echo_task.message"].startswith("missing")
    finally:
        registry.unregister_task_type("echo_task")


def test_a_registered_type_compiles_and_runs_with_references_task_values_and_outcomes(instance, tmp_path, echo_registered):
    out = tmp_path / "out.txt"
    run = run_spec(instance, _job(out), params={"who": "lakehouse"})
    assert run.states == {"hello": SUCCESS, "check": SUCCESS, "after": SUCCESS, "other": EXCLUDED}
    assert run.result_state == SUCCESS
    assert out.read_text().splitlines() == ["hello:hello lakehouse", "after:branch taken"]
    assert run.outputs["hello"]["echoed"] == "hello lakehouse"


def test_registration_refuses_a_refused_databricks_type_and_silent_overrides():
    with pytest.raises(SpecError, match="cannot run locally|refused locally"):
        registry.register_task_type(registry.TaskType(name="dashboard_task", check=toy_task.check, run=toy_task.run))
    with pytest.raises(SpecError, match="already registered"):
        registry.register_task_type(registry.TaskType(name="condition_task", check=toy_task.check, run=toy_task.run))


@pytest.mark.parametrize("kind", sorted(registry.REFUSED))
def test_types_with_no_local_counterpart_are_refused_with_a_reason(kind):
    problems = dict(validate_document({"name": "x", "tasks": [{"task_key": "a", kind: {}}]}))
    assert problems[f"tasks[0].{kind}"].startswith(f"{kind} cannot run locally: ")


def test_an_entry_point_registers_a_type_for_every_process(tmp_path):
    """A package declaring `lakehouse_jobs.task_types` is seen by the CLI (another process) with no code change."""
    plugin = tmp_path / "plugin"
    dist = plugin / "echo_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\necho = lakehouse_jobs_tests.jobs.tasks.toy_task:TASK_TYPE\n")
    spec = tmp_path / "job.yml"
    spec.write_text(yaml.safe_dump({"name": "echo", "tasks": [{"task_key": "a", "echo_task": {"message": "hi", "file": str(tmp_path / "o")}}]}))
    repo = Path(__file__).resolve().parents[3]

    def validate(with_plugin: bool) -> subprocess.CompletedProcess:
        path = [str(repo), *([str(plugin)] if with_plugin else [])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        return subprocess.run([CLI, "validate", str(spec)], capture_output=True, text=True, env=env, timeout=120)

    without = validate(False)
    assert without.returncode == 1 and "tasks[0].echo_task: unknown field" in without.stderr
    with_plugin = validate(True)
    assert with_plugin.returncode == 0, with_plugin.stderr
    assert with_plugin.stdout.strip().endswith("OK")
