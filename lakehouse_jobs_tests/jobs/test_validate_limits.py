"""Specs that cannot hang or crash the validator (issue #17 C, F; #16 optional `tasks`).

- validation is linear in the spec size (a chain, independent tasks, references to
  the farthest ancestor, a cycle): measured as a ratio between two sizes, not a wall clock;
- Databricks' numeric bounds are refused at their field path (a float is never an integer),
  and the largest accepted timeout runs without an OverflowError;
- `python_callable_task` validation finds the module without running it;
- names are full matches (a trailing newline is not a name);
- `tasks` is optional, and a job with no task runs and succeeds.
"""

from __future__ import annotations

import gc
import sys
import time
import uuid

import pytest
import yaml

from lakehouse_jobs.lib.jobs import validate_document

from .jobrun import py, run_spec, task
from .sample_tasks import read_log

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _bundle(*tasks: dict, **job: object) -> dict:
    return {"resources": {"jobs": {"x": {"name": "X", "tasks": list(tasks), **job}}}}


def _problems(doc: dict) -> dict[str, str]:
    return dict(validate_document(doc))


# --- linear time ---------------------------------------------------------------------------


def _spec(shape: str, n: int) -> dict:
    tasks = []
    for i in range(n):
        body = {"callable": "json:dumps", "named_parameters": {"obj": "{{job.parameters.p}}"}}
        entry: dict = {"task_key": f"t{i}", "python_callable_task": body}
        if shape != "independent" and (i or shape == "cycle"):
            entry["depends_on"] = [{"task_key": f"t{(i - 1) % n}"}]
            body["parameters"] = ["{{tasks.t0.values.x}}" if i else f"{{{{tasks.t{n - 1}.values.x}}}}"]
        tasks.append(entry)
    return _bundle(*tasks, parameters=[{"name": "p", "default": "1"}])


def _seconds(doc: dict) -> float:
    best = float("inf")
    for _ in range(2):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            validate_document(doc)
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


@pytest.mark.parametrize("shape", ["chain", "independent", "cycle"])
def test_validation_time_grows_linearly(shape):
    """8x the tasks costs ~8x the time (the quadratic validator took 25-40x: ancestors per task, a task set per task)."""
    small, large = _spec(shape, 600), _spec(shape, 4800)
    validate_document(_spec(shape, 50))  # warm: imports, registry
    ratio = _seconds(large) / _seconds(small)
    assert ratio < 20, f"{shape}: 8x the tasks took {ratio:.1f}x the time"


def test_references_checked_against_the_real_ancestors_in_a_long_chain():
    doc = _spec("chain", 3000)
    tasks = doc["resources"]["jobs"]["x"]["tasks"]
    assert validate_document(doc) == []
    tasks.append({"task_key": "side", "python_callable_task": {"callable": "json:dumps", "parameters": ["{{tasks.t2999.values.x}}"]}})
    tasks[5]["python_callable_task"]["parameters"] = ["{{tasks.t2999.values.x}}"]  # downstream of t5
    problems = _problems(doc)
    assert "not upstream" in problems["resources.jobs.x.tasks[3000].python_callable_task.parameters[0]"]
    assert "not upstream" in problems["resources.jobs.x.tasks[5].python_callable_task.parameters[0]"]
    assert len(problems) == 2


def test_a_large_cycle_is_reported_with_its_path():
    problems = _problems(_spec("cycle", 5000))
    message = problems["resources.jobs.x.tasks[0].depends_on"]
    assert message.startswith("dependency cycle: t0 -> t4999 -> t4998") and message.endswith("t1 -> t0")
    assert len(problems) == 1


