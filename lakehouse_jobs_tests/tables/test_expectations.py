"""Expectations as asset checks: warn keeps rows, drop quarantines them, fail blocks the write and downstream."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse_jobs.lib import WriteSpec, medallion_asset, write_delta
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.tables.delta_io import is_delta_table, read_delta
from lakehouse_jobs.lib.tables.expectations import apply_expectations, expect, expect_or_drop, expect_or_fail
from lakehouse_jobs.lib.tables.observation import observed_metrics
from lakehouse_jobs.lib.tables.quarantine import read_quarantine

ITEMS = [(1, "a", 5), (2, None, 7), (3, "c", -1), (4, "d", None)]


@pytest.fixture
def items(spark, lakehouse):
    df = spark.createDataFrame(ITEMS, "id int, name string, qty int")
    write_delta(spark, df, lakehouse.table_path("bronze", "items"), WriteSpec())
    return lakehouse


def _assets(*expectations):
    @medallion_asset(layer="silver", name="items", expectations=list(expectations))
    def silver_items(bronze_items):
        return bronze_items

    @medallion_asset(layer="gold", name="item_count")
    def gold_item_count(silver_items):
        return silver_items.groupBy().count()

    return [silver_items, gold_item_count]


def _run(spark_resource, lakehouse, assets, instance):
    return dg.materialize(assets, resources={"spark": spark_resource, "lakehouse": lakehouse}, instance=instance, raise_on_error=False)


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_warn_keeps_rows_and_drop_quarantines_them_with_the_expectation_name(spark, spark_resource, items):
    assets = _assets(expect("has_name", "name IS NOT NULL"), expect_or_drop("positive_qty", "qty > 0"))
    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, assets, instance)
        assert result.success
        checks = _checks(result)
    assert checks["has_name"].passed is False and checks["has_name"].metadata["violating_rows"].value == 1
    assert checks["positive_qty"].metadata["violating_rows"].value == 2  # -1 and NULL
    assert sorted(r["id"] for r in read_delta(spark, items.table_path("silver", "items")).collect()) == [1, 2]
    dropped = read_quarantine(spark, items, "silver.items").collect()
    assert sorted((r["expectation"], '"id":3' in r["raw"] or '"id":4' in r["raw"]) for r in dropped) == [("positive_qty", True)] * 2
    assert read_delta(spark, items.table_path("gold", "item_count")).first()[0] == 2


def test_a_violated_expect_or_fail_writes_nothing_and_blocks_downstream(spark, spark_resource, items):
    assets = _assets(expect_or_fail("positive_qty", "qty > 0"))
    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, assets, instance)
        assert not result.success
        check = _checks(result)["positive_qty"]
        assert check.passed is False and check.metadata["violating_rows"].value == 2
        assert check.severity == dg.AssetCheckSeverity.ERROR
    assert not is_delta_table(items.table_path("silver", "items"))
    assert not is_delta_table(items.table_path("gold", "item_count"))  # downstream did not run


def test_a_passing_expect_or_fail_is_a_blocking_check_that_lets_downstream_run(spark, spark_resource, items):
    assets = _assets(expect_or_fail("has_id", "id IS NOT NULL"))
    spec = next(iter(assets[0].check_specs))
    assert spec.blocking
    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, assets, instance)
        assert result.success and _checks(result)["has_id"].passed
    assert read_delta(spark, items.table_path("gold", "item_count")).first()[0] == 4


def test_expect_or_fail_is_a_guard_in_the_write_that_sees_only_the_results_rows(spark, spark_resource, items):
    """One pass: the write counts and guards; rows the asset filtered out never trip the guard."""

    @medallion_asset(layer="silver", name="items", expectations=[expect_or_fail("positive_qty", "qty > 0"), expect("has_name", "name IS NOT NULL")])
    def silver_items(bronze_items):
        return bronze_items.filter("qty > 0")

    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, [silver_items], instance)
        assert result.success
        checks = _checks(result)
    assert (checks["positive_qty"].passed, checks["positive_qty"].metadata["total_rows"].value) == (True, 2)
    assert checks["has_name"].metadata["violating_rows"].value == 1
    assert sorted(r["id"] for r in read_delta(spark, items.table_path("silver", "items")).collect()) == [1, 2]
    df = spark.createDataFrame(ITEMS, "id int, name string, qty int").filter("qty > 0")
    evaluation = apply_expectations(None, spark, items, dg.AssetKey(["silver", "x"]), df, [expect_or_fail("positive_qty", "qty > 0")])
    write_delta(spark, evaluation.rows, items.table_path("silver", "x"), WriteSpec())
    assert observed_metrics(evaluation.observation) == {"__total": 2, "__e0": 0}  # counted by the write, not before


def test_a_violated_expect_or_fail_leaves_a_merged_table_as_it_was(spark, spark_resource, items):
    """The guard stops the MERGE before its commit: the table keeps its version, the check says how many rows."""

    @medallion_asset(layer="silver", name="items", write_mode="merge", merge_keys=["id"], expectations=[expect_or_fail("positive_qty", "qty > 0")])
    def silver_items(bronze_items):
        return bronze_items

    path = items.table_path("silver", "items")
    write_delta(spark, spark.createDataFrame([(9, "z", 1)], "id int, name string, qty int"), path, WriteSpec())
    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, [silver_items], instance)
        assert not result.success
        check = _checks(result)["positive_qty"]
    assert (check.passed, check.metadata["violating_rows"].value, check.metadata["total_rows"].value) == (False, 2, 4)
    from deltalake import DeltaTable

    assert DeltaTable(str(path)).version() == 0
    assert [r["id"] for r in read_delta(spark, path).collect()] == [9]


def test_an_invalid_condition_fails_with_one_clear_message(spark, spark_resource, items):
    assets = _assets(expect("broken", "no_such_column > 1"))
    with dg.instance_for_test() as instance:
        result = _run(spark_resource, items, assets, instance)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "expectation 'broken' ('no_such_column > 1') is not valid SQL over the result" in failure.event_specific_data.error.to_string()


def test_bad_declarations_name_the_field():
    with pytest.raises(SpecError, match="expectations"):
        _assets(expect("same", "id > 0"), expect_or_drop("same", "id > 1"))
    with pytest.raises(SpecError, match="expectations.name"):
        expect("not a name", "id > 0")


def test_warn_only_expectations_are_counted_by_the_write_itself(spark, lakehouse):
    """One pass: the table write reports the counts (an Observation), no aggregation before it."""
    df = spark.createDataFrame(ITEMS, "id int, name string, qty int")
    key = dg.AssetKey(["silver", "items"])
    evaluation = apply_expectations(None, spark, lakehouse, key, df, [expect("has_name", "name IS NOT NULL"), expect("positive_qty", "qty > 0")])
    assert observed_metrics(evaluation.observation) is None  # nothing has run yet
    write_delta(spark, evaluation.rows, lakehouse.table_path("silver", "items"), WriteSpec())
    assert observed_metrics(evaluation.observation) == {"__total": 4, "__e0": 1, "__e1": 2}
    got = {r.check_name: (r.passed, r.metadata["violating_rows"].value, r.metadata["total_rows"].value) for r in evaluation.check_results()}
    assert got == {"has_name": (False, 1, 4), "positive_qty": (False, 2, 4)}


def test_warn_counts_without_a_write_and_after_a_merge(spark, spark_resource, items):
    """Counts never wait for a plan that did not run, and a merge into an existing table counts its own result."""
    df = spark.createDataFrame(ITEMS, "id int, name string, qty int")
    evaluation = apply_expectations(None, spark, items, dg.AssetKey(["silver", "x"]), df, [expect("has_name", "name IS NOT NULL")])
    assert [r.metadata["violating_rows"].value for r in evaluation.check_results()] == [1]

    @medallion_asset(layer="silver", name="items", write_mode="merge", merge_keys=["id"], expectations=[expect("positive_qty", "qty > 0")])
    def silver_items(bronze_items):
        return bronze_items

    with dg.instance_for_test() as instance:
        for _ in range(2):  # the second run merges into the table the first created
            result = _run(spark_resource, items, [silver_items], instance)
            assert result.success
            check = _checks(result)["positive_qty"]
            assert (check.metadata["violating_rows"].value, check.metadata["total_rows"].value) == (2, 4)
