"""A stream of files through a real dagster-daemon: 0 failed runs, exact tables, coalesced refreshes.

Files land at a steady cadence (and then in a burst) in landing/orders while the
daemon runs the example's sensors: `orders_arrival` ingests each batch into bronze,
`orders_refresh` (silver + gold) is started by the coalescing refresh sensor. The
tables are compared with the pandas oracle computed from the landed files, and the
refresh runs are counted and checked for overlap from their run records. Then a
second source (customers) lands on the same daemon: its runs find the job cluster
warm, and every run carries the tags that say what started it.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.defs.generate import CUSTOMER_COLUMNS, ORDER_COLUMNS
from lakehouse_jobs.lib.ingest.refresh import RefreshState
from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.tags import ENGINE
from lakehouse_jobs_tests import oracle

from .daemon import clusters_dir, delta_rows, running_daemon, wait_for
from .helpers import write_csv

TIMEOUT = 300  # per wait; the whole stream takes ~60-90 s on an idle 2-core machine (the first run starts the job cluster)
FILES, ROWS, GAP_S = 4, 300, 2.5
BURST = 40
BRONZE = dg.AssetKey(["bronze", "orders"])
REFRESH_SENSOR = "orders_refresh_after_arrival"


def order_rows(index: int, n: int) -> list[list[str]]:
    """File `index`: new orders over days it shares with earlier files and new ones, a cancelled and a malformed row now and then."""
    rows = []
    for k in range(n):
        day = 1 + (k + index) % min(5 + 2 * index, 28)
        quantity = "x" if k % 50 == 49 else str(1 + k % 4)  # malformed: silver drops it, as the oracle does
        status = "cancelled" if k % 7 == 3 else "completed"
        rows.append(
            [str(index * 100_000 + k), str(1 + k % 17), f"2026-02-{day:02d}T10:{k % 60:02d}:00", "P001", quantity, f"{5 + k % 13}.{k % 100:02d}", status]
        )
    return rows


def land(folder: Path, name: str, rows: list[list[str]]) -> None:
    """Written under a skipped `_` name, then renamed into place (what producers do)."""
    tmp = write_csv(folder / f"_{name}", ORDER_COLUMNS, rows)
    tmp.rename(folder / name)


def assert_tables_match_the_oracle(root: Path) -> None:
    landing = root / "landing"
    raw = [tuple(row.get(c) for c in ORDER_COLUMNS) for row in oracle._csv_rows(landing / "orders")]
    bronze = oracle.delta_table(root / "bronze/orders")
    assert sorted(bronze[ORDER_COLUMNS].itertuples(index=False, name=None)) == sorted(raw)  # every record once
    oracle.assert_orders_tables_match(root)


def settled(home: Path) -> list[dg.RunRecord]:
    """Every run record once the refresh sensor has seen the last bronze commit and no run is queued or running (else [])."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        latest = instance.fetch_materializations(BRONZE, limit=1).records
        state = next((s for s in instance.all_instigator_state() if s.instigator_name == REFRESH_SENSOR), None)
        data = state.instigator_data if state else None
        seen = RefreshState.from_cursor(getattr(data, "cursor", None)).after  # written after the tick's runs were created
        if latest and seen < latest[0].storage_id:
            return []
        records = instance.get_run_records()
    return records if records and all(r.dagster_run.is_finished for r in records) else []


def ticked(home: Path, sensor: str) -> bool:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return any(s.instigator_name == sensor and getattr(s.instigator_data, "last_tick_timestamp", None) for s in instance.all_instigator_state())


def most_in_flight(records: list[dg.RunRecord], since: str = "create") -> int:
    """The most runs in flight at one time: from creation (queued) or from start, to end."""
    edges = []
    for r in records:
        begin = r.create_timestamp.timestamp() if since == "create" else r.start_time
        edges += [(begin, 1), (r.end_time, -1)]
    level = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    work = tmp_path_factory.mktemp("stream")
    root, home, log = work / "lake", work / "dagster_home", work / "daemon.log"
    (root / "landing/orders").mkdir(parents=True)
    with running_daemon(home, root, log):
        wait_for(lambda: ticked(home, "orders_file_arrival"), TIMEOUT, "the daemon's first sensor tick", log)  # the cadence starts with a live daemon
        yield root, home, log


