"""Quarantined records are visible: a WARN asset check per ingestion, and they join to bronze by file."""

from __future__ import annotations

import dagster as dg

from lakehouse_jobs.lib.ingest.asset import ingestion_asset
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.delta_io import read_delta
from lakehouse_jobs.lib.tables.quarantine import quarantine_path, read_quarantine

SPEC = IngestSpec(source="src", table="orders", format="csv", columns=["id", "name"])


def _check(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_materialization_that_quarantined_records_warns_through_its_asset_check(spark, spark_resource, lakehouse):
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    (landing / "odd name 100%+1 é.csv").write_text("id,name\n1,a\n2,b,extra\n3,c\n", encoding="utf-8")
    asset = ingestion_asset(SPEC)
    assert [(s.name, s.blocking) for s in asset.check_specs] == [("quarantine", False)]
    resources = {"spark": spark_resource, "lakehouse": lakehouse}
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], resources=resources, instance=instance)
        evaluation = _check(result)
        assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.WARN)
        assert evaluation.metadata["records_quarantined"].value == 1
        assert evaluation.metadata["quarantine_table"].value == str(quarantine_path(lakehouse))
        where = evaluation.metadata["quarantine_filter"].value
        assert result.run_id in where
        found = read_delta(spark, quarantine_path(lakehouse)).filter(where).collect()
        assert [(r["line"], r["raw"]) for r in found] == [(3, "2,b,extra")]
        clean = dg.materialize([asset], resources=resources, instance=instance)  # nothing new: the check passes
        assert clean.success and _check(clean).passed and _check(clean).metadata["records_quarantined"].value == 0
    bronze = read_delta(spark, lakehouse.table_path("bronze", "orders"))
    refused = read_quarantine(spark, lakehouse, "bronze.orders")
    joined = bronze.join(refused, bronze["_source_file"] == refused["file"]).select("id", "line").collect()
    assert sorted((r["id"], r["line"]) for r in joined) == [("1", 3), ("3", 3)]
    assert {r["_source_file"] for r in bronze.collect()} == {str(landing / "odd name 100%+1 é.csv")}
