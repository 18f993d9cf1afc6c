"""The medallion decorator: keys, groups, kinds and lineage from a few lines; real writes."""

from __future__ import annotations

import dagster as dg
import pytest
from pyspark.sql import functions as F

from lakehouse_jobs.lib import LakehouseError, SpecError, TableOutput, medallion_asset


@medallion_asset(layer="bronze", name="numbers", owners=["team:data-eng"], tags={"domain": "test"})
def bronze_numbers(spark):
    """Ten numbers."""
    return spark.range(10).withColumnRenamed("id", "n")


@medallion_asset(layer="silver", write_mode="merge", merge_keys=["n"], inputs={"raw": "bronze/numbers"})
def evens(raw):
    return TableOutput(raw.filter(F.col("n") % 2 == 0), {"dropped_odd": 5})


@medallion_asset(layer="gold")
def gold_total(silver_evens, bronze_numbers):
    return silver_evens.agg(F.sum("n").alias("total")).crossJoin(bronze_numbers.agg(F.count("*").alias("rows")))


def _materialize(assets, resources, selection=None):
    with dg.instance_for_test() as instance:
        return dg.materialize(assets, resources=resources, instance=instance, selection=selection, raise_on_error=False)


def test_declaration_builds_medallion_keys_groups_kinds_and_lineage():
    assert bronze_numbers.key == dg.AssetKey(["bronze", "numbers"])
    assert evens.key == dg.AssetKey(["silver", "evens"])
    spec = gold_total.specs_by_key[dg.AssetKey(["gold", "total"])]
    assert {d.asset_key for d in spec.deps} == {dg.AssetKey(["silver", "evens"]), dg.AssetKey(["bronze", "numbers"])}
    assert spec.group_name == "gold" and spec.kinds == {"spark", "delta", "gold"}
    numbers = bronze_numbers.specs_by_key[bronze_numbers.key]
    assert numbers.owners == ["team:data-eng"] and numbers.description == "Ten numbers."
    assert evens.specs_by_key[evens.key].metadata["merge_keys"] == ["n"]


def test_materialize_writes_delta_and_reports_metadata(spark_resource, lakehouse):
    result = _materialize([bronze_numbers, evens, gold_total], {"spark": spark_resource, "lakehouse": lakehouse})
    assert result.success
    meta = result.asset_materializations_for_node("silver__evens")[0].metadata
    assert meta["dagster/row_count"].value == 5 and meta["dropped_odd"].value == 5
    assert meta["delta_version"].value == 0
    total = result.asset_materializations_for_node("gold__total")[0].metadata
    assert [c.name for c in total["dagster/column_schema"].schema.columns] == ["total", "rows"]
    assert (lakehouse.root_path / "gold" / "total" / "_delta_log").is_dir()


def test_rematerializing_one_asset_reads_upstream_from_disk(spark_resource, lakehouse):
    resources = {"spark": spark_resource, "lakehouse": lakehouse}
    assert _materialize([bronze_numbers, evens], resources).success
    again = _materialize([bronze_numbers, evens], resources, selection=[evens.key])
    meta = again.asset_materializations_for_node("silver__evens")[0].metadata
    assert meta["delta_operation"].value == "MERGE" and meta["delta_version"].value == 1
    assert meta["dagster/row_count"].value == 5


def test_missing_upstream_table_fails_with_a_clear_message(spark_resource, lakehouse):
    result = _materialize([bronze_numbers, evens], {"spark": spark_resource, "lakehouse": lakehouse}, selection=[evens.key])
    assert not result.success
    error = result.failure_data_for_node("silver__evens").error
    assert "no Delta table at" in error.cause.message and "materialize its asset first" in error.cause.message


def test_returning_something_else_than_a_dataframe_is_an_error(spark_resource, lakehouse):
    @medallion_asset(layer="gold")
    def wrong():
        return [1, 2, 3]

    result = _materialize([wrong], {"spark": spark_resource, "lakehouse": lakehouse})
    assert "must return a Spark DataFrame, got list" in result.failure_data_for_node("gold__wrong").error.cause.message


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: medallion_asset(layer="platinum"), "layer: unknown layer 'platinum'"),
        (lambda: medallion_asset(layer="gold", write_mode="merge"), "merge_keys: write_mode 'merge' needs"),
        (lambda: medallion_asset(layer="gold", name="x")(lambda orders: orders), r"\(orders\): parameter is neither"),
        (lambda: medallion_asset(layer="gold", name="Bad-Name")(lambda spark: spark), "invalid table name 'Bad-Name'"),
        (lambda: medallion_asset(layer="gold", name="y", inputs={"x": "silver/a/b"})(lambda x: x), r"inputs.x: expected '<layer>/<table>'"),
    ],
)
def test_bad_declarations_are_refused_with_the_field(make, message):
    with pytest.raises(SpecError, match=message):
        make()


def test_lakehouse_error_is_a_plain_exception_type():
    assert issubclass(SpecError, LakehouseError)


class Labels(dg.ConfigurableResource):
    prefix: str = "row-"


def test_extra_resources_are_injected_by_name(spark_resource, lakehouse):
    @medallion_asset(layer="gold", name="labelled", resources=["labels"])
    def labelled(spark, labels: Labels):
        return spark.createDataFrame([(f"{labels.prefix}1",)], "label string")

    assert labelled.required_resource_keys >= {"labels", "spark", "lakehouse"}
    result = _materialize([labelled], {"spark": spark_resource, "lakehouse": lakehouse, "labels": Labels(prefix="x-")})
    assert result.success
    assert [r.label for r in spark_resource.get_session().read.format("delta").load(str(lakehouse.table_path("gold", "labelled"))).collect()] == ["x-1"]
    with pytest.raises(SpecError, match=r"resources\[0\]: 'not a key' is not a resource key"):
        medallion_asset(layer="gold", resources=["not a key"])
