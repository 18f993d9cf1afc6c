"""dbt over the lakehouse: marts equal an independent pandas computation, tests are asset checks,
sources are the medallion assets, and the manifest is prepared without `dagster dev`."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.defs.dbt import DBT_PROJECT, dbt_marts
from lakehouse_jobs.defs.paths import REPO_ROOT
from lakehouse_jobs.lib.errors import LakehouseError, SetupError
from lakehouse_jobs.lib.integrations.dbt import LakehouseDbtTranslator, dbt_project, register_tables
from lakehouse_jobs_tests.example_run import ExampleRun

MARTS = {dg.AssetKey(["gold", "revenue_by_segment_day"]), dg.AssetKey(["gold", "customer_360"])}


def _table(example: ExampleRun, layer: str, name: str) -> pd.DataFrame:
    return DeltaTable(str(example.lakehouse.table_path(layer, name))).to_pandas()


def test_translator_keys_sources_as_medallion_tables_and_marts_as_gold():
    assert set(dbt_marts.keys) == MARTS
    deps = {key for keys in dbt_marts.asset_deps.values() for key in keys}
    assert deps == {dg.AssetKey(["silver", "orders"]), dg.AssetKey(["silver", "customers"]), dg.AssetKey(["gold", "customer_features"])}
    spec = next(s for s in dbt_marts.specs if s.key == dg.AssetKey(["gold", "customer_360"]))
    assert spec.group_name == "marts" and {"dbt", "delta"} <= spec.kinds
    assert spec.metadata["dagster/table_name"] == "gold.customer_360"
    source = {"resource_type": "source", "source_name": "bronze", "name": "orders"}
    assert LakehouseDbtTranslator().get_asset_key(source) == dg.AssetKey(["bronze", "orders"])


def test_revenue_mart_equals_pandas_over_silver(example: ExampleRun):
    orders, customers = _table(example, "silver", "orders"), _table(example, "silver", "customers")
    completed = orders[orders["status"] == "completed"].merge(customers[["customer_id", "segment"]], on="customer_id")
    expected = (
        completed.groupby(["segment", "order_date"])
        .agg(orders=("order_id", "size"), customers=("customer_id", "nunique"), revenue=("amount", "sum"))
        .reset_index()
    )
    mart = _table(example, "gold", "revenue_by_segment_day")
    assert len(mart) == len(expected) > 0
    merged = mart.merge(expected, on=["segment", "order_date"], suffixes=("", "_pd"), validate="one_to_one")
    assert len(merged) == len(expected)
    assert (merged["orders"] == merged["orders_pd"]).all() and (merged["customers"] == merged["customers_pd"]).all()
    assert (merged["revenue"] == merged["revenue_pd"]).all()  # Decimal arithmetic on both sides: exact


def test_customer_360_equals_pandas_over_silver_and_features(example: ExampleRun):
    orders, customers = _table(example, "silver", "orders"), _table(example, "silver", "customers")
    features = _table(example, "gold", "customer_features")
    completed = orders[orders["status"] == "completed"]
    lifetime = completed.groupby("customer_id").agg(lifetime_orders=("order_id", "size"), lifetime_revenue=("amount", "sum")).reset_index()
    expected = customers.merge(lifetime, on="customer_id", how="left").merge(features[["customer_id", "churned", "sessions"]], on="customer_id", how="left")
    mart = _table(example, "gold", "customer_360").sort_values("customer_id").reset_index(drop=True)
    expected = expected.sort_values("customer_id").reset_index(drop=True)
    assert list(mart["customer_id"]) == list(expected["customer_id"])
    assert list(mart["lifetime_orders"]) == [int(v) if pd.notna(v) else 0 for v in expected["lifetime_orders"]]
    assert [float(v) for v in mart["lifetime_revenue"]] == [float(v) if pd.notna(v) else 0.0 for v in expected["lifetime_revenue"]]
    assert list(mart["churned"]) == list(expected["churned"]) and list(mart["segment"]) == list(expected["segment"])


def test_dbt_tests_ran_as_passing_asset_checks(example: ExampleRun, spark):
    evaluations = {e.asset_check_key: e for e in example.result.get_asset_check_evaluations()}
    dbt_checks = set(dbt_marts.check_keys)
    assert len(dbt_checks) == 10 and dbt_checks <= set(evaluations)
    assert all(evaluations[key].passed for key in dbt_checks)
    assert {key.asset_key for key in dbt_checks} == MARTS
    assert {m.asset_key for m in example.result.get_asset_materialization_events()} >= MARTS
    # dbt-spark turns ANSI mode off on the session it uses: the shared session gets its own back
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_a_missing_source_table_is_one_clear_error(spark, lakehouse):
    import json

    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    with pytest.raises(LakehouseError, match=r"dbt source silver\.\w+: no Delta table at .*; materialize silver/\w+ first"):
        register_tables(spark, lakehouse, manifest)


def test_manifest_is_prepared_on_a_fresh_clone_and_after_edits(tmp_path: Path):
    clone = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", clone, ignore=shutil.ignore_patterns("target", "logs"))
    project = dbt_project(clone)
    assert project.manifest_path.is_file()
    (clone / "models" / "marts" / "orders_per_day.sql").write_text("select order_date, count(*) as n from {{ source('silver', 'orders') }} group by 1\n")
    manifest = dbt_project(clone).manifest_path.read_text()
    assert "model.lakehouse_marts.orders_per_day" in manifest
    (clone / "models" / "marts" / "broken.sql").write_text("select {{ source('silver', }}\n")
    with pytest.raises(SetupError, match=r"(?s)dbt parse failed: .*Compilation Error in model broken"):
        dbt_project(clone)


def test_a_failing_dbt_test_is_a_failed_asset_check_and_marts_follow_the_current_root(spark, example: ExampleRun, tmp_path: Path):
    """Bad data in silver: dbt's accepted_values tests fail as asset checks, the run fails with dbt's
    message; the marts land under the new root while the example root's marts stay untouched."""
    from pyspark.sql import functions as F

    from lakehouse_jobs.lib import LakehouseResource, SparkResource, WriteSpec, write_delta

    other = LakehouseResource(root=str(tmp_path / "other"))
    for layer, name in (("silver", "orders"), ("silver", "customers"), ("gold", "customer_features")):
        shutil.copytree(example.lakehouse.table_path(layer, name), other.table_path(layer, name))
    customers = spark.read.format("delta").load(str(example.lakehouse.table_path("silver", "customers")))
    orders = spark.read.format("delta").load(str(example.lakehouse.table_path("silver", "orders"))).filter("status = 'completed'")
    first = customers.join(orders, "customer_id").agg(F.min("customer_id")).first()[0]  # a buyer: in both marts
    vip = customers.withColumn("segment", F.when(F.col("customer_id") == first, F.lit("vip")).otherwise(F.col("segment")))
    write_delta(spark, vip, other.table_path("silver", "customers"), WriteSpec())
    with dg.instance_for_test() as instance:
        result = dg.materialize([dbt_marts], resources={"spark": SparkResource(), "lakehouse": other}, instance=instance, raise_on_error=False)
    assert not result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    failed = {name for name, passed in evaluations.items() if not passed}
    assert failed == {
        "accepted_values_customer_360_segment__consumer__smb__enterprise",
        "accepted_values_revenue_by_segment_day_segment__consumer__smb__enterprise",
    }
    assert len(evaluations) == 10
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "dbt build failed" in failure.step_failure_data.error.message
    assert "vip" in set(_table(ExampleRun(other, example.tracking_uri, result, None), "gold", "customer_360")["segment"])
    assert "vip" not in set(_table(example, "gold", "customer_360")["segment"])
