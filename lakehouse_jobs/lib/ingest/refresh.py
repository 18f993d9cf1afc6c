"""Coalesced downstream refreshes: `refresh_sensor(name, job_name, upstream)`.

A stream of files lands as a stream of bronze commits; refreshing silver and gold
once per commit would queue one run per file. This sensor keeps at most two runs
of the refresh job in flight, one running and one pending:

- each tick reads the upstream assets' materializations newer than its durable
  cursor (event-log storage ids, so nothing is read twice or missed across daemon
  restarts);
- if there are any and no run of `job_name` is pending (QUEUED, NOT_STARTED,
  STARTING, or STARTED with its first step not begun before the newest of them),
  it requests one (`run_key=<name>:<newest storage id>`);
- if one is pending, it only advances the cursor: that run has not read anything
  yet, so when its steps run they read every commit made so far — it absorbs them.
  A step reads its upstream after its STEP_START (which the table's pool slot
  delays), so a STARTED run still in its process start (~4-5 s) absorbs too. Only
  this sensor's own runs count (a run started by hand may select less).

The materializations are read *before* the pending runs are looked at, so a run
found pending had not started when those commits were already made. The job must
allow one run at a time with a queue (`ConcurrencyPolicy(job, 1, queue_enabled=True)
.tags` on it, enforced by `LakehouseRunCoordinator`), so running + pending <= 2.
An ingestion run that ingested 0 rows emits no materialization and triggers nothing.
The job must not materialize its own upstream assets (each of its runs would
trigger the next).

Why not Dagster's declarative automation (`AutomationCondition`): the runs it
launches carry no run config and no job, so they could not run on the warm job
cluster the example's arrival runs share (`arrival_cluster()` in
lakehouse_jobs/defs/sensors.py); a JVM start per refresh would cost more than
the refresh itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags

PENDING_STATUSES = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING)
SENSOR_TAG = lakehouse_tags.DAGSTER_SENSOR_NAME
READ_LIMIT = 1000  # materializations read per key and tick (only their count and newest id matter)
TRIGGER_TYPE = "table_update"  # what Databricks calls a run started by an upstream table's update


@dataclass
class RefreshState:
    """The cursor: the newest upstream materialization (storage id) seen, and the last run key requested."""

    after: int = 0
    requested: str = ""

    def to_cursor(self) -> str:
        return json.dumps({"v": 1, "after": self.after, "requested": self.requested})

    @classmethod
    def from_cursor(cls, cursor: str | None) -> RefreshState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(after=int(data.get("after", 0)), requested=str(data.get("requested", "")))


@dataclass
class RefreshDecision:
    """One tick's outcome: the new state, the run key to request (or why not), and which keys changed."""

    state: RefreshState
    run_key: str | None
    reason: str
    updated: list[str]


def new_materializations(instance: dg.DagsterInstance, upstream: Sequence[dg.AssetKey], after: int) -> dict[dg.AssetKey, tuple[int, int, float]]:
    """Per upstream key with materializations newer than storage id `after`: (how many, newest storage id, its time)."""
    found = {}
    for key in upstream:
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, after_storage_id=after or None), limit=READ_LIMIT).records
        if records:
            newest = max(records, key=lambda r: r.storage_id)
            found[key] = (len(records), newest.storage_id, newest.timestamp)
    return found


def pending_run(instance: dg.DagsterInstance, job_name: str, sensor: str, since: float = float("inf")) -> dg.DagsterRun | None:
    """A run of `job_name` this sensor requested that will read every commit made by time `since`: not started, or
    STARTED with no step begun before `since`."""
    runs = instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=list(PENDING_STATUSES), tags={SENSOR_TAG: sensor}), limit=1)
    if runs:
        return runs[0]
    for run in instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED], tags={SENSOR_TAG: sensor}), limit=5):
        started = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1).records
        if not started or started[0].event_log_entry.timestamp > since:
            return run
    return None


def decide(name: str, instance: dg.DagsterInstance, job_name: str, upstream: Sequence[dg.AssetKey], state: RefreshState) -> RefreshDecision:
    """One tick: new upstream materializations first, then the pending run (the order is what makes absorbing safe)."""
    found = new_materializations(instance, upstream, state.after)
    shown = ", ".join(k.to_user_string() for k in upstream)
    if not found:
        return RefreshDecision(state, None, f"nothing new from {shown} since event {state.after}", [])
    newest = max(n for _, n, _ in found.values())
    count = sum(c for c, _, _ in found.values())
    updated = [k.to_user_string() for k in upstream if k in found]
    many = f"{count}{'+' if any(c >= READ_LIMIT for c, _, _ in found.values()) else ''} new materialization(s) of {', '.join(updated)}"
    pending = pending_run(instance, job_name, name, since=max(t for _, _, t in found.values()))
    if pending is not None:
        absorbed = RefreshState(after=newest, requested=state.requested)
        return RefreshDecision(absorbed, None, f"{many} absorbed by pending run {pending.run_id} ({pending.status.value}) of {job_name}", updated)
    key = f"{name}:{newest}"
    return RefreshDecision(RefreshState(after=newest, requested=key), key, many, updated)


def refresh_sensor(
    name: str,
    job_name: str,
    upstream: Sequence[dg.AssetKey],
    *,
    minimum_interval_seconds: int = 1,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping | None = None,
    description: str | None = None,
) -> dg.SensorDefinition:
    """A sensor running `job_name` after new materializations of `upstream`, coalesced (module docstring).

    `run_config` defaults to the job's own defaults; runs are tagged
    `lakehouse_jobs/trigger.type=table_update` and the updated keys.
    """
    keys = [dg.AssetKey.from_coercible(k) for k in upstream]
    if not keys:
        raise dg.DagsterInvalidDefinitionError(f"refresh_sensor {name!r} needs at least one upstream asset key.")
    shown = ", ".join(k.to_user_string() for k in keys)

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=description or f"Runs {job_name} after new materializations of {shown}; one run pending at most, it absorbs later ones.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        decision = decide(name, context.instance, job_name, keys, RefreshState.from_cursor(context.cursor))
        cursor = decision.state.to_cursor()
        if decision.run_key is None:
            return dg.SensorResult(skip_reason=decision.reason, cursor=cursor)
        context.log.info(f"{decision.reason}: requesting a run of {job_name}")
        run_tags = {**(tags or {}), lakehouse_tags.TRIGGER_TYPE: TRIGGER_TYPE, lakehouse_tags.UPDATED_TABLES: ",".join(decision.updated)[:250]}
        request = dg.RunRequest(run_key=decision.run_key, run_config=dict(run_config or {}), tags=run_tags)
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _sensor
