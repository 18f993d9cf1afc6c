"""Customers: a CSV change feed -> bronze -> current state in silver -> ML-ready features in gold."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse_jobs.lib import IngestSpec, TableOutput, cast_columns, changes_asset, ingestion_asset, medallion_asset

from .generate import CUSTOMER_COLUMNS
from .quality import dedup_latest, typed_split

CHANGE_TYPES = {"customer_id": "bigint", "sequence_num": "bigint", "changed_at": "timestamp"}
LABEL_WINDOW_DAYS = 30


INGEST = IngestSpec(source="customers", table="customers", format="csv", columns=CUSTOMER_COLUMNS)
IS_DELETE = "upper(trim(operation)) = 'DELETE'"
CDC = dict(source="bronze/customers", keys=["customer_id"], sequence_by="sequence_num", apply_as_deletes=IS_DELETE, except_column_list=["operation"])

bronze_customers = ingestion_asset(
    INGEST, owners=["team:data-eng"], description="The raw customer change feed (INSERT/UPDATE/DELETE with a sequence number), ingested exactly once."
)


def change_feed(bronze_customers: DataFrame) -> TableOutput:
    """Typed change events; unparsable ones are dropped and counted."""
    valid, counts = typed_split(cast_columns(bronze_customers, CHANGE_TYPES), required=["customer_id", "sequence_num"])
    latest = dedup_latest(valid, ["customer_id"], Window.partitionBy("customer_id").orderBy(F.col("sequence_num").desc()))
    counts["customers_deleted"] = latest.filter(F.expr(IS_DELETE)).count()
    feed = valid.select("customer_id", "name", "email", "country", "segment", F.col("changed_at").alias("updated_at"), "sequence_num", "operation")
    return TableOutput(feed, counts)


@changes_asset(layer="silver", name="customers", stored_as_scd_type=1, owners=["team:data-eng"], **CDC)
def silver_customers(bronze_customers: DataFrame) -> TableOutput:
    """Current customers (SCD1 via apply_changes): the highest sequence_num per customer wins, even
    when events arrive late or twice; a DELETE removes the customer."""
    return change_feed(bronze_customers)


@changes_asset(layer="silver", name="customers_history", stored_as_scd_type=2, owners=["team:data-eng"], **CDC)
def silver_customers_history(bronze_customers: DataFrame) -> TableOutput:
    """Every version of every customer (SCD2 via apply_changes): `__START_AT`/`__END_AT` are the
    sequence numbers between which the version was current; a DELETE closes the last one."""
    return change_feed(bronze_customers)


def _per_customer(df: DataFrame, date_col: str, cutoff: F.Column, *aggs: F.Column) -> DataFrame:
    return df.filter(F.col(date_col) < cutoff).groupBy("customer_id").agg(F.max(date_col).alias(f"last_{date_col}"), *aggs)


@medallion_asset(layer="gold", name="customer_features", owners=["team:ml"])
def gold_customer_features(spark, silver_customers: DataFrame, silver_orders: DataFrame, silver_events: DataFrame) -> DataFrame:  # noqa: ANN001 - injected by name
    """Recency/frequency/monetary/engagement per current customer, and a churn label.

    Features use activity before the cutoff (last activity day + 1 - 30 days); the
    label `churned` is 1 when the customer neither completed an order nor produced
    an event in the 30 days from the cutoff on, so features never see the label window.
    """
    orders = silver_orders.filter(F.col("status") == "completed")
    bounds = (
        orders.select(F.col("order_date").alias("d"))
        .unionByName(silver_events.select(F.col("event_date").alias("d")))
        .agg(F.min("d").alias("first"), F.max("d").alias("last"))
        .first()
    )
    reference = F.date_add(F.lit(bounds["last"]), 1)
    cutoff = F.date_sub(reference, LABEL_WINDOW_DAYS)
    observed_days = F.datediff(cutoff, F.lit(bounds["first"])) + 1
    order_feats = _per_customer(orders, "order_date", cutoff, F.count("*").alias("frequency"), F.sum("amount").alias("monetary"))
    event_feats = _per_customer(
        silver_events,
        "event_date",
        cutoff,
        F.count("*").alias("events"),
        F.sum((F.col("event_type") == "page_view").cast("int")).alias("page_views"),
        F.sum((F.col("event_type") == "add_to_cart").cast("int")).alias("add_to_carts"),
        F.countDistinct("session_id").alias("sessions"),
    )
    active_later = (
        orders.filter(F.col("order_date") >= cutoff)
        .select("customer_id")
        .unionByName(silver_events.filter(F.col("event_date") >= cutoff).select("customer_id"))
        .distinct()
        .withColumn("active_after_cutoff", F.lit(True))
    )
    zero = lambda c, t="bigint": F.coalesce(F.col(c), F.lit(0)).cast(t).alias(c)  # noqa: E731
    return (
        silver_customers.select("customer_id", "country", "segment")
        .join(order_feats, "customer_id", "left")
        .join(event_feats, "customer_id", "left")
        .join(active_later, "customer_id", "left")
        .select(
            "customer_id",
            "country",
            "segment",
            F.coalesce(F.datediff(cutoff, F.col("last_order_date")), observed_days).alias("recency_days"),
            zero("frequency"),
            zero("monetary", "decimal(18,2)"),
            F.coalesce(F.round(F.col("monetary") / F.col("frequency"), 2), F.lit(0)).cast("decimal(18,2)").alias("avg_order_value"),
            zero("events"),
            zero("page_views"),
            zero("add_to_carts"),
            zero("sessions"),
            F.coalesce(F.datediff(cutoff, F.col("last_event_date")), observed_days).alias("days_since_last_event"),
            F.when(F.col("active_after_cutoff"), 0).otherwise(1).alias("churned"),
            cutoff.alias("feature_cutoff_date"),
        )
        .orderBy("customer_id")
    )
