"""The three ways in: a Python dict, a YAML/JSON job object, a bundle with resources.jobs.<key>."""

from __future__ import annotations

import json

import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs import SpecValidationError, load_spec, load_spec_file

from . import sample_tasks
from .jobrun import py, task

BUNDLE_YAML = """
bundle: {name: demo}
resources:
  jobs:
    ingest:
      name: Ingest
      parameters:
        - {name: day, default: "{{job.start_time.iso_date}}"}
        - {name: limit, default: 5}
      tasks:
        - task_key: check
          condition_task: {left: "{{job.parameters.limit}}", op: GREATER_THAN, right: "1"}
        - task_key: load
          depends_on: [{task_key: check, outcome: "true"}]
          max_retries: -1
          python_callable_task: {callable: "lakehouse_jobs_tests.jobs.sample_tasks:ok", named_parameters: {log: /dev/null}}
    other:
      tasks:
        - task_key: only
          python_callable_task: {callable: "lakehouse_jobs_tests.jobs.sample_tasks:ok", parameters: [/dev/null]}
"""


def test_bundle_yaml(tmp_path):
    path = tmp_path / "databricks.yml"
    path.write_text(BUNDLE_YAML)
    document = load_spec_file(path)
    assert list(document.jobs) == ["ingest", "other"]
    ingest = document.job("ingest")
    assert ingest.name == "Ingest" and document.job("other").name == "other"
    assert ingest.parameters == {"day": "{{job.start_time.iso_date}}", "limit": "5"}
    load = ingest.task_by_key["load"]
    assert (load.kind, load.max_retries, load.depends_on[0].outcome) == ("python_callable_task", -1, "true")
    assert ingest.leaves == ["load"]
    with pytest.raises(SpecError, match="declares 2 jobs"):
        document.job()


def test_single_job_json(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"name": "Daily Sales", "tasks": [task("a", py("ok", "/dev/null"))]}))
    document = load_spec_file(path)
    assert list(document.jobs) == ["daily_sales"]
    assert document.job().tasks[0].task_key == "a"


def test_python_objects_with_callables():
    document = load_spec({"name": "py", "tasks": [{"task_key": "a", "python_callable_task": {"callable": sample_tasks.ok, "parameters": ["/dev/null"]}}]})
    assert document.job().tasks[0].body["callable"] is sample_tasks.ok


def test_unreadable_and_garbled_files(tmp_path):
    with pytest.raises(SpecValidationError, match="cannot read"):
        load_spec_file(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("tasks: [\n")
    with pytest.raises(SpecValidationError, match="not valid YAML/JSON"):
        load_spec_file(bad)


def test_a_bundle_job_without_tasks_loads(tmp_path):
    """`tasks` is optional in the bundle schema (a job resource being written, or filled by a target)."""
    path = tmp_path / "databricks.yml"
    path.write_text("bundle: {name: demo}\nresources:\n  jobs:\n    later:\n      name: Later\n")
    job = load_spec_file(path).job("later")
    assert (job.name, job.tasks, job.leaves) == ("Later", [], [])
