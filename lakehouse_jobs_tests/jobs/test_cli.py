"""`lakehouse-jobs validate | list | run | repair` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lakehouse_jobs.cli import main

from .jobrun import fn, py, task

BAD = """
resources:
  jobs:
    x:
      name: X
      tasks:
        - task_key: a
          python_callable_task: {callable: "json:dumps", parameters: ["1"]}
        - task_key: b
          depends_on: [{task_key: nope}]
          run_if: SOMETIMES
          python_callable_task: {callable: "json:dumps", parameters: ["1"]}
"""


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_validate_prints_every_problem_with_its_path(tmp_path, capsys):
    path = tmp_path / "bad.yml"
    path.write_text(BAD)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "resources.jobs.x.tasks[1].depends_on[0].task_key: unknown task 'nope'" in err
    assert any(line.startswith("resources.jobs.x.tasks[1].run_if: unknown run_if 'SOMETIMES'") for line in err)
    assert "Traceback" not in "\n".join(err)


def test_validate_garbled_file_without_traceback(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("tasks: [\n  - {")
    proc = subprocess.run([sys.executable, "-m", "lakehouse_jobs.cli", "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "not valid YAML/JSON" in proc.stderr and "Traceback" not in proc.stderr


def _spec_file(tmp_path, flag) -> str:
    log = str(tmp_path / "log.jsonl")
    spec = {
        "name": "cli job",
        "parameters": [{"name": "who", "default": "nobody"}],
        "tasks": [
            task("hello", {"python_callable_task": {"callable": fn("echo"), "parameters": [log, "hello", "{{job.parameters.who}}"]}}),
            {
                "task_key": "flaky",
                "depends_on": [{"task_key": "hello"}],
                "python_callable_task": {"callable": fn("fail_if_exists"), "parameters": [log, "flaky", str(flag)]},
            },
            task("done", py("ok", log, "done"), "flaky"),
        ],
    }
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_validate_ok_list_run_and_repair(tmp_path, capsys, dagster_home):
    flag = tmp_path / "broken"
    flag.touch()
    path = _spec_file(tmp_path, flag)
    assert main(["validate", path]) == 0
    assert main(["list", path]) == 0
    listing = capsys.readouterr().out
    assert "cli_job: 'cli job', 3 task(s), started by manual" in listing and "after flaky" in listing

    assert main(["run", path, "--param", "who=world"]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0].split() == ["hello", "SUCCESS"] and out[1].split() == ["flaky", "FAILED"] and out[2].split() == ["done", "UPSTREAM_FAILED"]
    assert out[3].split()[:2] == ["job", "FAILED"]
    run_id = out[3].split("(run ")[1].split(",")[0]
    logged = captured.err  # the failing task in one sentence; no Python stack (it stays in the event log)
    assert "flaky FAILED after 1 attempt(s): " in logged
    assert "Stack Trace" not in logged and 'File "' not in logged
    assert '"args": ["world"]' in (tmp_path / "log.jsonl").read_text()

    flag.unlink()
    assert main(["repair", run_id]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"repairing {run_id}: re-running flaky, done and their dependents"
    assert [line.split()[:2] for line in out[1:]] == [["hello", "SUCCESS"], ["flaky", "SUCCESS"], ["done", "SUCCESS"], ["job", "SUCCESS"]]


def test_run_refuses_unknown_parameters(tmp_path, capsys, dagster_home):
    path = _spec_file(tmp_path, tmp_path / "flag")
    assert main(["run", path, "--param", "nope=1"]) == 1
    assert "declares no such parameter" in capsys.readouterr().err


def test_run_honours_max_concurrent_runs(tmp_path, capsys, dagster_home):
    """An active run of the job: `run` is SKIPPED when the queue is off, and waits when it is on."""
    import threading

    import dagster as dg
    from dagster._core.test_utils import create_run_for_test

    from lakehouse_jobs.lib.jobs.cli import instance

    log = str(tmp_path / "log.jsonl")
    spec = {"name": "limited", "max_concurrent_runs": 1, "tasks": [task("only", py("ok", log, "only"))]}
    path = tmp_path / "limited.yml"
    path.write_text(yaml.safe_dump(spec))
    inst = instance()
    active = create_run_for_test(inst, job_name="limited", status=dg.DagsterRunStatus.STARTED)

    assert main(["run", str(path)]) == 1
    assert "SKIPPED" in capsys.readouterr().out and not (tmp_path / "log.jsonl").exists()

    path.write_text(yaml.safe_dump({**spec, "queue": {"enabled": True}}))
    threading.Timer(3.0, lambda: inst.report_run_canceled(inst.get_run_by_id(active.run_id))).start()
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("limited: queued, max_concurrent_runs=1 reached") and "only" in out
    assert (tmp_path / "log.jsonl").exists()


ASSET_DEFS = """
import dagster as dg


