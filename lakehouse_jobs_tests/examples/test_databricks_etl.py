"""examples/databricks_etl: a Databricks job written as a Databricks user writes it, run unchanged.

Three notebooks (source .py, .sql, .ipynb) with %run, widgets, %sql and task values, a
condition, a script, a wheel, a SQL file and a run-job task, end to end on real Spark +
Delta and a real Dagster instance; the tables are checked against pandas.
"""

from __future__ import annotations

import csv
import zipfile
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.jobs import load_spec_file, reconstructable_job, validate_document
from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY
from lakehouse_jobs.lib.jobs.load import read_spec_file

from ..jobs.jobrun import read_run

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "databricks_etl"
SPEC = EXAMPLE / "databricks_etl.job.yml"
LANDING = REPO / "data" / "landing" / "orders"
TASKS = ["bronze_ingest", "silver_transform", "gold_aggregate", "has_days", "top_customers", "check_gold", "run_summary", "report"]


def test_the_example_validates_with_paths_from_its_folder():
    assert validate_document(read_spec_file(SPEC), SPEC.parent) == []
    document = load_spec_file(SPEC)
    assert {t.kind for t in document.job("databricks_etl").tasks} == {
        "notebook_task", "condition_task", "spark_python_task", "python_wheel_task", "sql_task", "run_job_task",
    }  # fmt: skip
    assert [t.kind for t in document.job("etl_marts").tasks] == ["dbt_task"]  # over ../../dbt_project


def test_the_committed_wheel_is_built_from_the_committed_source():
    [wheel] = (EXAMPLE / "dist").glob("etl_tools-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("etl_tools/__init__.py", "etl_tools/check.py"):
            assert archive.read(name).decode() == (EXAMPLE / "src" / "etl_tools" / name).read_text(), f"rebuild dist/: {name} changed"


def _rows(path: Path) -> list[dict]:
    return DeltaTable(str(path)).to_pandas().to_dict("records")


@pytest.fixture(scope="module")
def etl_run(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("etl_lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_ROOT", str(root))  # the lakehouse observed lineage scans, as `make dev` sets it
        params = {"lakehouse_root": str(root), "landing": str(LANDING), "run_date": "2026-02-01"}
        with dg.instance_for_test() as instance:
            recon = reconstructable_job(path=str(SPEC), job_key="databricks_etl")
            run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": params}}}}
            with dg.execute_job(recon, instance, run_config=run_config, raise_on_error=False) as result:
                run = read_run(instance, result.run_id, TASKS)
            children = list(instance.get_runs(dg.RunsFilter(tags={tags.PARENT_RUN_ID: run.run_id})))
            materialized = {
                "/".join(entry.dagster_event.event_specific_data.materialization.asset_key.path)
                for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            }
            child_states = [read_run(instance, child.run_id, ["report"]).states for child in children]
    return root, run, child_states, materialized


def test_every_task_succeeds_and_the_report_job_runs_as_a_child(etl_run):
    _, run, child_states, _ = etl_run
    assert run.states == dict.fromkeys(TASKS, "SUCCESS"), {k: v.get("error") for k, v in run.outputs.items()}
    assert run.result_state == "SUCCESS"
    assert child_states == [{"report": "SUCCESS"}]
    assert '"days"' in run.outputs["gold_aggregate"]["notebook_output"]  # dbutils.notebook.exit


def test_the_tables_match_pandas(etl_run):
    root, _, _, _ = etl_run
    landed = sum(1 for path in LANDING.glob("*.csv") for _ in csv.DictReader(path.open(newline="")))
    assert len(_rows(root / "bronze" / "etl_orders")) == landed
    silver = _rows(root / "silver" / "etl_orders")
    assert 0 < len(silver) < landed  # malformed and re-sent orders are dropped
    assert len({row["order_id"] for row in silver}) == len(silver)
    expected: dict = {}
    for row in silver:
        if row["status"] == "completed":
            day = expected.setdefault(row["order_date"], [0, Decimal(0)])
            day[0] += 1
            day[1] += Decimal(row["quantity"]) * Decimal(row["unit_price"])
    gold = {row["order_date"]: [row["orders"], Decimal(row["revenue"])] for row in _rows(root / "gold" / "etl_daily_revenue")}
    assert gold == expected
    assert len(_rows(root / "gold" / "etl_top_customers")) == 5
    [summary] = _rows(root / "gold" / "etl_run_summary")
    assert summary["run_date"] == "2026-02-01" and summary["days"] == len(expected)


def test_the_tables_the_notebooks_wrote_are_in_the_lineage(etl_run):
    _, _, _, materialized = etl_run
    assert {"bronze/etl_orders", "silver/etl_orders", "gold/etl_daily_revenue", "gold/etl_top_customers", "gold/etl_run_summary"} <= materialized
