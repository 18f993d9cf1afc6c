"""End to end through a real dagster-daemon: files land, arrival runs fill bronze, refresh runs fill silver.

`<source>_arrival` ingests each batch into bronze; its bronze materialization starts
`<source>_refresh` (silver and gold) through the coalescing refresh sensor.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.defs.generate import CUSTOMER_COLUMNS, ORDER_COLUMNS
from lakehouse_jobs.lib.runtime import job_cluster

from .daemon import clusters_dir, delta_rows, running_daemon, wait_for
from .helpers import write_csv

TIMEOUT = 300  # per wait; ~30 s on an idle 2-core machine for the first runs (they start the job cluster)


def _orders(start: int, n: int) -> list[list[str]]:
    return [[str(i), str(1 + i % 3), f"2026-02-{1 + i % 28:02d}T10:00:00", "P001", "2", "9.50", "completed"] for i in range(start, start + n)]


@pytest.mark.timeout(900)
def test_files_dropped_in_landing_reach_bronze_and_silver_through_the_daemon(tmp_path: Path):
    root, home, log = tmp_path / "lake", tmp_path / "dagster_home", tmp_path / "daemon.log"
    (root / "landing").mkdir(parents=True)
    with running_daemon(home, root, log):
        write_csv(root / "landing/orders/2026/02/batch-1.csv", ORDER_COLUMNS, _orders(1, 5))
        write_csv(root / "landing/customers/c-1.csv", CUSTOMER_COLUMNS, [
            ["1", "Ann", "a@x", "DE", "smb", "INSERT", "1", "2026-01-01T00:00:00"],
            ["1", "Ann", "a2@x", "FR", "smb", "UPDATE", "3", "2026-01-03T00:00:00"],
            ["2", "Bob", "b@x", "NL", "consumer", "INSERT", "2", "2026-01-02T00:00:00"],
        ])  # fmt: skip
        wait_for(lambda: delta_rows(root / "silver/orders") == 5, TIMEOUT, "5 orders in silver", log)
        assert delta_rows(root / "bronze/orders") == 5
        wait_for(lambda: delta_rows(root / "silver/customers") == 2, TIMEOUT, "2 customers in silver", log)
        wait_for(lambda: delta_rows(root / "silver/customers_history") == 3, TIMEOUT, "3 customer versions", log)
        (cluster,) = job_cluster.running(clusters_dir(home))  # both sources' arrival and refresh runs used one JVM, kept warm

        write_csv(root / "landing/orders/2026/02/batch-2.csv", ORDER_COLUMNS, _orders(6, 3))  # a second batch
        wait_for(lambda: delta_rows(root / "silver/orders") == 8, TIMEOUT, "8 orders in silver", log)
        assert delta_rows(root / "bronze/orders") == 8  # each file once, though runs were relaunched
        (again,) = job_cluster.running(clusters_dir(home))
        assert again["jvm_pid"] == cluster["jvm_pid"]  # the second batch's runs found the cluster warm
        wait_for(lambda: _finished(home, "orders_refresh"), TIMEOUT, "the orders refresh runs to end", log)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="orders_arrival"))
        assert runs, "the orders sensor launched no run"
        assert all(r.tags["lakehouse_jobs/trigger.type"] == "file_arrival" for r in runs)
        assert all(r.tags["lakehouse_jobs/trigger.file_arrival.location"] == str(root / "landing/orders") for r in runs)
        batches = [r.run_config["ops"]["bronze__orders"]["config"]["files"] for r in runs]
        assert sorted(f for files in batches for f in files) == sorted(str(p) for p in (root / "landing/orders").rglob("*.csv"))
        assert all(_materialized(instance, r.run_id) <= {"bronze/orders"} for r in runs)  # arrival runs write bronze only
        refreshes = instance.get_runs(dg.RunsFilter(job_name="orders_refresh"))
        assert 1 <= len(refreshes) <= len(runs) and all(r.status == dg.DagsterRunStatus.SUCCESS for r in refreshes)
        assert all(r.tags["dagster/sensor_name"] == "orders_refresh_after_arrival" for r in refreshes)
        assert all(r.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "bronze/orders" for r in refreshes)
        assert all(_materialized(instance, r.run_id) == {"silver/orders", "gold/daily_revenue"} for r in refreshes)


def _materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records}


def _finished(home: Path, job_name: str) -> bool:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=job_name))
        return bool(runs) and all(r.is_finished for r in runs)
