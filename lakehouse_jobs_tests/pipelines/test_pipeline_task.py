"""`pipeline_task: {pipeline_id, full_refresh}` runs a pipeline of the document in a job, on a real Dagster instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lakehouse_jobs.lib.tables.delta_io import last_commit, read_delta
from lakehouse_jobs_tests.jobs.jobrun import run_spec

PIPELINE = """
from pyspark import pipelines as dp
import dlt


@dp.materialized_view
def numbers():
    print("numbers: five of them")
    return spark.range(5).withColumnRenamed("id", "n")


@dp.materialized_view(name="evens")
@dlt.expect_or_drop("even", "n % 2 = 0")
def evens_of_numbers():
    return spark.read.table("numbers")
"""


def bundle(source: Path, pipeline_id: str = "numbers_pipeline") -> dict:
    refresh = {"task_key": "refresh", "pipeline_task": {"pipeline_id": pipeline_id}}
    rebuild = {"task_key": "rebuild", "depends_on": [{"task_key": "refresh"}], "pipeline_task": {"pipeline_id": pipeline_id, "full_refresh": True}}
    return {
        "resources": {
            "jobs": {"nightly": {"name": "nightly", "tasks": [refresh, rebuild]}},
            "pipelines": {"numbers_pipeline": {"name": "numbers", "catalog": "main", "schema": "silver", "libraries": [{"file": {"path": str(source)}}]}},
        }
    }


def test_pipeline_task_runs_the_documents_pipeline(spark, lakehouse, instance, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", lakehouse.root)
    source = tmp_path / "numbers.py"
    source.write_text(PIPELINE)
    result = run_spec(instance, bundle(source))
    assert result.states == {"refresh": "SUCCESS", "rebuild": "SUCCESS"}, result.states
    evens = Path(lakehouse.root) / "silver" / "evens"
    assert sorted(r["n"] for r in read_delta(spark, evens).collect()) == [0, 2, 4]
    assert last_commit(spark, str(evens)).version == 1  # two updates, each one overwrite
    materialized = instance.fetch_materializations(dg.AssetKey(["silver", "evens"]), limit=10).records
    assert len(materialized) == 2
    metadata = materialized[0].asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 3 and metadata["path"].value == str(evens)
    logs = [r.event_log_entry.user_message for r in instance.get_records_for_run(materialized[0].run_id).records]
    assert "numbers: five of them" in logs  # the pipeline's print() is in the update's step log
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key([dg.AssetCheckKey(dg.AssetKey(["silver", "evens"]), "even")])
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.metadata["violating_rows"].value == 2


def test_pipeline_task_naming_no_pipeline_fails_in_one_line(spark, lakehouse, instance, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", lakehouse.root)
    source = tmp_path / "numbers.py"
    source.write_text(PIPELINE)
    result = run_spec(instance, bundle(source, "missing"))
    assert result.states["refresh"] == "FAILED"
    failures = [
        r.event_log_entry.dagster_event
        for r in instance.get_records_for_run(result.run_id).records
        if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.is_step_failure
    ]
    messages = [f.step_failure_data.error.message for f in failures]
    assert any("no pipeline 'missing' in this document (its pipelines: numbers_pipeline)" in m for m in messages), messages