@dg.asset(key=["bronze", "things"])
def things():
    return 1


defs = dg.Definitions(assets=[things])
"""


def _pipeline_spec(folder) -> str:
    path = folder / "assets.yml"
    path.write_text(yaml.safe_dump({"name": "assets", "tasks": [task("things", {"pipeline_task": {"selection": "bronze/things"}})]}))
    return str(path)


def test_project_definitions_come_from_the_nearest_pyproject(tmp_path, monkeypatch):
    from lakehouse_jobs.defs.paths import REPO_ROOT
    from lakehouse_jobs.lib.jobs.cli import project_definitions

    (tmp_path / "pyproject.toml").write_text('[tool.dagster]\nmodule_name = "my_lake.definitions"\n')
    (tmp_path / "src" / "deep").mkdir(parents=True)
    assert project_definitions(tmp_path / "src" / "deep") == "my_lake.definitions:defs"
    (tmp_path / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # the nearest project has none
    assert project_definitions(tmp_path / "src" / "deep") is None
    monkeypatch.chdir(REPO_ROOT / "lakehouse_jobs")
    assert project_definitions() == "lakehouse_jobs.definitions:defs"  # this repo's own [tool.dagster]


def test_run_selects_assets_of_the_projects_definitions(tmp_path, monkeypatch, capsys, dagster_home):
    project = tmp_path / "project"
    (project / "elsewhere").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.dagster]\nmodule_name = "cli_asset_defs"\n')
    (project / "cli_asset_defs.py").write_text(ASSET_DEFS)
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.chdir(project / "elsewhere")
    assert main(["run", _pipeline_spec(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["things", "SUCCESS"]


def test_run_of_a_pipeline_job_outside_a_project_says_what_to_pass(tmp_path, monkeypatch, capsys, dagster_home):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "no-dagster-here"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", _pipeline_spec(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "job assets has pipeline tasks, which need the Definitions" in err and "--definitions module:attr" in err and "Traceback" not in err


# Databricks Asset Bundles: the CLI takes a bundle folder (or its databricks.yml) with --target/--var.
SHOP = Path(__file__).parent.parent / "bundles" / "shop"


def test_run_a_bundle_job_from_its_folder(tmp_path, monkeypatch, capsys, dagster_home):
    """The job's notebook lives in src/, named from resources/ (../src/greet.py); dev target, --var and a parameter."""
    monkeypatch.setenv("LAKEHOUSE_USER_EMAIL", "jane@shop.test")
    monkeypatch.delenv("BUNDLE_VAR_greeting", raising=False)
    out = tmp_path / "greetings.txt"
    args = ["run", str(SHOP), "--target", "dev", "--job", "shop_etl", "--var", "greeting=bonjour", "--param", f"out={out}"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["greet", "SUCCESS"], ["report", "SUCCESS"], ["job", "SUCCESS"]]
    assert out.read_text().splitlines() == ["bonjour", "report for dev_catalog by jane"]
    assert "BUNDLE_VAR_greeting" not in os.environ and "DATABRICKS_BUNDLE_TARGET" not in os.environ  # restored after the run


def test_list_and_validate_a_bundle(capsys):
    assert main(["list", str(SHOP / "databricks.yml"), "-t", "prod"]) == 0
    listing = capsys.readouterr().out
    assert "shop_etl: 'shop etl prod', 3 task(s), started by schedule" in listing and "audit" in listing
    assert main(["validate", str(SHOP)]) == 0
    assert capsys.readouterr().out.strip().endswith(": OK")


def _bundle_job(tmp_path, job: dict) -> Path:
    folder = tmp_path / "b"
    (folder / "resources").mkdir(parents=True)
    (folder / "databricks.yml").write_text(yaml.safe_dump({"bundle": {"name": "b"}, "include": ["resources/*.yml"]}))
    (folder / "resources" / "x.job.yml").write_text(yaml.safe_dump({"resources": {"jobs": {"x": job}}}))
    return folder


CHECK = [{"task_key": "t", "condition_task": {"left": "1", "op": "EQUAL_TO", "right": "1"}}]


