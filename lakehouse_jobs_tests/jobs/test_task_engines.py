"""Job tasks on the engines (issue #19, item 3): under LAKEHOUSE_ENGINE=auto a run whose notebooks and SQL
files use nothing Sail lacks runs on Sail (their OPTIMIZE and VACUUM too, by delta-rs); one whose notebook
uses an RDD runs on the JVM, its task's log naming the cell; on the sail engine that task is refused before
its first cell, so nothing is written. Each run is `lakehouse-jobs run` in its own process, as a user starts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.lib.tags import ENGINE
from lakehouse_jobs_tests.runtime.procs import run_env

CLI = str(Path(sys.executable).with_name("lakehouse-jobs"))
JOBS = """resources:
  jobs:
    numbers:
      name: numbers
      tasks:
        - task_key: make
          notebook_task: {notebook_path: ./make_numbers}
        - task_key: more
          depends_on: [{task_key: make}]
          sql_task: {file: {path: ./more_numbers.sql}}
    classic:
      name: classic
      tasks:
        - task_key: total
          max_retries: 2
          min_retry_interval_millis: 0
          notebook_task: {notebook_path: ./total}
"""
MAKE = """# Databricks notebook source
spark.range(5).selectExpr("id", "id * 2 AS twice").write.format("delta").mode("overwrite").saveAsTable("main.silver.numbers")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT count(*) AS n FROM main.silver.numbers
"""
MORE = """INSERT INTO main.silver.numbers SELECT 5 AS id, 10 AS twice;
OPTIMIZE main.silver.numbers ZORDER BY (id);
VACUUM main.silver.numbers;
"""
TOTAL = """# Databricks notebook source
spark.range(3).write.format("delta").mode("overwrite").saveAsTable("main.silver.kept")

# COMMAND ----------

total = spark.table("main.silver.kept").rdd.map(lambda row: row.id).sum()
assert total == 3, total
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    for name, text in (("jobs.yml", JOBS), ("make_numbers.py", MAKE), ("more_numbers.sql", MORE), ("total.py", TOTAL)):
        (folder / name).write_text(text)
    return folder


def _run(project: Path, job: str, engine: str) -> tuple[subprocess.CompletedProcess, str]:
    env = run_env(project.parent / "lake", {}, LAKEHOUSE_ENGINE=engine, LAKEHOUSE_WORKSPACE_ROOT=str(project))
    done = subprocess.run([CLI, "run", "jobs.yml", "--job", job], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        newest = max(instance.get_run_records(), key=lambda r: r.create_timestamp).dagster_run
    return done, newest.tags.get(ENGINE, "")


def test_tasks_sail_runs_go_to_sail_under_auto(project: Path):
    done, engine = _run(project, "numbers", "auto")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert engine == "sail"
    assert "auto: all 3 step(s) of the run are table steps or tasks whose code uses nothing Sail lacks" in done.stdout + done.stderr
    table = DeltaTable(str(project.parent / "lake" / "silver" / "numbers"))
    assert table.to_pandas().sort_values("id").values.tolist() == [[i, i * 2] for i in range(6)]
    assert "OPTIMIZE" in [h["operation"] for h in table.history(3)]  # VACUUM with nothing to delete: delta-rs commits nothing


def test_a_task_using_what_sail_lacks_puts_its_run_on_the_jvm_under_auto(project: Path):
    done, engine = _run(project, "classic", "auto")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert engine == "spark"
    said = "total runs on the JVM engine: notebook total.py, cell 2 (line 6) uses rdd: the classic SparkContext API"
    assert (done.stdout + done.stderr).count(said) == 1
    assert DeltaTable(str(project.parent / "lake" / "silver" / "kept")).to_pandas()["id"].sum() == 3


def test_on_the_sail_engine_such_a_task_is_refused_before_it_writes(project: Path):
    done, _engine = _run(project, "classic", "sail")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert (
        "total cannot run on the sail engine: notebook total.py, cell 2 (line 6) uses rdd: the classic SparkContext API (`sc`,"
        " `spark.sparkContext`, RDDs, `_jvm`), which Spark Connect has not (docs/engines.md); LAKEHOUSE_ENGINE=auto runs such"
        " a task's run on the JVM"
    ) in out
    assert "Traceback" not in out and "retrying" not in out  # the same on every attempt: not retried
    assert not (project.parent / "lake" / "silver" / "kept").exists()  # its first cell never ran
