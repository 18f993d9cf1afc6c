"""A task's code read before the run: what it uses that Sail lacks, and where (jobs/source_needs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs.lib.jobs import source_needs
from lakehouse_jobs.lib.runtime import auto_engine
from lakehouse_jobs.lib.runtime.sail import LACK_PROBES, LACKS
from lakehouse_jobs.lib.tags import ENGINE_NEEDS, ENGINE_USES

NOTEBOOK = """# Databricks notebook source
orders = spark.read.csv("/Volumes/main/raw/landing/orders", header=True)
orders.write.mode("overwrite").saveAsTable("main.silver.orders")

# COMMAND ----------

# MAGIC %sql
# MAGIC -- input_file_name() in a comment is not code
# MAGIC SELECT 'CACHE is a word in a string' AS note;
# MAGIC CACHE TABLE recent AS SELECT * FROM main.silver.orders

# COMMAND ----------

from pyspark.sql import functions as F
files = orders.select(F.input_file_name().alias("file"))

# COMMAND ----------

# MAGIC %run ./helpers
"""
HELPERS = """# Databricks notebook source
sc = spark.sparkContext
"""
CLEAN = """# Databricks notebook source
sc = 0.5  # a variable of its own named sc
df = spark.table("main.silver.orders").where("amount > 0").groupBy("day").count()
spark.sql("INSERT INTO main.gold.daily SELECT day, count FROM counts")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT day, sum(amount) FROM main.silver.orders o JOIN main.silver.days d ON o.day = d.day GROUP BY day;
# MAGIC OPTIMIZE main.silver.orders ZORDER BY (day);
# MAGIC VACUUM main.silver.orders
"""


def _found(reading: source_needs.Reading) -> list[tuple[str, str, str]]:
    return sorted((u.need, u.where, u.what) for u in reading.uses)


def test_a_notebook_its_run_notebooks_cells_and_lines(tmp_path: Path):
    (tmp_path / "etl.py").write_text(NOTEBOOK)
    (tmp_path / "helpers.py").write_text(HELPERS)
    reading = source_needs.read("notebook", tmp_path / "etl.py", tmp_path)
    assert _found(reading) == [
        ("cache_table", "notebook etl.py, cell 2, statement 2 (line 10)", "CACHE"),
        ("classic_api", "notebook helpers.py, cell 1 (line 2)", "sparkContext"),
        ("file_lineage", "notebook etl.py, cell 3 (line 15)", "input_file_name"),
    ]
    assert reading.unread is None and not reading.fits_sail
    assert reading.needs == ("cache_table", "classic_api", "file_lineage")
    assert reading.reason().startswith("notebook etl.py, cell 2, statement 2 (line 10) uses CACHE: `CACHE TABLE`")


def test_a_notebook_sail_runs_uses_nothing(tmp_path: Path):
    (tmp_path / "clean.py").write_text(CLEAN)
    reading = source_needs.read("notebook", tmp_path / "clean.py", tmp_path)
    assert reading.uses == () and reading.fits_sail and reading.reason() == ""


def test_sql_statements_by_number_and_line():
    text = (
        "CREATE TABLE IF NOT EXISTS main.silver.t (k INT, d DATE);\n"
        "SELECT l.k, r.v\n  FROM a l JOIN b r USING (k);\n"
        "SELECT k FROM a JOIN b USING (k);  -- unqualified: fine on Sail\n"
        "MERGE INTO main.silver.t t USING s ON t.k = s.k WHEN MATCHED THEN DELETE;\n"
        "SELECT datediff(d, current_date()), '_corrupt_record' FROM main.silver.t"
    )
    reading = source_needs.Reading(tuple(source_needs.sql_uses(text, "q.sql")))
    assert _found(reading) == [
        ("datediff_int", "q.sql, statement 5 (line 6)", "datediff"),
        ("feed_table_dml", "q.sql, statement 4 (line 5)", "MERGE INTO"),
        ("using_join_names", "q.sql, statement 2 (line 2)", "l.k"),
    ]
    # a MERGE is refused by a run's Sail session itself, only on a table with the feed: the sail engine does not refuse it up front
    assert reading.refused_on_sail().needs == ("datediff_int", "using_join_names")


def test_a_script_and_the_modules_it_imports_from_its_folders(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "tables.py").write_text(
        "from delta.tables import DeltaTable\n\n\ndef upsert(spark, path):\n    return DeltaTable.forPath(spark, path)\n"
    )
    (tmp_path / "job.py").write_text(
        "import json\nfrom lib.tables import upsert\n"
        "df = spark.read.option('mergeSchema', 'true').format('delta').load('/x')\n"
        "spark.sql('CACHE TABLE x AS SELECT 1')\n"
        "dbutils.notebook.run(notebook_path, 60)\n"
    )
    reading = source_needs.read("python", tmp_path / "job.py", tmp_path)
    assert _found(reading) == [
        ("cache_table", "job.py (line 4)", "CACHE"),
        ("delta_table_api", "lib/tables.py (line 1)", "delta.tables"),
        ("delta_table_api", "lib/tables.py (line 5)", "DeltaTable"),
        ("writer_checks", "job.py (line 3)", "'mergeSchema'"),
    ]
    assert reading.unread == "job.py (line 5) runs a notebook whose path is known only at run time"
    assert reading.reason().endswith("its code cannot all be read before the run: job.py (line 5) runs a notebook whose path is known only at run time")


def test_statements_built_from_literals_are_read_and_others_are_not(tmp_path: Path):
    (tmp_path / "job.py").write_text(
        "table = 'main.silver.t'\n"
        "spark.sql(f'CACHE TABLE hot AS SELECT * FROM {table}')\n"
        "spark.sql('MERGE INTO {} t USING s ON t.k = s.k WHEN MATCHED THEN DELETE'.format(table))\n"
        "spark.sql('SELECT l.k FROM a l ' + 'JOIN b r USING (k)')\n"
        "spark.sql('SELECT l.k FROM a l JOIN b r ' + clause)  # built at run time: not read\n"
    )
    reading = source_needs.read("python", tmp_path / "job.py", tmp_path)
    assert _found(reading) == [
        ("cache_table", "job.py (line 2)", "CACHE"),
        ("feed_table_dml", "job.py (line 3)", "MERGE INTO"),
        ("using_join_names", "job.py (line 4)", "l.k"),
    ]


def test_a_task_whose_file_is_known_only_at_run_time_is_unread(tmp_path: Path):
    def locate(value: str) -> Path:
        return tmp_path / value

    assert source_needs.for_task("sql", "q.sql", True, locate, tmp_path).unread == "its code is checked out from the job's git_source when the run starts"
    assert source_needs.for_task("sql", "{{job.parameters.file}}", False, locate, tmp_path).unread == "its path holds a reference resolved when the run starts"


@pytest.mark.parametrize("need", sorted(LACKS))
def test_every_need_is_measured_by_probes(need: str):
    from lakehouse_jobs.lib.runtime.engine_probe import PROBES

    assert LACK_PROBES[need] and all(name in PROBES for name in LACK_PROBES[need])


def test_a_compiled_job_carries_each_tasks_reading_for_auto(tmp_path: Path):
    from lakehouse_jobs.lib.jobs.compile import compile_job
    from lakehouse_jobs.lib.jobs.load import load_spec_file

    (tmp_path / "etl.py").write_text(NOTEBOOK)
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "clean.py").write_text(CLEAN)
    spec = tmp_path / "job.yml"
    spec.write_text(
        "resources:\n  jobs:\n    nightly:\n      name: nightly\n      tasks:\n"
        "        - task_key: clean\n          notebook_task: {notebook_path: ./clean}\n"
        "        - task_key: etl\n          depends_on: [{task_key: clean}]\n          notebook_task: {notebook_path: ./etl}\n"
    )
    job = compile_job(load_spec_file(spec).job("nightly"))
    steps = [(node.name, dict(node.tags)) for node in job.nodes]
    tags = dict(steps)
    assert tags["clean"][ENGINE_NEEDS] == "" and tags["etl"][ENGINE_NEEDS] == "cache_table,classic_api,file_lineage"
    choice = auto_engine.choose(steps)
    assert choice.engine == "spark" and choice.reason.startswith("auto: step etl: notebook etl.py, cell 2, statement 2 (line 10) uses CACHE")
    assert choice.reason == f"auto: step etl: {tags['etl'][ENGINE_USES]}"
    assert auto_engine.choose([s for s in steps if s[0] != "etl"]).engine == "sail"


def test_a_reading_is_kept_until_a_file_it_read_changes(tmp_path: Path):
    import os

    (tmp_path / "etl.py").write_text("# Databricks notebook source\n# MAGIC %run ./helpers\n")
    (tmp_path / "helpers.py").write_text("# Databricks notebook source\nx = 1\n")
    assert source_needs.read("notebook", tmp_path / "etl.py", tmp_path).fits_sail
    assert source_needs.read("notebook", tmp_path / "etl.py", tmp_path) is source_needs.read("notebook", tmp_path / "etl.py", tmp_path)
    (tmp_path / "helpers.py").write_text("# Databricks notebook source\nsc.parallelize([1])\n")
    os.utime(tmp_path / "helpers.py", ns=(1, 1))  # a different stamp, whatever the clock's resolution
    assert source_needs.read("notebook", tmp_path / "etl.py", tmp_path).needs == ("classic_api",)


def test_a_dbt_project_its_models_macros_and_packages_not_its_output(tmp_path: Path):
    project = tmp_path / "dbt"
    for name, text in {
        "dbt_project.yml": "name: shop\nmodels:\n  shop:\n    +materialized: table\n",
        "models/orders.sql": "select id, {{ days('a', 'b') }} as age from {{ source('raw', 'orders') }}\n",
        "macros/days.sql": "{% macro days(a, b) %}datediff({{ b }}, {{ a }}){% endmacro %}\n",
        "models/increments.sql": "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}\nselect 1 as id\n",
        "dbt_packages/util/macros/files.sql": "{% macro source_file() %}input_file_name(){% endmacro %}\n",
        "target/compiled/shop/models/stale.sql": "select _metadata.file_path from t\n",
        "logs/old.sql": "select from_json(v, 'a int') from t\n",
    }.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    reading = source_needs.read("dbt", project, tmp_path)
    assert _found(reading) == [
        ("datediff_int", "dbt/macros/days.sql, statement 1 (line 1)", "datediff"),
        ("feed_table_dml", "dbt/models/increments.sql", "dbt's MERGE (merge strategy or snapshot)"),
        ("file_lineage", "dbt/dbt_packages/util/macros/files.sql, statement 1 (line 1)", "input_file_name"),
    ]
    clean = tmp_path / "clean"
    (clean / "models").mkdir(parents=True)
    (clean / "dbt_project.yml").write_text("name: clean\n")
    (clean / "models" / "m.sql").write_text("select 1 as id\n")
    assert source_needs.read("dbt", clean, tmp_path).fits_sail


def test_code_that_cannot_be_read_is_said_and_never_stops_the_compile(tmp_path: Path):
    (tmp_path / "deep.py").write_text("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n")  # beyond the parser's nesting limit
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert source_needs.read("python", tmp_path / "deep.py", tmp_path).uses == ()
    broken = source_needs.read("notebook", tmp_path / "broken.ipynb", tmp_path)
    assert broken.uses == () and "broken.ipynb" in broken.unread and not broken.fits_sail


def test_a_for_each_task_answers_for_its_nested_task(tmp_path: Path):
    from lakehouse_jobs.lib.jobs.compile import compile_job
    from lakehouse_jobs.lib.jobs.load import load_spec_file

    (tmp_path / "helpers.py").write_text(HELPERS)
    spec = tmp_path / "job.yml"
    spec.write_text(
        "resources:\n  jobs:\n    loop:\n      name: loop\n      tasks:\n"
        "        - task_key: each\n          for_each_task:\n            inputs: '[1, 2]'\n"
        "            task: {task_key: each_iteration, notebook_task: {notebook_path: ./helpers}}\n"
    )
    job = compile_job(load_spec_file(spec).job("loop"))
    tags = {node.name: dict(node.tags) for node in job.nodes}
    assert tags["each"][ENGINE_NEEDS] == "classic_api"
    assert tags["each"][ENGINE_USES].startswith("notebook helpers.py, cell 1 (line 2) uses sparkContext")


def test_this_plugins_own_modules_are_not_read_even_inside_the_workspace(tmp_path: Path):
    (tmp_path / "lakehouse_jobs").mkdir()
    (tmp_path / "lakehouse_jobs" / "__init__.py").write_text("")
    (tmp_path / "lakehouse_jobs" / "inner.py").write_text("rows = sc.parallelize([1])\n")  # picks its way per engine
    (tmp_path / "mine.py").write_text("rows = sc.parallelize([1])\n")
    (tmp_path / "job.py").write_text("from lakehouse_jobs import inner\nimport mine\n")
    reading = source_needs.read("python", tmp_path / "job.py", tmp_path)
    assert _found(reading) == [("classic_api", "mine.py (line 1)", "sc")]
