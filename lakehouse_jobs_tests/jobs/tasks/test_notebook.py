"""notebook_task: a three-notebook ETL job (source .py, .sql, .ipynb) on a real Dagster instance and Delta tables."""

from __future__ import annotations

import json

import pytest

from lakehouse_jobs.lib.jobs import SpecValidationError, load_spec
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS

from ..jobrun import run_spec, task

SEP = "\n\n# COMMAND ----------\n\n"


def source(*cells: str) -> str:
    return "# Databricks notebook source\n" + SEP.join(cells) + "\n"


def magic(kind: str, *lines: str) -> str:
    return "\n".join([f"# MAGIC %{kind}", *[f"# MAGIC {line}" for line in lines]])


def ipynb(*cells: str) -> str:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {"language_info": {"name": "python"}},
        "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None, "id": f"c{i}"} for i, c in enumerate(cells)],
    })  # fmt: skip


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    """The issue's ETL notebooks in a folder that is the current directory (specs given as dicts resolve there)."""
    folder = tmp_path / "etl"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("LAKEHOUSE_WORKSPACE_ROOT", raising=False)
    (folder / "setup.py").write_text(source('root = dbutils.widgets.get("root")\ndef table(name):\n    return f"{root}/tables/{name}"'))
    (folder / "bronze_ingest.py").write_text(source(
        magic("md", "# Bronze", "Ingest the raw orders."),
        "# MAGIC %run ./setup",
        'dbutils.widgets.text("run_date", "1999-01-01")\nrun_date = dbutils.widgets.get("run_date")',
        "df = spark.createDataFrame([(1, 'a', 10.0), (2, 'b', -1.0), (3, 'a', 5.0)], 'id INT, customer STRING, amount DOUBLE')\n"
        "df.withColumn('run_date', __import__('pyspark.sql.functions', fromlist=['lit']).lit(run_date)).write.format('delta').mode('overwrite').save(table('bronze'))\n"
        "print('bronze rows', df.count())",
        magic("sql", "SELECT count(*) AS n FROM delta.`${root}/tables/bronze` WHERE run_date = :run_date"),
        "dbutils.jobs.taskValues.set('bronze_rows', _sqldf.first()['n'])",
    ))  # fmt: skip
    (folder / "silver_transform.sql").write_text(
        "-- Databricks notebook source\n"
        "CREATE OR REPLACE TEMP VIEW silver_v AS SELECT id, customer, amount FROM delta.`${root}/tables/bronze` WHERE amount > 0\n\n"
        "-- COMMAND ----------\n\n"
        "-- MAGIC %python\n-- MAGIC silver = dbutils.widgets.get('root') + '/tables/silver'\n"
        "-- MAGIC spark.table('silver_v').write.format('delta').mode('overwrite').save(silver)\n"
        "-- MAGIC dbutils.jobs.taskValues.set('silver_rows', spark.read.format('delta').load(silver).count())\n"
    )
    (folder / "gold_aggregate.ipynb").write_text(ipynb(
        "%run ./setup",
        "gold = spark.read.format('delta').load(table('silver')).groupBy('customer').sum('amount').withColumnRenamed('sum(amount)', 'total')\n"
        "gold.write.format('delta').mode('overwrite').save(table('gold'))\ndisplay(gold)",
        "%sql\nSELECT customer, total FROM delta.`${root}/tables/gold` ORDER BY customer",
        "import json\ndbutils.notebook.exit(json.dumps({'customers': _sqldf.count()}))",
    ))  # fmt: skip
    return folder


def etl_job(lake: str) -> dict:
    params = {"root": lake}
    return {
        "name": "etl",
        "parameters": [{"name": "run_date", "default": "2024-05-01"}],
        "tasks": [
            task("bronze_ingest", {"notebook_task": {"notebook_path": "./bronze_ingest", "base_parameters": {**params, "run_date": "2000-01-01"}}}),
            task("silver_transform", {"notebook_task": {"notebook_path": "./silver_transform", "base_parameters": params, "warehouse_id": "abc"}}, "bronze_ingest"),
            task("gold_aggregate", {"notebook_task": {"notebook_path": "./gold_aggregate.ipynb", "base_parameters": params, "source": "WORKSPACE"}}, "silver_transform"),
            task("enough_rows", {"condition_task": {"left": "{{tasks.bronze_ingest.values.bronze_rows}}", "op": "GREATER_THAN_OR_EQUAL", "right": "3"}}, "gold_aggregate"),
        ],
    }  # fmt: skip