@pytest.mark.parametrize(
    ("job", "field", "says"),
    [
        ({"trigger": {"file_arrival": {"url": "../../etc"}}, "tasks": CHECK}, "resources.jobs.x.trigger.file_arrival.url", "outside the lakehouse root"),
        (
            {"trigger": {"table_update": {"table_names": ["../../etc/passwd"]}}, "tasks": CHECK},
            "resources.jobs.x.trigger.table_update.table_names[0]",
            "outside the lakehouse root",
        ),
        (
            {"webhook_notifications": {"on_failure": [{"id": "https://hooks.example.com/x"}]}, "tasks": CHECK},
            "resources.jobs.x.webhook_notifications.on_failure[0].id",
            "got a URL",
        ),
        (
            {"tasks": [{"task_key": "t", "pipeline_task": {"selection": "bronze/nothing"}}]},
            "resources.jobs.x.tasks[0].pipeline_task.selection",
            "bronze/nothing",
        ),
    ],
)
def test_validate_refuses_what_loading_the_code_location_refuses(tmp_path, monkeypatch, capsys, job, field, says):
    """validate compiles the jobs against the definitions they run with (here --definitions), so it refuses what loading would."""
    (tmp_path / "cli_validate_defs.py").write_text(ASSET_DEFS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    folder = _bundle_job(tmp_path, job)
    assert main(["validate", str(folder), "--definitions", "cli_validate_defs:defs"]) == 1
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if field in line]
    assert line.startswith(f"b/resources/x.job.yml: {field}: ") and says in line, err
    assert "Traceback" not in err


def test_validate_reads_a_jobs_api_get_response(tmp_path, capsys):
    path = tmp_path / "job.json"
    settings = {"name": "exported", "tasks": CHECK, "format": "MULTI_TASK"}
    path.write_text(json.dumps({"job_id": 1234, "created_time": 1700000000000, "creator_user_name": "a@b.test", "settings": settings}))
    assert main(["validate", str(path)]) == 0
    assert main(["list", str(path)]) == 0
    assert "exported: 'exported', 1 task(s)" in capsys.readouterr().out


def test_a_bundle_job_without_tasks_is_loaded_without_requiring_them(tmp_path):
    """The bundle schema makes tasks optional: nothing in the bundle reading requires them (validate.py decides)."""
    from lakehouse_jobs.lib.bundles.bundle import load_bundle
    from lakehouse_jobs.lib.jobs.load import job_spec

    bundle = load_bundle(_bundle_job(tmp_path, {"name": "empty", "description": "filled in later"}))
    assert bundle.jobs == {"x": {"name": "empty", "description": "filled in later"}}
    assert job_spec("x", bundle.jobs["x"], bundle.root).tasks == []


def test_validate_of_a_pipeline_job_outside_a_project_checks_the_rest(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "no-dagster-here"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["validate", _pipeline_spec(tmp_path)]) == 0
    assert "note: not compiled, their pipeline tasks need the Definitions holding their assets (--definitions module:attr): assets" in capsys.readouterr().err
    assert main(["validate", _pipeline_spec(tmp_path), "--definitions", "no_such_module_here:defs"]) == 1
    assert "--definitions no_such_module_here:defs: cannot load it (No module named 'no_such_module_here')" in capsys.readouterr().err


def test_repair_of_a_bundle_run_rebuilds_the_same_target(tmp_path, monkeypatch, capsys, dagster_home):
    """A run of the prod target records its choices, so its repair rebuilds the prod job (audit exists only there)."""
    monkeypatch.setenv("LAKEHOUSE_USER_EMAIL", "jane@shop.test")
    out = tmp_path / "greetings.txt"
    flag = tmp_path / "greetings.txt.fail"
    flag.touch()
    assert main(["run", str(SHOP), "-t", "prod", "--job", "shop_etl", "--param", f"out={out}"]) == 1
    lines = capsys.readouterr().out.splitlines()
    states = dict(line.split()[:2] for line in lines[:3])
    assert states["greet"] == "FAILED" and states["report"] == "UPSTREAM_FAILED" and states["audit"] != "SUCCESS"
    run_id = lines[3].split("(run ")[1].split(",")[0]
    flag.unlink()
    assert main(["repair", run_id]) == 0  # no --target here: the run's own choice is used
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["audit", "SUCCESS"], ["greet", "SUCCESS"], ["report", "SUCCESS"], ["job", "SUCCESS"]]
    assert out.read_text().splitlines() == ["hello", "report for main by jane", "hi"]
