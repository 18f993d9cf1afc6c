"""run_job_task: a child run of another job of the same document, on a real Dagster instance."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.jobs import reconstructable_job, validate_document
from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY
from lakehouse_jobs_tests.jobs.jobrun import py, read_run, task
from lakehouse_jobs_tests.jobs.sample_tasks import read_log


def _document(job_id: str, child_fails: bool = False, log: str = "unused.log") -> dict:
    child_task = py("fail", log, "work") if child_fails else py("echo", log, "work", "{{job.parameters.who}}-{{job.parameters.day}}")
    return {
        "resources": {
            "jobs": {
                "parent": {
                    "name": "parent job",
                    "parameters": [{"name": "day", "default": "mon"}],
                    "tasks": [
                        task("start", {"run_job_task": {"job_id": job_id, "job_parameters": {"who": "ann", "day": "ignored"}}}),
                        task("after", py("ok", log, "after"), "start", run_if="ALL_DONE"),
                    ],
                },
                "child": {
                    "name": "child job",
                    "parameters": [{"name": "who", "default": "nobody"}, {"name": "day", "default": "sun"}],
                    "tasks": [task("work", child_task)],
                },
            }
        }
    }


def _run_parent(instance, document: dict):
    recon = reconstructable_job(spec=document, job_key="parent")
    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": {}}}}}
    with dg.execute_job(recon, instance, run_config=run_config, raise_on_error=False) as result:
        return read_run(instance, result.run_id, ["start", "after"])


def _children(instance, parent_run_id: str) -> list:
    return list(instance.get_runs(dg.RunsFilter(tags={tags.PARENT_RUN_ID: parent_run_id})))


def test_child_run_by_key_by_bundle_reference_and_by_name(instance, tmp_path):
    log = str(tmp_path / "calls.log")
    for job_id in ("child", "${resources.jobs.child.id}", "child job"):
        parent = _run_parent(instance, _document(job_id, log=log))
        assert parent.states == {"start": "SUCCESS", "after": "SUCCESS"}, parent.outputs
        [child] = _children(instance, parent.run_id)
        assert child.tags[tags.TASK_KEY] == "start" and child.job_name == "child"
        work = read_run(instance, child.run_id, ["work"])
        assert work.states == {"work": "SUCCESS"}
        # job_parameters passed; the parent's own `day` pushed down over the task's "ignored"
        assert [e["args"] for e in read_log(log) if e["label"] == "work"][-1] == ["ann-mon"]
        assert parent.outputs["start"]["child_run"] == child.run_id  # a DagsterRunMetadataValue link


def test_child_failure_fails_the_task_and_all_done_dependent_runs(instance, tmp_path):
    log = str(tmp_path / "calls.log")
    parent = _run_parent(instance, _document("child", child_fails=True, log=log))
    assert parent.states == {"start": "FAILED", "after": "SUCCESS"}
    [child] = _children(instance, parent.run_id)
    error = parent.outputs["start"]["error"]
    assert error == f"child run {child.run_id} of job 'child' ended FAILED; failed tasks: work"
    assert [e["label"] for e in read_log(log)] == ["work", "after"]


def test_self_and_indirect_cycles_are_refused():
    doc = _document("parent")
    assert ("resources.jobs.parent.tasks[0].run_job_task.job_id", "run_job_task cycle: parent -> parent") in validate_document(doc)
    doc = _document("child")
    doc["resources"]["jobs"]["child"]["tasks"].append(task("back", {"run_job_task": {"job_id": "${resources.jobs.parent.id}"}}))
    problems = validate_document(doc)
    assert ("resources.jobs.parent.tasks[0].run_job_task.job_id", "run_job_task cycle: parent -> child -> parent") in problems
    assert ("resources.jobs.child.tasks[1].run_job_task.job_id", "run_job_task cycle: child -> parent -> child") in problems


def test_unknown_job_legacy_fields_and_undeclared_parameters_are_refused():
    doc = _document("nope")
    doc["resources"]["jobs"]["parent"]["tasks"][0]["run_job_task"]["notebook_params"] = {"a": "1"}
    doc["resources"]["jobs"]["parent"]["tasks"][1] = task("after", {"run_job_task": {"job_id": "child", "job_parameters": {"zzz": "1"}}})
    where = "resources.jobs.parent.tasks"
    problems = dict(validate_document(doc))
    assert "no job 'nope' in this document" in problems[f"{where}[0].run_job_task.job_id"]
    assert "job_parameters" in problems[f"{where}[0].run_job_task.notebook_params"]
    assert "declares no parameter 'zzz'" in problems[f"{where}[1].run_job_task.job_parameters.zzz"]


def test_child_run_from_a_code_location(instance, tmp_path):
    """A parent run launched from a code location (the UI, a schedule) takes its child from the same location."""
    log = str(tmp_path / "calls.log")
    location = tmp_path / "location.py"
    location.write_text(
        f"from lakehouse_jobs.lib.jobs import build_definitions, load_spec\ndefs = build_definitions(load_spec({_document('child', log=log)!r}))\n"
    )
    recon = ReconstructableRepository.for_file(str(location), "defs").get_reconstructable_job("parent")
    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": {}}}}}
    with dg.execute_job(recon, instance, run_config=run_config, raise_on_error=False) as result:
        parent = read_run(instance, result.run_id, ["start", "after"])
    assert parent.states == {"start": "SUCCESS", "after": "SUCCESS"}, parent.outputs
    [child] = _children(instance, parent.run_id)
    assert read_run(instance, child.run_id, ["work"]).states == {"work": "SUCCESS"}
    assert [e["args"] for e in read_log(log) if e["label"] == "work"][-1] == ["ann-mon"]