@pytest.mark.timeout(600)
def test_files_landing_at_a_steady_cadence_give_exact_tables_with_coalesced_refreshes(stream, capsys):
    root, home, log = stream
    folder = root / "landing/orders"
    for index in range(FILES):
        rows = order_rows(index, ROWS)
        resent = order_rows(index - 1, 5) if index else []  # a producer re-sends a few rows of the previous file
        land(folder, f"orders-{index:03d}.csv", rows + resent)
        last = time.monotonic()
        if index < FILES - 1:
            time.sleep(GAP_S)
    wait_for(lambda: oracle.gold_orders_match(root), TIMEOUT, "gold/daily_revenue to reflect the last file", log, interval=0.5)
    to_gold = time.monotonic() - last
    records = wait_for(lambda: settled(home), TIMEOUT, "every run to end", log)
    assert [r.dagster_run.job_name for r in records if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS] == []  # 0 failed runs
    assert_tables_match_the_oracle(root)
    refreshes = [r for r in records if r.dagster_run.job_name == "orders_refresh"]
    arrivals = [r for r in records if r.dagster_run.job_name == "orders_arrival"]
    assert 1 <= len(refreshes) <= FILES and len(arrivals) >= 1
    assert most_in_flight(refreshes) <= 2  # one running, one pending
    assert most_in_flight(refreshes, since="start") == 1  # never two writers of silver at once
    with capsys.disabled():
        print(f"\nstream: {FILES} files, {len(arrivals)} arrival runs, {len(refreshes)} refresh runs, last file -> gold {to_gold:.1f} s")


@pytest.mark.timeout(600)
def test_a_burst_of_files_costs_at_most_two_refreshes(stream, capsys):
    root, home, log = stream
    folder = root / "landing/orders"
    before = {r.dagster_run.run_id for r in wait_for(lambda: settled(home), TIMEOUT, "the previous runs to end", log)}
    for index in range(BURST):
        land(folder, f"burst-{index:03d}.csv", order_rows(100 + index, 20))
    rows = len(oracle._csv_rows(folder))
    wait_for(lambda: delta_rows(root / "bronze/orders") == rows, TIMEOUT, "the burst in bronze", log)
    wait_for(lambda: oracle.gold_orders_match(root), TIMEOUT, "gold/daily_revenue to reflect the burst", log, interval=0.5)
    records = [r for r in wait_for(lambda: settled(home), TIMEOUT, "every run to end", log) if r.dagster_run.run_id not in before]
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    refreshes = [r for r in records if r.dagster_run.job_name == "orders_refresh"]
    assert 1 <= len(refreshes) <= 2
    assert_tables_match_the_oracle(root)
    with capsys.disabled():
        arrivals = sum(r.dagster_run.job_name == "orders_arrival" for r in records)
        print(f"\nburst: {BURST} files, {arrivals} arrival runs, {len(refreshes)} refresh runs")


