"""A step Dagster's pool queue left waiting beside a free slot is woken by the run launcher's health check.

Real instance (sqlite storage), the pool queue driven through the storage's own calls in the order that
loses the wakeup: a waiter's claim asks whether a slot is free (no), the holder frees its slot (assigning
nobody: the waiter is not enqueued yet), the waiter enqueues unassigned. The run's worker is this live
test process, as its "Started process for run" event says.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus
from dagster._core.utils import make_new_run_id

from lakehouse_jobs.lib.jobs.pool_wakeup import STALLED_AFTER_S, stalled_pools, wake_stalled_steps

POOL = "delta/bronze/orders"
STEP = "bronze__orders"
LAUNCHER = {"run_launcher": {"module": "lakehouse_jobs.lib.jobs.run_launcher", "class": "LakehouseRunLauncher"}}


def _live_run(instance: dg.DagsterInstance, worker_reported: bool = True) -> dg.DagsterRun:
    run = instance.add_run(dg.DagsterRun(job_name="orders_arrival", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED))
    if worker_reported:  # else like a `dagster asset materialize` run: no run worker of the launcher's
        instance.report_engine_event(f"Started process for run (pid: {os.getpid()}).", run)
    return run


def _lose_the_wakeup(instance: dg.DagsterInstance, holder: str, waiter: str) -> None:
    storage = instance.event_log_storage
    assert storage.claim_concurrency_slot(POOL, holder, STEP).is_claimed
    free_now = storage.has_unassigned_slots(POOL)  # the waiter's claim asks first ...
    storage.free_concurrency_slot_for_step(holder, STEP)  # ... the holder frees, assigning nobody ...
    storage.add_pending_step(POOL, waiter, STEP, should_assign=free_now)  # ... then the waiter enqueues


def _claimed(instance: dg.DagsterInstance, run_id: str) -> bool:
    return instance.event_log_storage.claim_concurrency_slot(POOL, run_id, STEP).is_claimed


@pytest.mark.parametrize("worker_reported", [True, False], ids=["launched-run", "cli-run"])
def test_a_step_waiting_beside_a_free_slot_is_assigned_by_the_health_check_once_it_has_waited(worker_reported):
    with dg.instance_for_test(overrides=LAUNCHER) as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        holder, waiter = make_new_run_id(), _live_run(instance, worker_reported)
        _lose_the_wakeup(instance, holder, waiter.run_id)
        enqueued = time.monotonic()
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert not _claimed(instance, waiter.run_id) and info.claimed_slots == [] and info.slot_count == 1  # Dagster's lost wakeup

        health = instance.run_launcher.check_run_worker_health(waiter)  # just enqueued: a free may be between its statements
        assert health.status == WorkerStatus.RUNNING and "woke" not in health.msg
        assert not _claimed(instance, waiter.run_id)

        time.sleep(max(0.0, STALLED_AFTER_S - (time.monotonic() - enqueued)) + 0.2)
        health = instance.run_launcher.check_run_worker_health(waiter)
        assert health.status == WorkerStatus.RUNNING and POOL in health.msg
        assert _claimed(instance, waiter.run_id)
        said = [r.event_log_entry.dagster_event.message for r in instance.get_records_for_run(waiter.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records]
        assert any(m.startswith(f"Pool(s) {POOL}: a step of this run waited beside a free slot") for m in said)


def test_a_step_queued_behind_a_held_slot_or_a_dead_runs_assignment_is_left_to_wait():
    with dg.instance_for_test(overrides=LAUNCHER) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        holder, waiter = _live_run(instance), _live_run(instance)
        assert _claimed(instance, holder.run_id)
        assert not _claimed(instance, waiter.run_id)  # queued the normal way, behind a held slot
        assert stalled_pools(instance, waiter.run_id, stalled_after=0) == []
        assert wake_stalled_steps(instance, waiter, stalled_after=0) == []
        assert not _claimed(instance, waiter.run_id)  # one writer at a time: never a second step for the slot

        storage.free_concurrency_slot_for_step(holder.run_id, STEP)  # Dagster's own wakeup: the waiter is the head
        assert _claimed(instance, waiter.run_id)

        dead = make_new_run_id()  # assigned but never claiming (its worker died): run monitoring frees that, not this
        storage.free_concurrency_slot_for_step(waiter.run_id, STEP)
        storage.add_pending_step(POOL, dead, STEP, should_assign=True)
        late = _live_run(instance)
        assert not _claimed(instance, late.run_id)
        assert wake_stalled_steps(instance, late, stalled_after=0) == []
