"""Three-part names from a notebook, a SQL file and dbt in one run, read by name in a second run in another JVM.

Run 1 runs in this process (the shared session, bound to the test's root); run 2 is
`lakehouse-jobs run` in a subprocess: a new Python and a new JVM that start while this
process's JVM still holds its session (a concurrent process), and find the tables by name
because the folders are the catalog.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable as RustTable

from lakehouse_jobs.lib.catalog import bind_root
from lakehouse_jobs.lib.integrations import dbt
from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource
from lakehouse_jobs_tests.jobs.jobrun import run_spec

WRITER = """# Databricks notebook source
spark.sql("CREATE SCHEMA IF NOT EXISTS main.silver")
orders = spark.createDataFrame([(1, "a", 10), (2, "b", 5), (3, "a", 7)], "id INT, customer STRING, amount INT")
orders.write.mode("overwrite").saveAsTable("main.silver.orders")

# COMMAND ----------

dbutils.fs.put("/Volumes/main/raw/landing/tiers.csv", "customer,tier\\na,gold\\nb,silver\\n", True)
from lakehouse_jobs.lib.catalog import volume_path
tiers = spark.read.option("header", True).csv(str(volume_path("/Volumes/main/raw/landing/tiers.csv")))
tiers.write.mode("overwrite").saveAsTable("silver.tiers")

# COMMAND ----------

# MAGIC %sql
# MAGIC USE CATALOG main;
"""

TOTALS_SQL = """CREATE SCHEMA IF NOT EXISTS gold;
USE SCHEMA gold;
CREATE OR REPLACE TABLE main.gold.totals AS
SELECT o.customer, sum(o.amount) AS total, first(t.tier) AS tier
FROM main.silver.orders o LEFT JOIN silver.tiers t USING (customer)
GROUP BY o.customer;
MERGE INTO totals t USING (SELECT 'c' AS customer, 1L AS total, 'none' AS tier) s ON t.customer = s.customer
WHEN NOT MATCHED THEN INSERT *;
"""

READER = """# Databricks notebook source
# MAGIC %sql
# MAGIC USE CATALOG main

# COMMAND ----------

spark.sql("USE SCHEMA gold")
assert {r.tableName for r in spark.sql("SHOW TABLES IN main.silver").collect()} == {"orders", "tiers"}
spark.sql("CREATE OR REPLACE TABLE main.gold.big AS SELECT customer, total, tier FROM totals WHERE total > 6")
spark.sql("CREATE OR REPLACE TABLE main.gold.from_dbt AS SELECT * FROM main.gold.customer_counts")
print("second run sees", spark.table("main.gold.totals").count(), "totals")
"""

DBT_PROJECT = {
    "dbt_project.yml": "name: shop\nversion: '1.0.0'\nconfig-version: 2\nprofile: shop\nmodel-paths: [models]\n"
    "models:\n  shop:\n    +materialized: table\n    +file_format: delta\n",
    "profiles.yml": "shop:\n  target: session\n  outputs:\n    session: {type: spark, method: session, host: local, schema: gold, threads: 1}\n",
    "models/schema.yml": "version: 2\nsources:\n  - name: silver\n    schema: silver\n    tables: [{name: orders}]\n",
    "models/customer_counts.sql": "select customer, count(*) as orders from {{ source('silver', 'orders') }} group by customer\n",
}


def _write(folder: Path, name: str, spec: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.delenv("LAKEHOUSE_WORKSPACE_ROOT", raising=False)
    (folder / "writer.py").write_text(WRITER)
    (folder / "totals.sql").write_text(TOTALS_SQL)
    (folder / "bad.sql").write_text("SELECT 1;\nSELECT * FROM main.silver.`a;b`;\n")
    (folder / "reader.py").write_text(READER)
    return folder


def test_notebook_and_sql_file_tables_are_read_by_name_in_a_second_run_in_another_jvm(instance, spark, lakehouse, project: Path, monkeypatch):
    root = Path(lakehouse.root).resolve()
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(root))
    monkeypatch.chdir(project)
    bind_root(spark, root)  # the shared session serves this test's root (a run's TaskRun binds its own)
    first = run_spec(instance, {
        "name": "first",
        "tasks": [
            {"task_key": "writer", "notebook_task": {"notebook_path": "./writer"}},
            {"task_key": "totals", "depends_on": [{"task_key": "writer"}], "sql_task": {"file": {"path": "totals.sql"}, "warehouse_id": "w"}},
            {"task_key": "bad", "sql_task": {"file": {"path": "bad.sql"}, "warehouse_id": "w"}},
        ],
    })  # fmt: skip
    assert first.states == {"writer": "SUCCESS", "totals": "SUCCESS", "bad": "FAILED"}, first.outputs
    error = first.outputs["bad"]["error"]
    assert "statement 2 (line 2)" in error and "Invalid table name 'a;b'" in error and "\n" not in error
    assert RustTable(str(root / "gold" / "totals")).to_pyarrow_table().sort_by("customer").to_pydict() == {
        "customer": ["a", "b", "c"], "total": [17, 5, 1], "tier": ["gold", "silver", "none"],
    }  # fmt: skip
    assert (root / "volumes" / "main" / "raw" / "landing" / "tiers.csv").is_file()

    # dbt-spark (session method, `schema: gold`) on the same session: its model is main.gold.customer_counts
    for name, text in DBT_PROJECT.items():
        (project / "shop" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "shop" / name).write_text(text)
    args = dbt.common_args(project / "shop", project / "shop", project / "dbt_target", LakehouseResource(root=str(root)))
    for _ in dbt.run_dbt(spark, ["run", *args]):
        pass
    assert RustTable(str(root / "gold" / "customer_counts")).to_pyarrow_table().num_rows == 2

    job = _write(project, "second.yml", {"name": "second", "tasks": [{"task_key": "reader", "notebook_task": {"notebook_path": "./reader"}}]})
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"LAKEHOUSE_ROOT": str(root)}
    proc = subprocess.run([sys.executable, "-m", "lakehouse_jobs.cli", "run", str(job)], capture_output=True, text=True, env=env, cwd=project, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert RustTable(str(root / "gold" / "big")).to_pyarrow_table().to_pydict() == {"customer": ["a"], "total": [17], "tier": ["gold"]}
    assert RustTable(str(root / "gold" / "from_dbt")).to_pyarrow_table().sort_by("customer").to_pydict() == {"customer": ["a", "b"], "orders": [2, 1]}
    assert spark.table("main.gold.big").count() == 1  # and this process sees what the other one created
