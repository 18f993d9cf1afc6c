"""Crash recovery through a real dagster-daemon: kill -9 the daemon and its runs mid-batch, restart, nothing is lost.

Before: the killed run stayed STARTED forever (holding a run slot) and the sensor never offered its
files again, so only a manual materialize ingested them. Now run monitoring marks the run FAILED
(LakehouseRunLauncher), the sensor offers its files again, and the manifest decides what is done.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.defs.generate import ORDER_COLUMNS

from .daemon import delta_rows, running_daemon, wait_for
from .helpers import write_csv

TIMEOUT = 300


def _orders(start: int, n: int) -> list[list[str]]:
    return [[str(i), str(1 + i % 3), f"2026-02-{1 + i % 28:02d}T10:00:00", "P001", "2", "9.50", "completed"] for i in range(start, start + n)]


def _landed(root: Path) -> int:
    """Records in bronze plus records in the quarantine table (the only source here is orders)."""
    return delta_rows(root / "bronze/orders") + delta_rows(root / "_system/quarantine")


def _started_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(job_name="orders_arrival", statuses=[dg.DagsterRunStatus.STARTED])))


def _holding_a_slot(home: Path) -> list[dg.DagsterRun]:
    """The STARTED arrival runs, once one of them holds a pool slot."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = _started_runs(instance)
        return runs if any(": " in held for held in _slots_held_by(instance, {r.run_id for r in runs})) else []


def _slots_held_by(instance: dg.DagsterInstance, run_ids: set[str]) -> list[str]:
    storage = instance.event_log_storage
    held = []
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        held += [f"{pool}: {s.run_id}" for s in info.claimed_slots if s.run_id in run_ids]
        held += [f"{pool} pending {s.run_id}" for s in info.pending_steps if s.run_id in run_ids]
    return held


@pytest.mark.timeout(900)
def test_a_batch_killed_with_the_daemon_is_ingested_after_a_restart_without_a_manual_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root, home, log = tmp_path / "lake", tmp_path / "dagster_home", tmp_path / "daemon.log"
    (root / "landing").mkdir(parents=True)
    rows = _orders(1, 6)
    bad = ["x", "1", "not a time", "P001", "2", "9.50", "completed"]  # refused: quarantined, not lost
    with running_daemon(home, root, log) as daemon:
        write_csv(root / "landing/orders/a.csv", ORDER_COLUMNS, rows[:3])
        write_csv(root / "landing/orders/b.csv", ORDER_COLUMNS, [*rows[3:], bad])
        # Every run started by then dies with the daemon (one, or two if the queue let a second one wait in its step).
        # Killed while its step holds bronze's pool slot: the slot must not outlive the run.
        killed_runs = wait_for(lambda: _holding_a_slot(home), TIMEOUT, "the arrival run's step to hold its pool slot", log)
        os.killpg(daemon.pid, signal.SIGKILL)  # the daemon, its code server and the run, mid-batch
        daemon.wait(timeout=30)
    assert _landed(root) in (0, 7)  # the killed batch committed whole or not at all

    restarted = time.monotonic()
    with running_daemon(home, root, tmp_path / "daemon2.log"):
        wait_for(lambda: _landed(root) == 7, TIMEOUT, "all 7 records in bronze + quarantine after the restart", tmp_path / "daemon2.log")
        quiet = time.monotonic() - restarted
        with dg.DagsterInstance.from_config(str(home)) as instance:
            killed_ids = {r.run_id for r in killed_runs}
            wait_for(
                lambda: all(instance.get_run_by_id(i).status == dg.DagsterRunStatus.FAILURE for i in killed_ids),
                TIMEOUT,
                "the killed runs marked FAILURE",
                tmp_path / "daemon2.log",
            )
            # the pool slot a killed step held is freed (run_monitoring.free_slots_after_run_end_seconds), or every
            # later writer of bronze/orders would wait for it forever
            wait_for(lambda: not _slots_held_by(instance, killed_ids), TIMEOUT, "the killed runs' pool slots freed", tmp_path / "daemon2.log")
            for run_id in killed_ids:
                failure = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[-1]
                assert "is gone" in failure.event_log_entry.dagster_event.message
            runs = instance.get_runs(dg.RunsFilter(job_name="orders_arrival"))
            again = [r for r in runs if r.run_id not in killed_ids]  # the sensor offered the killed batches again, no manual step
            assert again and all(r.tags.get("dagster/sensor_name") == "orders_file_arrival" for r in again)
        time.sleep(3)  # a late duplicate run would show here
    assert _landed(root) == 7  # bronze + quarantine = input records, exactly: nothing lost, nothing twice
    assert delta_rows(root / "bronze/orders") >= 6
    with capsys.disabled():
        print(f"\ncrash recovery: restart -> every killed file in bronze in {quiet:.1f} s")
