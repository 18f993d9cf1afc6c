"""Sensors of the example: per landing source, a file-arrival and a refresh sensor, on by default.

A file dropped in `$LAKEHOUSE_ROOT/landing/<source>/` launches `<source>_arrival`,
which ingests exactly that batch into bronze (one run per batch). Its bronze
materialization starts `<source>_refresh` (the source's silver and gold tables)
through a coalescing refresh sensor: one refresh runs, at most one waits and
absorbs every later bronze commit, so a burst of files costs two refreshes, not
one per file; a batch that ingested 0 rows refreshes nothing. Timers are far below
Databricks' 60 s minimum: a 1 s debounce (a file still being copied keeps
changing, so it is not read half-written) and no minimum gap between runs. All
runs share a warm job cluster (a Spark Connect server kept
`$LAKEHOUSE_CLUSTER_IDLE_MINUTES` after the last run), so a file costs a Python
process start and the work itself, not a JVM start; after an idle period the sensor
starts that cluster as soon as it sees a new file, while the batch settles and its
run launches. These runs choose their engine (`LAKEHOUSE_ENGINE=auto` unless the variable
says otherwise): table steps only, the CSV sources' arrival runs and every refresh run go to a
warm Sail server; the JSON source's arrival runs ingest on the JVM (docs/engines.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg

from lakehouse_jobs.lib import LakehouseResource, SetupError, SparkResource, file_arrival_sensor, files_run_config, ingested_files, refresh_sensor
from lakehouse_jobs.lib.jobs.concurrency import ConcurrencyPolicy
from lakehouse_jobs.lib.runtime import auto_engine
from lakehouse_jobs.lib.runtime.spark import ENGINE_ENV

from . import clickstream, customers, orders
from .paths import lakehouse_root

WAIT_AFTER_LAST_CHANGE_SECONDS = 1.0
IDLE_MINUTES_ENV = "LAKEHOUSE_CLUSTER_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 10

# source -> (its ingestion spec, its bronze asset, the tables its refresh job rebuilds after bronze)
SOURCES = {
    "orders": (orders.INGEST, orders.bronze_orders, ["silver/orders", "gold/daily_revenue"]),
    "clickstream": (clickstream.INGEST, clickstream.bronze_clickstream, ["silver/events", "gold/event_funnel"]),
    "customers": (customers.INGEST, customers.bronze_customers, ["silver/customers", "silver/customers_history"]),
}


def arrival_cluster() -> dict:
    """The arrival and refresh runs' Spark: a job cluster kept warm between runs (no JVM start per file).

    `$LAKEHOUSE_CLUSTER_IDLE_MINUTES` (default 10) is its auto-termination; 0 gives
    each run its own cluster, stopped at run end. The engine is `$LAKEHOUSE_ENGINE`, else
    `auto`: each run on Sail when all its steps are table steps Sail runs (refresh runs and CSV
    arrival runs: measured sooner in bronze and gold, docs/ingestion.md), else on the JVM (JSON arrivals).
    """
    text = os.environ.get(IDLE_MINUTES_ENV) or str(DEFAULT_IDLE_MINUTES)
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not minutes >= 0:
        raise SetupError(f"{IDLE_MINUTES_ENV} must be a number of minutes >= 0, got {text!r}.")
    return {"job_cluster": True, "autotermination_minutes": minutes, "engine": os.environ.get(ENGINE_ENV, "").strip().lower() or "auto"}


def _warm_up(asset: dg.AssetsDefinition) -> Callable[[], None]:
    """Start the job cluster of `asset`'s arrival runs now if it is not running (the first file after an idle period):
    under `auto`, the engine its run will choose (CSV ingestion: Sail; JSON: the JVM)."""

    def start() -> None:
        config = arrival_cluster()
        if config["engine"] == "auto":
            config["engine"] = auto_engine.choose([(asset.op.name, dict(asset.op.tags))]).engine
        SparkResource(**config).prestart_job_cluster()

    return start


def _arrival_job(source: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"{source}_arrival",
        selection=dg.AssetSelection.assets(dg.AssetKey(["bronze", source])),
        description=f"New {source} files -> bronze (one run per batch).",
        config={"resources": {"spark": {"config": arrival_cluster()}}},
    )


def _refresh_job(source: str, downstream: list[str]) -> dg.UnresolvedAssetJobDefinition:
    """Silver and gold of one source; one run at a time, the next queued (so running + pending <= 2)."""
    return dg.define_asset_job(
        f"{source}_refresh",
        selection=dg.AssetSelection.assets(*(dg.AssetKey(t.split("/")) for t in downstream)),
        description=f"bronze/{source} -> {', '.join(downstream)}, after new bronze commits (coalesced).",
        config={"resources": {"spark": {"config": arrival_cluster()}}},
        tags=ConcurrencyPolicy(f"{source}_refresh", max_concurrent_runs=1, queue_enabled=True).tags,
    )


jobs = [job for source, (_, _, downstream) in SOURCES.items() for job in (_arrival_job(source), _refresh_job(source, downstream))]

sensors = [
    file_arrival_sensor(
        name=f"{source}_file_arrival",
        location=LakehouseResource(root=lakehouse_root()).landing_path(source),
        job_name=f"{source}_arrival",
        wait_after_last_change_seconds=WAIT_AFTER_LAST_CHANGE_SECONDS,
        run_config_for_files=files_run_config(spec),
        tags={"team": "data-eng"},
        redeliver_failed=3,  # a killed run's batch is offered again; its run skips what a commit already holds
        ingested_files=ingested_files(LakehouseResource(root=lakehouse_root()), spec),  # coalesce: a run that has not listed yet takes new files
        on_new_files=_warm_up(asset),  # the warm cluster starts while the batch settles and its run launches
    )
    for source, (spec, asset, _) in SOURCES.items()
] + [refresh_sensor(f"{source}_refresh_after_arrival", f"{source}_refresh", [dg.AssetKey(["bronze", source])], tags={"team": "data-eng"}) for source in SOURCES]
