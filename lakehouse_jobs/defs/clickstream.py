"""Clickstream: JSON-lines events -> bronze -> typed, deduplicated silver -> daily funnel."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse_jobs.lib import IngestSpec, TableOutput, cast_columns, expect, ingestion_asset, medallion_asset

from .generate import EVENT_COLUMNS
from .quality import dedup_latest, typed_split

EVENT_TYPES = {"customer_id": "bigint", "event_ts": "timestamp"}


INGEST = IngestSpec(source="clickstream", table="clickstream", format="json", columns=EVENT_COLUMNS)

bronze_clickstream = ingestion_asset(
    INGEST, owners=["team:data-eng"], description="Raw events as received, ingested exactly once; a line that is not a JSON object goes to the quarantine."
)


@medallion_asset(
    layer="silver", name="events", write_mode="merge", merge_keys=["event_id"], owners=["team:data-eng"], refresh="incremental",
    expectations=[expect("known_event_type", "event_type IN ('page_view', 'add_to_cart', 'purchase')")],
)  # fmt: skip
def silver_events(bronze_clickstream: DataFrame) -> TableOutput:
    """Typed events, one per event_id; unparsable values are dropped and counted (broken lines never
    reach bronze: ingestion quarantines them)."""
    typed = cast_columns(bronze_clickstream, EVENT_TYPES)
    valid, counts = typed_split(typed, required=["event_id", "customer_id", "event_ts"], keys=["event_id"])
    result = dedup_latest(valid, ["event_id"]).select(
        "event_id",
        "customer_id",
        "event_ts",
        F.to_date("event_ts").alias("event_date"),
        F.lower(F.trim("event_type")).alias("event_type"),
        "page",
        "session_id",
        "_source_file",
    )
    return TableOutput(result, counts)


@medallion_asset(layer="gold", name="event_funnel", owners=["team:analytics"], refresh="affected_keys", refresh_keys=["event_date"])
def gold_event_funnel(silver_events: DataFrame) -> DataFrame:
    """Per day: page views, add-to-carts, purchases, sessions and the view-to-purchase rate (only changed days recomputed)."""
    count_of = lambda kind: F.sum((F.col("event_type") == kind).cast("int")).alias(f"{kind}s")  # noqa: E731
    return (
        silver_events.groupBy("event_date")
        .agg(count_of("page_view"), count_of("add_to_cart"), count_of("purchase"), F.countDistinct("session_id").alias("sessions"))
        .withColumn("view_to_purchase_rate", F.round(F.try_divide(F.col("purchases"), F.col("page_views")), 4))  # null on a day without views
        .orderBy("event_date")
    )
