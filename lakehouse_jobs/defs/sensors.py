"""File-arrival sensors of the example: one per landing source, on by default.

A file dropped in `$LAKEHOUSE_ROOT/landing/<source>/` launches `<source>_arrival`,
which ingests exactly that batch into bronze and refreshes the source's silver and
gold tables. Timers are far below Databricks' 60 s minimum: a 1 s debounce (a file
still being copied keeps changing, so it is not read half-written) and no minimum
gap between runs.
"""

from __future__ import annotations

import dagster as dg

from lakehouse_jobs.lib.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingestion import files_run_config
from lakehouse_jobs.lib.lakehouse import LakehouseResource

from . import clickstream, customers, orders
from .paths import lakehouse_root

WAIT_AFTER_LAST_CHANGE_SECONDS = 1.0

# source -> (its ingestion spec, the tables its run refreshes after bronze)
SOURCES = {
    "orders": (orders.INGEST, ["silver/orders", "gold/daily_revenue"]),
    "clickstream": (clickstream.INGEST, ["silver/events", "gold/event_funnel"]),
    "customers": (customers.INGEST, ["silver/customers", "silver/customers_history"]),
}


def _job(source: str, downstream: list[str]) -> dg.UnresolvedAssetJobDefinition:
    keys = [dg.AssetKey(["bronze", source]), *(dg.AssetKey(t.split("/")) for t in downstream)]
    return dg.define_asset_job(f"{source}_arrival", selection=dg.AssetSelection.assets(*keys), description=f"New {source} files -> bronze -> silver/gold.")


jobs = [_job(source, downstream) for source, (_, downstream) in SOURCES.items()]

sensors = [
    file_arrival_sensor(
        name=f"{source}_file_arrival",
        location=LakehouseResource(root=lakehouse_root()).landing_path(source),
        job_name=f"{source}_arrival",
        wait_after_last_change_seconds=WAIT_AFTER_LAST_CHANGE_SECONDS,
        run_config_for_files=files_run_config(spec),
        tags={"team": "data-eng"},
    )
    for source, (spec, _) in SOURCES.items()
]
