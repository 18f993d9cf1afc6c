"""A step left waiting beside a free pool slot (Dagster's lost wakeup), woken from run monitoring.

A step claims a pool slot in two storage calls (dagster 1.13, `SqlEventLogStorage.claim_concurrency_slot`):
it asks whether the pool has an unassigned slot, then enqueues itself, assigned or not by that answer. A
step of another run that frees the pool's slot between the two assigns the oldest waiting step — the new
one is not enqueued yet — so the new step waits unassigned beside a free slot, and nothing assigns it
until some step of that pool frees a slot again. With one writer per table (`delta/<layer>/<table>`,
dagster.yaml) that may be never: the run, and every later writer of the table queued behind it, waits
forever. Seen in CI: `ingest/test_crash_recovery.py`'s re-offered batch sat 300 s "blocked by limit for
pool delta/bronze/orders" with the pool's one slot free and its step never assigned.

`wake_stalled_steps` is called by `LakehouseRunLauncher`'s health check, which Dagster's run monitoring
calls for every STARTED run each `run_monitoring.poll_interval_seconds` (10 s here). A pool where a step
of the run has waited unassigned for `STALLED_AFTER_S` while the pool has fewer assigned steps than
slots gets the head of its queue assigned, as the free would have done (the head may be another run's
step: the queue's order stands). The state must hold twice, `RECHECK_S` apart, so a free caught between
its two statements (it assigns the head itself milliseconds later) is not doubled: a second assigned
step for one slot would only wait, but two steps racing for one slot row is what pools are there to stop.
"""

from __future__ import annotations

import time

import dagster as dg

STALLED_AFTER_S = 5.0  # a step enqueued this long ago is past any free's two statements
RECHECK_S = 0.5


def stalled_pools(instance: dg.DagsterInstance, run_id: str, stalled_after: float = STALLED_AFTER_S) -> list[str]:
    """The pools where a step of `run_id` has waited unassigned `stalled_after` seconds beside an unassigned slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    now = time.time()
    stalled = []
    for key, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        waiting = [s for s in info.pending_steps if s.run_id == run_id and s.assigned_timestamp is None]
        if any(now - s.enqueued_timestamp.timestamp() >= stalled_after for s in waiting) and info.assigned_step_count < info.slot_count:
            stalled.append(key)
    return stalled


def wake_stalled_steps(instance: dg.DagsterInstance, run: dg.DagsterRun, stalled_after: float = STALLED_AFTER_S) -> list[str]:
    """Assign the head of each pool queue where a step of `run` stalls (module docstring); the pools, said in the run's log."""
    first = stalled_pools(instance, run.run_id, stalled_after)
    if not first:
        return []
    time.sleep(RECHECK_S)
    woken = [key for key in stalled_pools(instance, run.run_id, stalled_after) if key in first]
    if woken:
        instance.event_log_storage.assign_pending_steps(woken)
        instance.report_engine_event(
            f"Pool(s) {', '.join(woken)}: a step of this run waited beside a free slot that no step was assigned "
            "(Dagster's pool queue missed a wakeup); the head of the queue is assigned now.",
            run,
        )
    return woken
