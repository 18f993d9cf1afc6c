"""The example lakehouse end to end: every table equals an independent pandas computation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.defs import clickstream

from . import oracle
from .example_run import ExampleRun

TABLES = [
    "bronze/orders", "bronze/clickstream", "bronze/customers",
    "silver/orders", "silver/events", "silver/customers",
    "gold/daily_revenue", "gold/event_funnel", "gold/customer_features",
]  # fmt: skip


@pytest.fixture(scope="module")
def materialized(example: ExampleRun) -> tuple[Path, dict[str, dict]]:
    """The example graph's run (conftest `example`, shared with the dbt, ML and standalone tests): its root and
    the metadata of the tables this file checks."""
    metadata = {
        m.asset_key.to_user_string(): m.metadata for m in (e.event_specific_data.materialization for e in example.result.get_asset_materialization_events())
    }
    return example.root, {table: metadata[table] for table in TABLES if table in metadata}


def _delta(root: Path, table: str) -> pd.DataFrame:
    return DeltaTable(str(root / table)).to_pandas()


def _quarantined(root: Path, source_table: str) -> int:
    quarantine = DeltaTable(str(root / "_system" / "quarantine")).to_pandas()
    return int((quarantine["source_table"] == source_table).sum())


def test_every_table_is_a_real_delta_table_readable_by_delta_rs(materialized):
    root, metadata = materialized
    assert sorted(metadata) == sorted(TABLES)
    for table in TABLES:
        dt = DeltaTable(str(root / table))
        assert dt.version() >= 0
        assert len(dt.to_pandas()) == metadata[table]["dagster/row_count"].value


def test_bronze_keeps_every_landing_record_with_lineage_columns(materialized):
    root, _ = materialized
    landing = root / "landing"
    orders_raw = sum(1 for p in landing.glob("orders/*.csv") for _ in p.open()) - len(list(landing.glob("orders/*.csv")))
    events_raw = sum(1 for p in landing.glob("clickstream/*.jsonl") for line in p.open() if line.strip())
    bronze_orders = _delta(root, "bronze/orders")
    assert len(bronze_orders) == orders_raw
    # Lines that are not JSON objects go to the quarantine instead of bronze: every record is in one of them.
    assert len(_delta(root, "bronze/clickstream")) + _quarantined(root, "bronze.clickstream") == events_raw
    assert _quarantined(root, "bronze.clickstream") > 0
    assert bronze_orders["_source_file"].str.endswith(".csv").all()
    assert bronze_orders["_ingested_at"].notna().all()


def test_silver_orders_are_typed_deduplicated_and_count_dropped_rows(materialized):
    root, metadata = materialized
    expected, counts = oracle.orders(root / "landing")
    actual = _delta(root, "silver/orders").sort_values("order_id").reset_index(drop=True)
    assert counts["rows_dropped_malformed"] > 0 and counts["duplicates_removed"] > 0  # the sample really is messy
    assert list(actual["order_id"]) == list(expected["order_id"])
    assert list(actual["amount"]) == list(expected["amount"])
    assert list(actual["status"]) == list(expected["status"])
    assert list(actual["order_ts"].dt.tz_convert(None)) == list(pd.to_datetime(expected["order_ts"]))
    for key, value in counts.items():
        assert metadata["silver/orders"][key].value == value, key


def test_silver_events_drop_broken_json_and_bad_values(materialized):
    root, metadata = materialized
    expected, counts = oracle.events(root / "landing")
    actual = _delta(root, "silver/events").sort_values("event_id").reset_index(drop=True)
    assert list(actual["event_id"]) == list(expected["event_id"])
    assert list(actual["event_type"]) == list(expected["event_type"])
    # broken JSON lines were quarantined at ingestion; silver drops (and counts) the unparsable values
    dropped = metadata["silver/events"]["rows_dropped_malformed"].value + _quarantined(root, "bronze.clickstream")
    assert dropped == counts["rows_dropped_malformed"] > 0


def test_silver_customers_apply_the_change_feed_by_sequence(materialized):
    root, metadata = materialized
    expected, counts = oracle.customers(root / "landing")
    actual = _delta(root, "silver/customers").sort_values("customer_id").reset_index(drop=True)
    assert counts["customers_deleted"] > 0
    assert list(actual["customer_id"]) == list(expected["customer_id"])
    assert list(actual["segment"]) == list(expected["segment"])
    assert list(actual["email"]) == list(expected["email"])
    assert metadata["silver/customers"]["customers_deleted"].value == counts["customers_deleted"]


def test_gold_daily_revenue_matches_pandas(materialized):
    root, _ = materialized
    expected = oracle.daily_revenue(oracle.orders(root / "landing")[0])
    actual = _delta(root, "gold/daily_revenue").sort_values("order_date").reset_index(drop=True)
    assert list(actual["order_date"]) == list(expected["order_date"])
    assert list(actual["orders"]) == list(expected["orders"])
    assert list(actual["customers"]) == list(expected["customers"])
    assert list(actual["revenue"]) == list(expected["revenue"])
    assert list(actual["avg_order_value"]) == list(expected["avg_order_value"])


def test_gold_event_funnel_matches_pandas(materialized):
    root, _ = materialized
    expected = oracle.event_funnel(oracle.events(root / "landing")[0])
    actual = _delta(root, "gold/event_funnel").sort_values("event_date").reset_index(drop=True)
    for column in ("event_date", "page_views", "add_to_carts", "purchases", "sessions"):
        assert list(actual[column]) == list(expected[column]), column
    assert actual["view_to_purchase_rate"].tolist() == pytest.approx(expected["view_to_purchase_rate"].tolist())


def test_gold_customer_features_match_pandas(materialized):
    root, _ = materialized
    landing = root / "landing"
    expected = oracle.customer_features(oracle.customers(landing)[0], oracle.orders(landing)[0], oracle.events(landing)[0])
    actual = _delta(root, "gold/customer_features").sort_values("customer_id").reset_index(drop=True)
    assert len(actual) == len(expected)
    for column in expected.columns:
        assert list(actual[column]) == list(expected[column]), column
    assert 0 < actual["churned"].sum() < len(actual)  # both classes present for the model
    assert actual["monetary"].map(lambda v: isinstance(v, Decimal)).all()
    # the day counts are `F.datediff`s: a 32-bit int on either engine (Sail's 64-bit one is cast by a run's session)
    types = {f.name: f.type.type for f in DeltaTable(str(root / "gold/customer_features")).schema().fields}
    assert (types["recency_days"], types["days_since_last_event"]) == ("integer", "integer")


def test_materialization_metadata_describes_the_delta_commit(materialized):
    _, metadata = materialized
    meta = metadata["silver/orders"]
    assert meta["delta_version"].value == 0
    assert meta["delta_operation"].value == "WRITE"
    assert meta["delta_operation_metrics"].value["numOutputRows"] == meta["dagster/row_count"].value
    columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert columns[:3] == ["order_id", "customer_id", "order_ts"]
    assert meta["path"].value.endswith("silver/orders")


def test_a_day_without_page_views_has_no_view_to_purchase_rate_instead_of_failing(spark, spark_resource, lakehouse):
    from lakehouse_jobs.lib import WriteSpec, write_delta

    events = spark.createDataFrame(
        [("2026-02-01", "purchase", "s1"), ("2026-02-02", "page_view", "s2"), ("2026-02-02", "purchase", "s2")],
        "event_date string, event_type string, session_id string",
    )
    write_delta(spark, events, lakehouse.table_path("silver", "events"), WriteSpec())
    with dg.instance_for_test() as instance:
        result = dg.materialize([clickstream.gold_event_funnel], resources={"spark": spark_resource, "lakehouse": lakehouse}, instance=instance)
    assert result.success
    rows = {r["event_date"]: r for r in _delta(Path(lakehouse.root), "gold/event_funnel").to_dict("records")}
    assert rows["2026-02-01"]["purchases"] == 1 and pd.isna(rows["2026-02-01"]["view_to_purchase_rate"])
    assert rows["2026-02-02"]["view_to_purchase_rate"] == 1.0