def test_three_notebook_etl_writes_delta_tables_and_feeds_a_condition(instance, notebooks, lakehouse, spark):
    lake = lakehouse.root
    result = run_spec(instance, etl_job(lake))
    assert result.states == {"bronze_ingest": SUCCESS, "silver_transform": SUCCESS, "gold_aggregate": SUCCESS, "enough_rows": SUCCESS}
    bronze = spark.read.format("delta").load(f"{lake}/tables/bronze")
    assert {r["run_date"] for r in bronze.collect()} == {"2024-05-01"}  # the job parameter wins over base_parameters
    assert sorted(tuple(r) for r in spark.read.format("delta").load(f"{lake}/tables/silver").collect()) == [(1, "a", 10.0), (3, "a", 5.0)]
    assert [tuple(r) for r in spark.read.format("delta").load(f"{lake}/tables/gold").collect()] == [("a", 15.0)]
    bronze_out, gold_out = result.outputs["bronze_ingest"], result.outputs["gold_aggregate"]
    assert json.loads(gold_out["notebook_output"]) == {"customers": 1}
    assert gold_out["notebook_path"] == str(notebooks / "gold_aggregate.ipynb") and "| customer | total |" in gold_out["display"]
    assert bronze_out["task_values"] == {"bronze_rows": 3} and "# Bronze" in bronze_out["markdown"] and bronze_out["cells_run"] == 7
    assert result.outputs["silver_transform"]["task_values"] == {"silver_rows": 2}
    assert result.outputs["enough_rows"]["outcome"] == "true"