def skip_reasons(home: Path, sensor: str, after: float) -> list[str]:
    """What the sensor's ticks that ended after `after` said when they launched nothing.

    A tick that began before `after` counts: it lists the folder again while it waits out a timer (measured:
    a tick started just before a rewrite reported it, and a filter on the start time missed it)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        state = next(s for s in instance.all_instigator_state() if s.instigator_name == sensor)
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after - 60)
        return [t.skip_reason or "" for t in ticks if t.end_timestamp is not None and t.end_timestamp >= after]


@pytest.mark.timeout(600)
def test_a_file_dropped_again_ingests_nothing_and_refreshes_nothing(stream):
    root, home, log = stream
    folder = root / "landing/orders"
    before = {r.dagster_run.run_id for r in wait_for(lambda: settled(home), TIMEOUT, "the previous runs to end", log)}
    again = folder / "orders-000.csv"
    dropped = time.time()
    again.write_bytes(again.read_bytes())  # rewritten in place: the sensor sees a change, bronze's manifest already holds the path
    said = wait_for(lambda: [r for r in skip_reasons(home, "orders_file_arrival", dropped) if "already ingested" in r], TIMEOUT, "the sensor's tick", log)
    assert said == ["1 new file(s) already ingested by an earlier run"]  # no run at all, so nothing to refresh
    time.sleep(8)  # more than a sensor loop: a run requested now would show
    assert [r for r in settled(home) if r.dagster_run.run_id not in before] == []
    assert_tables_match_the_oracle(root)


@pytest.mark.timeout(600)
def test_a_second_source_finds_the_cluster_warm_and_every_run_says_what_started_it(stream):
    root, home, log = stream
    wait_for(lambda: settled(home), TIMEOUT, "the previous runs to end", log)
    clusters = job_cluster.running(clusters_dir(home))  # the orders' arrival and refresh runs (CSV, table steps) used one Sail server
    assert [c["engine"] for c in clusters] == ["sail"]
    write_csv(root / "landing/customers/c-1.csv", CUSTOMER_COLUMNS, [
        ["1", "Ann", "a@x", "DE", "smb", "INSERT", "1", "2026-01-01T00:00:00"],
        ["1", "Ann", "a2@x", "FR", "smb", "UPDATE", "3", "2026-01-03T00:00:00"],
        ["2", "Bob", "b@x", "NL", "consumer", "INSERT", "2", "2026-01-02T00:00:00"],
    ])  # fmt: skip
    wait_for(lambda: delta_rows(root / "silver/customers") == 2, TIMEOUT, "2 customers in silver", log)
    wait_for(lambda: delta_rows(root / "silver/customers_history") == 3, TIMEOUT, "3 customer versions", log)
    again = [(c["engine"], c["jvm_pid"]) for c in job_cluster.running(clusters_dir(home))]
    assert again == [(c["engine"], c["jvm_pid"]) for c in clusters]  # the customers' arrival and refresh runs found it warm
    records = wait_for(lambda: settled(home), TIMEOUT, "every run to end", log)
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        arrivals = instance.get_runs(dg.RunsFilter(job_name="orders_arrival"))
        assert all(r.tags["lakehouse_jobs/trigger.type"] == "file_arrival" for r in arrivals)
        assert all(r.tags["lakehouse_jobs/trigger.file_arrival.location"] == str(root / "landing/orders") for r in arrivals)
        requested = [f for r in arrivals for f in r.run_config["ops"]["bronze__orders"]["config"]["files"]]
        # no file requested twice (a run also takes what landed while it caught up: bronze holds each record once, above)
        assert len(requested) == len(set(requested)) and set(requested) <= {str(p) for p in (root / "landing/orders").rglob("*.csv")}
        assert all(_materialized(instance, r.run_id) <= {"bronze/orders"} for r in arrivals)  # arrival runs write bronze only
        assert {r.tags.get(ENGINE) for r in arrivals} == {"sail"}  # LAKEHOUSE_ENGINE=auto by default: CSV ingestion on Sail
        refreshes = instance.get_runs(dg.RunsFilter(job_name="orders_refresh"))
        assert all(r.tags["dagster/sensor_name"] == REFRESH_SENSOR for r in refreshes)
        assert all(r.tags["lakehouse_jobs/trigger.table_update.updated_tables"] == "bronze/orders" for r in refreshes)
        # a refresh queued while another ran finds its commits already taken and writes nothing (seen in CI under load)
        written = [_materialized(instance, r.run_id) for r in refreshes]
        assert all(w in ({"silver/orders", "gold/daily_revenue"}, set()) for w in written) and any(written)
        assert {r.tags.get(ENGINE) for r in refreshes} == {"sail"}  # table steps only: on Sail


def _materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records}