def test_yaml_aliases_are_walked_once():
    """Nested aliases double the tree per level: 30 levels are 2**30 strings as a tree, 30 nodes as written."""
    lines = ['a0: &a0 ["{{job.parameters.p}}"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 31)]
    anchors = yaml.safe_load("\n".join(lines))
    doc = _bundle(task("t", {"python_callable_task": {"callable": "json:dumps", "parameters": [anchors["a30"]]}}), parameters=[{"name": "p", "default": "1"}])
    started = time.perf_counter()
    assert validate_document(doc) == []
    assert time.perf_counter() - started < 30  # a tree walk would not end for hours


# --- Databricks' numeric bounds ------------------------------------------------------------

HEALTH = {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN"}
OK_TASK = task("a", py("ok", "/dev/null"))
J = "resources.jobs.x"


def _with_task(**fields: object) -> dict:
    return _bundle({**OK_TASK, **fields})


def _for_each(concurrency: object) -> dict:
    return _bundle(task("l", {"for_each_task": {"inputs": "[1]", "concurrency": concurrency, "task": {"task_key": "n", **py("ok", "/dev/null")}}}))


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        (_bundle(OK_TASK, timeout_seconds=2**31), f"{J}.timeout_seconds", "between 0 and 2147483647"),
        (_bundle(OK_TASK, timeout_seconds=1e30), f"{J}.timeout_seconds", "expected an integer, got 1e+30"),
        (_with_task(timeout_seconds=1e30), f"{J}.tasks[0].timeout_seconds", "expected an integer"),
        (_with_task(timeout_seconds=10**30), f"{J}.tasks[0].timeout_seconds", "between 0 and 2147483647"),
        (_with_task(timeout_seconds=-1), f"{J}.tasks[0].timeout_seconds", ">= 0"),
        (_with_task(max_retries=1e22), f"{J}.tasks[0].max_retries", "expected an integer"),
        (_with_task(max_retries=2**31), f"{J}.tasks[0].max_retries", "between -1 and 2147483647"),
        (_with_task(max_retries=-2), f"{J}.tasks[0].max_retries", ">= -1"),
        (_with_task(min_retry_interval_millis=1e26), f"{J}.tasks[0].min_retry_interval_millis", "expected an integer"),
        (_with_task(min_retry_interval_millis=2**40), f"{J}.tasks[0].min_retry_interval_millis", "between 0 and 2147483647"),
        (_bundle(OK_TASK, health={"rules": [{**HEALTH, "value": 2**63}]}), f"{J}.health.rules[0].value", f"at most {INT64_MAX}"),
        (_bundle(OK_TASK, health={"rules": [{**HEALTH, "value": 1e22}]}), f"{J}.health.rules[0].value", "expected an integer"),
        (_with_task(health={"rules": [{**HEALTH, "value": 2**70}]}), f"{J}.tasks[0].health.rules[0].value", f"at most {INT64_MAX}"),
        (_bundle(OK_TASK, max_concurrent_runs=1001), f"{J}.max_concurrent_runs", "0 to 1000"),
        (_bundle(OK_TASK, max_concurrent_runs=1e3), f"{J}.max_concurrent_runs", "0 to 1000"),
        (_bundle(OK_TASK, queue={"enabled": 1}), f"{J}.queue", "enabled: true|false"),
        (_for_each(101), f"{J}.tasks[0].for_each_task.concurrency", "between 1 and 100"),
        (_for_each(1e2), f"{J}.tasks[0].for_each_task.concurrency", "expected an integer"),
        (
            _bundle(OK_TASK, trigger={"file_arrival": {"url": "landing/orders", "min_time_between_triggers_seconds": 2**31}}),
            f"{J}.trigger.file_arrival.min_time_between_triggers_seconds",
            f"at most {INT32_MAX}",
        ),
        (
            _bundle(OK_TASK, trigger={"file_arrival": {"url": "landing/orders", "wait_after_last_change_seconds": 1e30}}),
            f"{J}.trigger.file_arrival.wait_after_last_change_seconds",
            "expected an integer",
        ),
        (
            _bundle(OK_TASK, trigger={"table_update": {"table_names": ["silver.orders"], "wait_after_last_change_seconds": 10**20}}),
            f"{J}.trigger.table_update.wait_after_last_change_seconds",
            f"at most {INT32_MAX}",
        ),
        (_bundle(OK_TASK, trigger={"periodic": {"interval": 2**31, "unit": "WEEKS"}}), f"{J}.trigger.periodic.interval", f"at most {INT32_MAX}"),
        (_bundle(OK_TASK, trigger={"periodic": {"interval": 1e22, "unit": "HOURS"}}), f"{J}.trigger.periodic.interval", "expected an integer"),
    ],
)
def test_numbers_past_databricks_bounds_are_refused_at_their_path(doc, path, message):
    problems = _problems(doc)
    assert path in problems, problems
    assert message in problems[path]


def test_numbers_at_databricks_bounds_are_accepted():
    doc = _bundle(
        {
            **OK_TASK,
            "timeout_seconds": INT32_MAX,
            "max_retries": -1,
            "min_retry_interval_millis": INT32_MAX,
            "health": {"rules": [{**HEALTH, "value": INT64_MAX}]},
        },
        timeout_seconds=INT32_MAX,
        max_concurrent_runs=1000,
        trigger={"periodic": {"interval": INT32_MAX, "unit": "WEEKS"}},
    )
    assert validate_document(doc) == []


def test_a_float_from_yaml_is_refused_with_its_path():
    doc = yaml.safe_load("name: j\ntimeout_seconds: 1.0e+30\ntasks: [{task_key: a, max_retries: 1.0e+22, python_callable_task: {callable: 'json:dumps'}}]")
    assert _problems(doc) == {"timeout_seconds": "expected an integer, got 1e+30", "tasks[0].max_retries": "expected an integer, got 1e+22"}


def test_a_huge_integer_is_not_printed_whole():
    (_, message), *_ = validate_document({"name": "j", "timeout_seconds": 10**5000, "tasks": []})
    assert message.startswith("must be between 0 and 2147483647, got an integer of about 5000 digits")


def test_a_wrong_value_is_shown_briefly_even_when_it_is_a_tree_of_aliases():
    tree: list = ["x"]
    for _ in range(40):  # 2**40 leaves as a tree: printing it whole would never end
        tree = [tree, tree]
    problems = _problems({"name": "j", "tasks": [{**OK_TASK, "timeout_seconds": tree, "max_retries": "9" * 10_000}]})
    assert problems["tasks[0].timeout_seconds"] == "expected an integer, got [[[[...], [...]], [[...], [...]]], [[[...], [...]], [[...], [...]]]]"
    assert len(problems["tasks[0].max_retries"]) < 80


