"""Invalid specs are refused with every problem at its field path."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs import SpecValidationError, load_spec, validate_document

from .jobrun import py, task

OK = py("ok", "/dev/null")


def _bundle(*tasks: dict, **job: object) -> dict:
    return {"resources": {"jobs": {"x": {"name": "X", "tasks": list(tasks), **job}}}}


def _problems(doc: dict) -> dict[str, str]:
    return dict(validate_document(doc))


def test_valid_bundle_has_no_problem():
    assert validate_document(_bundle(task("a", OK), task("b", OK, "a", run_if="ALL_DONE"))) == []


@pytest.mark.parametrize(
    ("tasks", "path", "message"),
    [
        ([task("a", OK), task("b", OK, "nope")], "resources.jobs.x.tasks[1].depends_on[0].task_key", "unknown task 'nope'"),
        ([task("a", OK), task("a", OK)], "resources.jobs.x.tasks[1].task_key", "duplicate task_key 'a'"),
        ([task("a", OK, "b"), task("b", OK, "a")], "resources.jobs.x.tasks[0].depends_on", "dependency cycle: a -> b -> a"),
        ([task("a", OK), task("b", OK, "a", run_if="SOMETIMES")], "resources.jobs.x.tasks[1].run_if", "unknown run_if 'SOMETIMES'"),
        ([task("c", {"condition_task": {"left": "1", "op": "LIKE", "right": "2"}})], "resources.jobs.x.tasks[0].condition_task.op", "unknown op 'LIKE'"),
        (
            [task("l", {"for_each_task": {"inputs": "[1]", "task": {"task_key": "n", "for_each_task": {"inputs": "[1]", "task": {"task_key": "m", **OK}}}}})],
            "resources.jobs.x.tasks[0].for_each_task.task.for_each_task",
            "cannot be nested",
        ),
        (
            [task("a", OK), {"task_key": "b", **OK, "depends_on": [{"task_key": "a", "outcome": "true"}]}],
            "resources.jobs.x.tasks[1].depends_on[0].outcome",
            "only allowed on a dependency on a condition_task",
        ),
        ([{"task_key": "a"}], "resources.jobs.x.tasks[0]", "a task needs a type"),
        (
            [{"task_key": "a", **OK, "condition_task": {"left": "1", "op": "EQUAL_TO", "right": "1"}}],
            "resources.jobs.x.tasks[0].python_callable_task",
            "exactly one type",
        ),
        ([{"task_key": "a", "dashboard_task": {"dashboard_id": "d"}}], "resources.jobs.x.tasks[0].dashboard_task", "cannot run locally"),
        ([{"task_key": "a", **OK, "max_retries": -2}], "resources.jobs.x.tasks[0].max_retries", "must be >= -1"),
        ([{"task_key": "a", **OK, "retries": 3}], "resources.jobs.x.tasks[0].retries", "unknown field"),
        ([{"task_key": "bad key!", **OK}], "resources.jobs.x.tasks[0].task_key", "letters, digits"),
        (
            [task("a", {"python_callable_task": {"callable": "no_such_module_xyz:f"}})],
            "resources.jobs.x.tasks[0].python_callable_task.callable",
            "no module named 'no_such_module_xyz'",
        ),
        (
            [task("a", {"condition_task": {"left": "{{tasks.b.values.v}}", "op": "EQUAL_TO", "right": "1"}}), task("b", OK)],
            "resources.jobs.x.tasks[0].condition_task.left",
            "not upstream",
        ),
        (
            [task("a", {"python_callable_task": {"callable": "json:dumps", "parameters": ["{{input}}"]}})],
            "resources.jobs.x.tasks[0].python_callable_task.parameters[0]",
            "only available inside a for_each",
        ),
        ([task("a", {"pipeline_task": {}})], "resources.jobs.x.tasks[0].pipeline_task.selection", "missing"),
    ],
)
def test_refused_with_field_path(tasks, path, message):
    problems = _problems(_bundle(*tasks))
    assert path in problems, problems
    assert message in problems[path]


def test_bad_cron_timezone_and_sections():
    doc = _bundle(
        task("a", OK),
        schedule={"quartz_cron_expression": "0 0 1 * * ? 2020", "timezone_id": "Mars/Base", "pause_status": "MAYBE"},
        parameters=[{"name": "p", "default": "1"}, {"name": "p", "default": "2"}],
        max_concurrent_runs=-1,
        trigger={"periodic": {"interval": 0, "unit": "MONTHS"}},
    )
    problems = _problems(doc)
    assert "resources.jobs.x.schedule.quartz_cron_expression" in problems
    assert "unknown time zone" in problems["resources.jobs.x.schedule.timezone_id"]
    assert "PAUSED or UNPAUSED" in problems["resources.jobs.x.schedule.pause_status"]
    assert "duplicate parameter" in problems["resources.jobs.x.parameters[1].name"]
    assert "0 to 1000" in problems["resources.jobs.x.max_concurrent_runs"]
    assert "at most one of schedule, trigger, continuous" in problems["resources.jobs.x.trigger"]
    assert "HOURS, DAYS or WEEKS" in problems["resources.jobs.x.trigger.periodic.unit"]


def test_all_problems_reported_together_by_load_spec():
    with pytest.raises(SpecValidationError) as info:
        load_spec(_bundle(task("a", OK, "nope"), task("a", OK), {"task_key": "c"}), source="jobs.yml")
    paths = [path for path, _ in info.value.problems]
    assert paths == ["resources.jobs.x.tasks[0].depends_on[0].task_key", "resources.jobs.x.tasks[1].task_key", "resources.jobs.x.tasks[2]"]
    assert str(info.value).startswith("jobs.yml: 3 problems")


def test_single_job_paths_have_no_prefix():
    assert _problems({"name": "j", "tasks": [task("a", OK, "zz")]}) == {"tasks[0].depends_on[0].task_key": "unknown task 'zz'"}


def test_not_a_document():
    assert validate_document(["a"])[0][1].startswith("expected a job object")
    assert validate_document({"resources": {"jobs": {}}}) == [("resources.jobs", "expected a mapping of job keys to jobs")]
