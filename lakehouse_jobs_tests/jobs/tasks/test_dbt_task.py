"""dbt_task: a tiny dbt project over a path-based Delta source, run in process on the shared SparkSession
through a real Dagster instance; models and tests become asset events of their LakehouseDbtTranslator keys."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.jobs import validate_document
from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource
from lakehouse_jobs_tests.engines import ON_SAIL
from lakehouse_jobs_tests.jobs.jobrun import py, run_spec, task
from lakehouse_jobs_tests.jobs.sample_tasks import read_log

PROJECT = {
    "dbt_project.yml": """name: tiny
version: "1.0.0"
config-version: 2
profile: tiny
model-paths: ["models"]
models:
  tiny:
    +materialized: table
    +file_format: delta
    +location_root: "{{ var('lakehouse_root') }}/gold"
""",
    "profiles.yml": """tiny:
  target: session
  outputs:
    session: {type: spark, method: session, host: local, schema: gold, threads: 1}
""",
    "models/schema.yml": """version: 2
sources:
  - name: silver
    schema: silver
    tables: [{name: orders}]
models:
  - name: customer_totals
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
""",
    "models/customer_totals.sql": "select customer_id, sum(amount) as total from {{ source('silver', 'orders') }} group by customer_id\n",
    "models/broken.sql": "{{ config(enabled=var('include_broken', false)) }}\nselect no_such_column from {{ source('silver', 'orders') }}\n",
}
MODEL = dg.AssetKey(["gold", "customer_totals"])


@pytest.fixture(scope="module")
def project(tmp_path_factory, spark):
    """One dbt project, lakehouse root and workspace root for the module (dbt parses are slow)."""
    folder = tmp_path_factory.mktemp("dbt_task")
    for name, text in PROJECT.items():
        (folder / "tiny" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "tiny" / name).write_text(text)
    lakehouse = LakehouseResource(root=str(folder / "lake"))
    rows = [(1, 10.0), (1, 5.5), (2, 7.0)]
    spark.createDataFrame(rows, "customer_id INT, amount DOUBLE").write.format("delta").save(str(lakehouse.table_path("silver", "orders")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_ROOT", lakehouse.root)
        patch.setenv("LAKEHOUSE_WORKSPACE_ROOT", str(folder))
        yield folder / "tiny", lakehouse


def _events(instance, run_id: str, event_type: dg.DagsterEventType) -> list:
    return [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run_id, of_type=event_type).records]


def test_run_and_test_build_the_model_and_log_its_materialization_and_checks(instance, spark, project):
    folder, lakehouse = project
    spec = {"name": "dbt_job", "tasks": [task("dbt", {"dbt_task": {"project_directory": str(folder), "commands": ["dbt run", "dbt test"]}})]}
    run = run_spec(instance, spec)
    assert run.states == {"dbt": "SUCCESS"}, run.outputs
    table = spark.read.format("delta").load(str(lakehouse.table_path("gold", "customer_totals")))
    assert {r["customer_id"]: r["total"] for r in table.collect()} == {1: 15.5, 2: 7.0}
    materializations = _events(instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert [e.asset_key for e in materializations] == [MODEL] and {e.step_key for e in materializations} == {"dbt"}
    checks = {e.event_specific_data.check_name: e.event_specific_data for e in _events(instance, run.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert set(checks) == {"unique_customer_totals_customer_id", "not_null_customer_totals_customer_id"}
    assert all(c.passed and c.asset_key == MODEL for c in checks.values())
    assert run.outputs["dbt"]["models"] == 1 and run.outputs["dbt"]["tests"] == 2
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"  # dbt-spark turned it off; the run gets it back


def test_a_failing_model_fails_the_task_with_dbts_message_and_stops_the_commands(instance, project, tmp_path):
    folder, _ = project
    log = str(tmp_path / "log.jsonl")
    commands = ["dbt run --select broken --vars '{include_broken: true}'", "dbt test"]
    spec = {
        "name": "dbt_job",
        "tasks": [
            task("dbt", {"dbt_task": {"project_directory": str(folder), "commands": commands}}),
            task("after", py("ok", log, "after"), "dbt", run_if="ALL_DONE"),
        ],
    }
    run = run_spec(instance, spec)
    assert run.states == {"dbt": "FAILED", "after": "SUCCESS"}
    error = run.outputs["dbt"]["error"]
    engines_words = "attribute ObjectName" if ON_SAIL else "[UNRESOLVED_COLUMN"  # the engine's own message for the unknown column
    assert error.startswith(f"dbt run --select broken --vars '{{include_broken: true}}' failed: model broken (models/broken.sql): {engines_words}"), error
    assert "no_such_column" in error
    assert "\n" not in error and "Traceback" not in error
    assert _events(instance, run.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION) == []  # dbt test never ran
    assert [r["label"] for r in read_log(log)] == ["after"]


@pytest.fixture(autouse=True)
def _workspace(request, monkeypatch):
    """Validation tests resolve projects from their own tmp folder (the module's workspace root may still be set)."""
    if "tmp_path" in request.fixturenames and "project" not in request.fixturenames:
        monkeypatch.setenv("LAKEHOUSE_WORKSPACE_ROOT", str(request.getfixturevalue("tmp_path")))


def _problems(body: dict, base_dir: Path) -> list:
    return validate_document({"name": "j", "tasks": [{"task_key": "t", "dbt_task": body}]}, base_dir)


def test_validation_names_the_missing_project_and_a_command_without_dbt(tmp_path: Path):
    problems = dict(_problems({"project_directory": "nowhere", "commands": ["dbt run", "run --select x"]}, tmp_path))
    assert problems["tasks[0].dbt_task.project_directory"] == f"no dbt project at 'nowhere' (tried {tmp_path / 'nowhere' / 'dbt_project.yml'})"
    assert "starts with 'dbt '" in problems["tasks[0].dbt_task.commands[1]"]
    assert "tasks[0].dbt_task.commands[0]" not in problems


def test_validation_refuses_network_deps_git_source_and_misplaced_fields(tmp_path: Path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (tmp_path / "p" / "profiles.yml").write_text("p: {}\n")
    (tmp_path / "p" / "packages.yml").write_text("packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n  - local: ../shared\n")
    body = {"project_directory": "p", "commands": ["dbt deps", "dbt build --project-dir x"], "catalog": "main"}
    problems = dict(_problems(body, tmp_path))
    prefix = "tasks[0].dbt_task"
    assert "packages.yml: dbt-labs/dbt_utils" in problems[f"{prefix}.commands[0]"] and "network" in problems[f"{prefix}.commands[0]"]
    assert "--project-dir is set by the task" in problems[f"{prefix}.commands[1]"]
    assert "warehouse_id" in problems[f"{prefix}.catalog"]
    git = dict(_problems({"commands": ["dbt run"], "source": "GIT"}, tmp_path))
    assert list(git) == [f"{prefix}.source"] and "git_source" in git[f"{prefix}.source"]
    ok = {"project_directory": "p", "commands": ["dbt run"], "warehouse_id": "abc", "schema": "gold", "catalog": "main"}
    assert _problems(ok, tmp_path) == []