def test_the_largest_timeouts_run_without_overflow(instance, tmp_path):
    """poll() refuses 2**31-1 s (it counts milliseconds in a C int): the wait is sliced, the task runs."""
    log = tmp_path / "log"
    spec = {"name": "long", "timeout_seconds": INT32_MAX, "tasks": [task("a", py("ok", log, "ran"), timeout_seconds=INT32_MAX)]}
    result = run_spec(instance, spec)
    assert result.success and result.states == {"a": "SUCCESS"}, result.states
    assert [entry["label"] for entry in read_log(log)] == ["ran"]


# --- python_callable_task: found, never imported, by validate --------------------------------


@pytest.fixture
def marker_package(tmp_path, monkeypatch):
    """A package whose __init__ and module write marker files when imported."""
    name = f"marker_{uuid.uuid4().hex[:8]}"
    package = tmp_path / "src" / name
    (package / "sub").mkdir(parents=True)
    imported = tmp_path / "imported"
    imported.mkdir()
    top = f"from pathlib import Path\nPath({str(imported)!r}, {{}}).touch()\n"
    (package / "__init__.py").write_text(top.format("'package'"))
    (package / "sub" / "__init__.py").write_text(top.format("'sub'"))
    (package / "sub" / "mod.py").write_text(top.format("'mod'") + "def f(log):\n    Path(log).write_text('called')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield name, imported
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def test_validate_finds_the_callable_module_without_running_it(marker_package, instance, tmp_path):
    name, imported = marker_package
    spec = {"name": "j", "tasks": [task("a", {"python_callable_task": {"callable": f"{name}.sub.mod:f", "named_parameters": {"log": str(tmp_path / "log")}}})]}
    assert validate_document(spec) == []
    assert list(imported.iterdir()) == [] and name not in sys.modules
    result = run_spec(instance, spec)  # the import happens when the job runs
    assert result.success, result.states
    assert sorted(p.name for p in imported.iterdir()) == ["mod", "package", "sub"]
    assert (tmp_path / "log").read_text() == "called"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("{}.sub.nope:f", "no module named '{}.sub.nope'"),
        ("{}.sub.mod.deeper:f", "'{}.sub.mod' is a module, not a package"),
        ("{}.sub.mod:not-a-name", "dotted Python names"),
        ("{}.sub.mod:", "dotted Python names"),
        ("no_such_top_{}:f", "no module named 'no_such_top_{}'"),
    ],
)
def test_a_missing_or_malformed_callable_is_refused_without_imports(marker_package, ref, message):
    name, imported = marker_package
    problems = _problems({"name": "j", "tasks": [task("a", {"python_callable_task": {"callable": ref.format(name)}})]})
    assert message.format(name) in problems["tasks[0].python_callable_task.callable"], problems
    assert list(imported.iterdir()) == []


# --- names: full match ------------------------------------------------------------------------

CONTROL = ["\n", "\r", "\t", "\x00", "\x1f", "\x7f"]


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_control_characters_refused_in_job_task_parameter_and_tag_names(char):
    doc = {
        "resources": {
            "jobs": {
                f"job{char}": {
                    "name": "X",
                    "tags": {f"team{char}": "a"},
                    "parameters": [{"name": f"p{char}", "default": "1"}],
                    "tasks": [{"task_key": f"a{char}", **py("ok", "/dev/null")}],
                }
            }
        }
    }
    problems = _problems(doc)
    job = f"resources.jobs.job{char}"
    assert "a job key uses letters" in problems[job]
    assert "a task_key uses letters" in problems[f"{job}.tasks[0].task_key"]
    assert "a parameter name uses letters" in problems[f"{job}.parameters[0].name"]
    assert "a tag name uses letters" in problems[f"{job}.tags.team{char}"]


def test_a_task_value_reference_with_a_trailing_newline_is_refused():
    doc = _bundle(
        task("a", py("ok", "/dev/null")), task("b", {"python_callable_task": {"callable": "json:dumps", "parameters": ["{{tasks.a.values.`n\n`}}"]}}, "a")
    )
    assert "unknown reference" in _problems(doc)["resources.jobs.x.tasks[1].python_callable_task.parameters[0]"]


# --- tasks optional ---------------------------------------------------------------------------


def test_tasks_are_optional_as_in_the_bundle_schema():
    assert validate_document({"name": "no tasks yet"}) == []
    assert validate_document({"resources": {"jobs": {"x": {"name": "X"}, "y": {}}}}) == []
    assert _problems({"name": "j", "tasks": "a"}) == {"tasks": "expected a list of tasks, got str"}
    assert validate_document({})[0][1].startswith("expected a job object")


@pytest.mark.parametrize("spec", [{"name": "empty"}, {"name": "empty", "tasks": []}], ids=["no tasks field", "empty list"])
def test_a_job_without_tasks_runs_and_succeeds(instance, spec):
    result = run_spec(instance, spec)
    assert result.success and result.result_state == "SUCCESS" and result.states == {}
