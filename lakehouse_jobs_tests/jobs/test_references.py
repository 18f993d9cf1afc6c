"""Dynamic value references resolved when a task starts; job parameters overridden at run time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakehouse_jobs.lib.jobs import references
from lakehouse_jobs.lib.jobs.references import ReferenceContext, resolve
from lakehouse_jobs.lib.jobs.references import ReferenceError as ReferenceResolutionError

from .jobrun import run_spec, task
from .sample_tasks import read_log


def _echo(log: str, label: str, **named: str) -> dict:
    return {"python_callable_task": {"callable": "lakehouse_jobs_tests.jobs.sample_tasks:echo", "named_parameters": {"log": log, "label": label, **named}}}


def _spec(log: str) -> dict:
    return {
        "name": "Nightly refresh",
        "parameters": [{"name": "env", "default": "dev"}, {"name": "day", "default": "{{job.start_time.iso_date}}"}, {"name": "limit", "default": 10}],
        "tasks": [
            task(
                "first",
                _echo(
                    log,
                    "first",
                    env="{{job.parameters.env}}",
                    day="{{job.parameters.day}}",
                    limit="{{job.parameters.limit}}",
                    job_id="{{job.id}}",
                    name="{{job.name}}",
                    run_id="{{job.run_id}}",
                    trigger="{{job.trigger.type}}",
                    location="{{job.trigger.file_arrival.location}}",
                    me="{{task.name}}",
                    year="{{job.start_time.year}}",
                ),
            ),  # fmt: skip
            task("second", _echo(log, "second", state="{{tasks.first.result_state}}", text="env={{job.parameters.env}}!"), "first"),
        ],
    }


def test_defaults_and_job_references(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    result = run_spec(
        instance, _spec(log), tags={"lakehouse_jobs/trigger.type": "file_arrival", "lakehouse_jobs/trigger.file_arrival.location": "landing/orders"}
    )
    first, second = (e["kwargs"] for e in read_log(log))
    today = datetime.fromtimestamp(result.run.tags and instance.get_run_record_by_id(result.run_id).start_time, UTC).date()
    assert first == {
        "env": "dev", "day": today.isoformat(), "limit": "10", "job_id": "nightly_refresh", "name": "Nightly refresh",
        "run_id": result.run_id, "trigger": "file_arrival", "location": "landing/orders", "me": "first", "year": str(today.year),
    }  # fmt: skip
    assert second == {"state": "SUCCESS", "text": "env=dev!"}


def test_parameters_overridden_at_run_time(instance, tmp_path):
    log = str(tmp_path / "log.jsonl")
    run_spec(instance, _spec(log), params={"env": "prod", "day": "2024-01-31"})
    first = read_log(log)[0]["kwargs"]
    assert (first["env"], first["day"], first["limit"], first["trigger"]) == ("prod", "2024-01-31", "10", "manual")


def test_unresolvable_reference_fails_the_task():
    ctx = ReferenceContext(
        job_id="j", job_name="j", run_id="r", start_time=datetime(2024, 5, 6, tzinfo=UTC), tasks={"a": {"result_state": "SUCCESS", "values": {}}}
    )
    assert resolve("{{job.start_time.iso_weekday}}/{{job.start_time.is_weekday}}", ctx) == "1/true"
    with pytest.raises(ReferenceResolutionError, match="did not set the value"):
        resolve("{{tasks.a.values.missing}}", ctx)


def test_reference_checks():
    kwargs = {"parameters": {"p"}, "ancestors": {"a"}, "in_for_each": False, "tasks": {"a", "b"}}
    assert references.check("job.parameters.p", **kwargs) is None
    assert "unknown job parameter" in references.check("job.parameters.q", **kwargs)
    assert "not upstream" in references.check("tasks.b.values.x", **kwargs)
    assert "unknown task" in references.check("tasks.zz.values.x", **kwargs)
    assert "only available inside a for_each" in references.check("input", **kwargs)
    assert "unknown reference" in references.check("job.owner", **kwargs)


def test_outside_the_known_namespaces_a_reference_stays_literal_text():
    """Databricks: unknown namespaces are literal; a bad name inside a known namespace is refused."""
    kwargs = {"parameters": {"p", "a.b$"}, "ancestors": set(), "in_for_each": False, "tasks": set()}
    assert references.check("my.value", **kwargs) is None
    assert references.check("secrets/scope/key", **kwargs) is None
    assert "unknown reference" in references.check("job.naem", **kwargs)
    assert "unknown reference" in references.check("workspace.owner", **kwargs)
    assert references.check("workspace.id", **kwargs) is None
    assert references.check("job.parameters.`a.b$`", **kwargs) is None  # backticks escape special characters
    ctx = ReferenceContext(job_id="j", job_name="n", run_id="r", start_time=datetime(2024, 5, 6, tzinfo=UTC), parameters={"a.b$": "v"})
    text = "{{my.value}} {{ workspace.id }} {{job.parameters.`a.b$`}} {{job.id}} {{ spark.conf }}"
    assert resolve(text, ctx) == "{{my.value}} 0 v j {{ spark.conf }}"


def test_a_literal_reference_validates_and_runs_unchanged(instance, tmp_path):
    log = str(tmp_path / "calls.log")
    spec = {"name": "literal", "tasks": [task("a", _echo(log, "a", text="{{my.value}}-{{job.name}}"))]}
    run = run_spec(instance, spec)
    assert run.states == {"a": "SUCCESS"}
    assert read_log(log)[-1]["kwargs"]["text"] == "{{my.value}}-literal"
