"""Orders: CSV landing files -> bronze -> typed, deduplicated silver -> daily revenue."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse_jobs.lib import IngestSpec, TableOutput, cast_columns, expect, expect_or_fail, ingestion_asset, medallion_asset

from .generate import ORDER_COLUMNS
from .quality import dedup_latest, typed_split

ORDER_TYPES = {"order_id": "bigint", "customer_id": "bigint", "order_ts": "timestamp", "quantity": "int", "unit_price": "decimal(10,2)"}


INGEST = IngestSpec(source="orders", table="orders", format="csv", columns=ORDER_COLUMNS)

bronze_orders = ingestion_asset(
    INGEST,
    owners=["team:data-eng"],
    description="Raw order lines as received, every field a string, ingested exactly once with source file and ingestion time.",
)


@medallion_asset(
    layer="silver", name="orders", write_mode="merge", merge_keys=["order_id"], owners=["team:data-eng"], refresh="incremental",
    expectations=[expect("positive_quantity", "quantity > 0"), expect("known_status", "status IN ('completed', 'cancelled')")],
)  # fmt: skip
def silver_orders(bronze_orders: DataFrame) -> TableOutput:
    """Typed orders, one row per order_id; rows with unparsable fields are dropped and counted.

    Incremental: each refresh reads only the bronze rows committed since the last one and
    merges them by order_id (the latest ingestion wins, as a full recompute would decide)."""
    valid, counts = typed_split(cast_columns(bronze_orders, ORDER_TYPES), required=["order_id", "customer_id", "order_ts"], keys=["order_id"])
    latest = dedup_latest(valid, ["order_id"])
    result = latest.select(
        "order_id",
        "customer_id",
        "order_ts",
        F.to_date("order_ts").alias("order_date"),
        "product_id",
        "quantity",
        "unit_price",
        (F.col("quantity") * F.col("unit_price")).cast("decimal(12,2)").alias("amount"),
        F.lower(F.trim("status")).alias("status"),
        "_source_file",
    )
    return TableOutput(result, counts)


@medallion_asset(
    layer="gold", name="daily_revenue", owners=["team:analytics"], refresh="affected_keys", refresh_keys=["order_date"],
    expectations=[expect_or_fail("revenue_not_negative", "revenue >= 0")],
)  # fmt: skip
def gold_daily_revenue(silver_orders: DataFrame) -> DataFrame:
    """Completed orders per day: order count, distinct customers, revenue, average order value.

    Only the days whose orders changed since the last refresh are recomputed (a day's row
    depends only on that day's orders)."""
    return (
        silver_orders.filter(F.col("status") == "completed")
        .groupBy("order_date")
        .agg(
            F.count("*").alias("orders"),
            F.countDistinct("customer_id").alias("customers"),
            F.sum("amount").cast("decimal(18,2)").alias("revenue"),
        )
        .withColumn("avg_order_value", F.round(F.col("revenue") / F.col("orders"), 2).cast("decimal(18,2)"))
        .orderBy("order_date")
    )