def test_failing_cell_names_notebook_cell_line_and_downstream_follows_run_if(instance, notebooks, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SECRET_APP_TOKEN", "tok-123-secret")
    (notebooks / "broken.py").write_text(source("print('before the error')", "x = 1\ny = x / 0"))
    (notebooks / "cleanup.py").write_text(
        source("token = dbutils.secrets.get('app', 'token')\nprint('using', token)\ndbutils.notebook.exit('cleaned with ' + token)")
    )
    spec = {
        "name": "broken",
        "tasks": [
            task("broken", {"notebook_task": {"notebook_path": "./broken"}}),
            task("after", {"notebook_task": {"notebook_path": "./cleanup"}}, "broken"),
            task("cleanup", {"notebook_task": {"notebook_path": "./cleanup"}}, "broken", run_if="ALL_DONE"),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"broken": FAILED, "after": "UPSTREAM_FAILED", "cleanup": SUCCESS}
    assert result.outputs["broken"]["error"] == f"notebook {notebooks / 'broken.py'}, cell 2 (line 7): ZeroDivisionError: division by zero"
    assert result.outputs["cleanup"]["notebook_output"] == "cleaned with [REDACTED]"
    logs = [r.event_log_entry.user_message for r in instance.get_records_for_run(result.run_id).records]
    assert any("before the error" in m for m in logs)  # cell output reaches the step's log
    assert any("using [REDACTED]" in m for m in logs) and not any("tok-123-secret" in m for m in logs)


def test_validation_names_the_field_and_the_path_tried(notebooks):
    (notebooks / "scala.py").write_text(source("x = 1", magic("scala", "val y = 2")))
    (notebooks / "runs.py").write_text(source("# MAGIC %run ./scala", "# MAGIC %run ./gone"))
    spec = {
        "name": "bad",
        "tasks": [
            task("missing", {"notebook_task": {"notebook_path": "./nope"}}),
            task("scala", {"notebook_task": {"notebook_path": "./scala"}}),
            task("git", {"notebook_task": {"notebook_path": "x", "source": "GIT"}}),
            task("params", {"notebook_task": {"notebook_path": "./scala", "base_parameters": ["a"]}}),
            task("runs", {"notebook_task": {"notebook_path": "./runs"}}),
        ],
    }
    with pytest.raises(SpecValidationError) as err:
        load_spec(spec)
    text = str(err.value)
    assert "tasks[0].notebook_task.notebook_path" in text and str(notebooks / "nope.py") in text
    assert "tasks[1].notebook_task.notebook_path" in text and "cell 2 (line 7): %scala cells cannot run locally" in text
    assert "tasks[2].notebook_task.source" in text and "git_source" in text
    assert "tasks[3].notebook_task.base_parameters" in text
    runs = [message for path, message in err.value.problems if path == "tasks[4].notebook_task.notebook_path"]
    assert len(runs) == 2, text
    assert any("scala.py, cell 2" in line for line in runs)  # %run targets are checked too
    assert any(f"runs.py, cell 2 (line 6): %run notebook './gone' not found (tried {notebooks / 'gone.py'}" in line for line in runs), runs


def test_task_timeout_stops_the_notebook(instance, notebooks):
    (notebooks / "slow.py").write_text(source("import time\nfor _ in range(300):\n    time.sleep(0.1)", "never = 1"))
    result = run_spec(instance, {"name": "slow", "tasks": [task("slow", {"notebook_task": {"notebook_path": "./slow"}}, timeout_seconds=1)]})
    assert result.states == {"slow": "TIMEDOUT"}


def test_relative_paths_start_at_the_job_files_folder(instance, tmp_path, monkeypatch):
    import dagster as dg

    from lakehouse_jobs.lib.jobs import reconstructable_job

    from ..jobrun import read_run

    project = tmp_path / "bundle"
    (project / "src").mkdir(parents=True)
    (project / "src" / "hello.py").write_text(source("# MAGIC %run ./lib/greet", "dbutils.notebook.exit(greet(dbutils.widgets.get('who')))"))
    (project / "src" / "lib").mkdir()
    (project / "src" / "lib" / "greet.py").write_text(source("def greet(name):\n    return 'hello ' + name"))
    job_file = project / "job.yaml"
    job_file.write_text("name: hello\ntasks:\n  - task_key: hello\n    notebook_task:\n      notebook_path: ./src/hello\n      base_parameters: {who: world}\n")
    monkeypatch.chdir(tmp_path)  # not the job file's folder
    monkeypatch.delenv("LAKEHOUSE_WORKSPACE_ROOT", raising=False)
    with dg.execute_job(reconstructable_job(path=str(job_file)), instance, raise_on_error=False) as result:
        run_id = result.run_id
    run = read_run(instance, run_id, ["hello"])
    assert run.states == {"hello": SUCCESS} and run.outputs["hello"]["notebook_output"] == "hello world"


def test_what_a_notebook_changes_in_the_session_ends_with_its_task(instance, notebooks, spark):
    """Databricks gives each task its own session: `USE SCHEMA`, settings and temp views do not reach the next task."""
    (notebooks / "changes.py").write_text(source(
        "spark.sql('CREATE SCHEMA IF NOT EXISTS scratch_x')\nspark.sql('USE SCHEMA scratch_x')",
        "spark.conf.set('spark.sql.shuffle.partitions', '7')\nspark.conf.set('lakehouse.test.flag', 'on')",
        "spark.range(3).createOrReplaceTempView('task_view')",
    ))  # fmt: skip
    (notebooks / "looks.py").write_text(source(
        "import json\ntry:\n    seen = spark.table('task_view').count() == 3\nexcept Exception:\n    seen = False\n"
        "dbutils.notebook.exit(json.dumps([spark.catalog.currentDatabase(), spark.conf.get('spark.sql.shuffle.partitions'),"
        " spark.conf.get('lakehouse.test.flag', None), seen]))",
    ))  # fmt: skip
    schema, partitions = spark.catalog.currentDatabase(), spark.conf.get("spark.sql.shuffle.partitions")
    spec = {
        "name": "isolated",
        "tasks": [
            task("changes", {"notebook_task": {"notebook_path": "./changes"}}),
            task("looks", {"notebook_task": {"notebook_path": "./looks"}}, "changes"),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"changes": SUCCESS, "looks": SUCCESS}
    assert json.loads(result.outputs["looks"]["notebook_output"]) == [schema, partitions, None, False]
    assert (spark.catalog.currentDatabase(), spark.conf.get("spark.sql.shuffle.partitions")) == (schema, partitions)
