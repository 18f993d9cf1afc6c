"""sql_task with a file: real .sql files on the shared SparkSession, path-based Delta tables, a real Dagster instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from lakehouse_jobs.lib.jobs import reconstructable_job, validate_document
from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY
from lakehouse_jobs_tests.jobs.jobrun import read_run


def _run_file_job(instance, folder: Path, sql: str, task_parameters: dict, job_parameters: list | None = None):
    (folder / "etl.sql").write_text(sql)
    spec = {"name": "sql_job", "tasks": [{"task_key": "etl", "sql_task": {"file": {"path": "etl.sql"}, "parameters": task_parameters, "warehouse_id": "abc"}}]}
    if job_parameters:
        spec["parameters"] = job_parameters
    (folder / "job.yml").write_text(yaml.safe_dump(spec))
    recon = reconstructable_job(path=str(folder / "job.yml"))
    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": {}}}}}
    with dg.execute_job(recon, instance, run_config=run_config, raise_on_error=False) as result:
        return read_run(instance, result.run_id, ["etl"])


def test_sql_file_creates_inserts_and_merges_with_markers_and_legacy_forms(instance, spark, tmp_path: Path):
    root = tmp_path / "lake"
    sql = """-- a sales table; the path comes in as legacy {{root}} text
CREATE TABLE delta.`{{root}}/sales` (region STRING, amount INT) USING DELTA;
INSERT INTO delta.`{{root}}/sales` VALUES (:region, 10), ('west', 5);

MERGE INTO delta.`{{root}}/sales` AS t
USING (SELECT :region AS region, CAST(:amount AS INT) AS amount) AS s
ON t.region = s.region
WHEN MATCHED THEN UPDATE SET t.amount = t.amount + s.amount
WHEN NOT MATCHED THEN INSERT *;
SELECT region, amount, '${label}' AS label, ';' AS semi FROM delta.`{{root}}/sales` ORDER BY region
"""
    run = _run_file_job(
        instance, tmp_path, sql,
        {"root": str(root), "region": "north", "amount": "7", "label": "{{job.parameters.region}}-run"},
        [{"name": "region", "default": "east"}],
    )  # fmt: skip
    assert run.states == {"etl": "SUCCESS"}, run.outputs
    rows = {r["region"]: r["amount"] for r in spark.read.format("delta").load(str(root / "sales")).collect()}
    assert rows == {"east": 17, "west": 5}  # the job parameter region=east won over the task's north
    meta = run.outputs["etl"]
    assert meta["statements_run"] == 4 and meta["row_count"] == 2
    assert "| east | 17 | east-run | ; |" in meta["preview"]


def test_failing_statement_names_file_statement_and_line_and_keeps_earlier_ones(instance, spark, tmp_path: Path):
    root = tmp_path / "lake"
    sql = """CREATE TABLE delta.`{{root}}/t` (id INT) USING DELTA;
INSERT INTO delta.`{{root}}/t` VALUES (1);

INSERT INTO delta.`{{root}}/t`
  SELECT no_such_column FROM delta.`{{root}}/t`;
INSERT INTO delta.`{{root}}/t` VALUES (2);
"""
    run = _run_file_job(instance, tmp_path, sql, {"root": str(root)})
    assert run.states == {"etl": "FAILED"}
    error = run.outputs["etl"]["error"]
    assert error.startswith(f"{tmp_path / 'etl.sql'}, statement 3 (line 4): ")
    assert "no_such_column" in error and "\n" not in error and "at org.apache" not in error
    assert [r["id"] for r in spark.read.format("delta").load(str(root / "t")).collect()] == [1]


def _problems(body: dict, base_dir: Path) -> list:
    return validate_document({"name": "j", "tasks": [{"task_key": "q", "sql_task": body}]}, base_dir)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("query", {"query_id": "123"}, "saved Databricks SQL query"),
    ("alert", {"alert_id": "123"}, "Databricks SQL alert"),
    ("dashboard", {"dashboard_id": "123"}, "Databricks SQL dashboard"),
])  # fmt: skip
def test_workspace_objects_are_refused(tmp_path: Path, field: str, value: dict, words: str):
    problems = _problems({field: value, "warehouse_id": "w"}, tmp_path)
    assert len(problems) == 1
    path, message = problems[0]
    assert path == f"tasks[0].sql_task.{field}" and words in message and "does not exist locally" in message


def test_file_checks(tmp_path: Path):
    (tmp_path / "ok.sql").write_text("SELECT 1")
    assert _problems({"file": {"path": "ok.sql", "source": "WORKSPACE"}, "parameters": {"a": "1"}}, tmp_path) == []
    [(path, message)] = _problems({"file": {"path": "missing.sql"}}, tmp_path)
    assert path == "tasks[0].sql_task.file.path" and str(tmp_path / "missing.sql") in message
    [(path, message)] = _problems({"file": {"path": "ok.sql", "source": "GIT"}}, tmp_path)
    assert path == "tasks[0].sql_task.file.source" and "git_source" in message
    (tmp_path / "sub").mkdir()
    [(path, message)] = _problems({"file": {"path": "../ok.sql"}}, tmp_path / "sub")  # the workspace root defaults to the job's folder
    assert path == "tasks[0].sql_task.file.path" and "outside the workspace root" in message
    [(path, _)] = _problems({"file": {"path": "ok.sql"}, "parameters": ["a"]}, tmp_path)
    assert path == "tasks[0].sql_task.parameters"
