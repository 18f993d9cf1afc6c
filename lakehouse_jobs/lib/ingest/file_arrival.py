"""File-arrival trigger: a Dagster sensor over a landing folder (Databricks `trigger.file_arrival`).

Each tick lists the folder recursively (hidden and `_`-prefixed files and folders
are skipped, so producers can write `_tmp`/`.part` files and rename them when
done) and keeps its progress in the sensor's durable cursor:

- `hw`: a watermark on the files' ctime (inode change time, set by the kernel when a
  file is created, written or renamed into place, never copied from elsewhere);
  files changed before it were seen by an earlier tick. The watermark trails the
  listing's start by `LAG_SECONDS` so a file appearing while a tick lists is never
  skipped;
- `recent`: files already triggered whose ctime is still above the watermark;
- `pending`: new files waiting for the timers.

So the cursor stays small however many files were already ingested, and a tick's
work is the listing itself. A file rewritten after the watermark passed it looks
like a new arrival and fires the trigger again; the ingestion it launches does not
re-ingest a path it already holds (Auto Loader's default).

Timers, as Databricks defines them but allowed below its 60 s minimum:
`wait_after_last_change_seconds` (debounce: each new or changed file restarts the
wait) and `min_time_between_triggers_seconds` (files keep accumulating meanwhile).
A batch is launched with `run_key=<sensor>:<batch>:<digest>`, so a tick replayed
after a crash launches it at most once.

Coalescing (`ingested_files=`, for an ingestion whose runs take every settled file,
`catch_up`): a new file is left to one of the sensor's runs that has not started its
step yet, or started it after the file appeared (its listing sees the file), instead of
launching a run of its own; when that run has ended, files its commit holds are dropped
and only the rest are launched. A stream of N files then costs a few runs, not N
process starts that find their files already taken.

Dagster's sensor daemon evaluates sensors about every 5 s at best, so a timer due
within `IN_TICK_WAIT_SECONDS` is waited out inside the tick (the folder is listed
again) instead of costing a whole loop.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.ingest.discovery import scan
from lakehouse_jobs.lib.uris import local_path

LAG_SECONDS = 2.0
RUN_KEY_TAG = lakehouse_tags.DAGSTER_RUN_KEY
SENSOR_NAME_TAG = lakehouse_tags.DAGSTER_SENSOR_NAME
IN_TICK_WAIT_SECONDS = 2.0
TRIGGER_TYPE_TAG = lakehouse_tags.TRIGGER_TYPE
LOCATION_TAG = lakehouse_tags.FILE_ARRIVAL_LOCATION
FILE_COUNT_TAG = lakehouse_tags.FILE_ARRIVAL_FILES


def location_path(location: str | Path) -> Path:
    """A local folder from a path or a `file://` URL (other schemes are refused clearly)."""
    return local_path(location).expanduser().absolute()


@dataclass
class ArrivalState:
    """The sensor's cursor: see the module docstring."""

    hw: float = float("-inf")
    recent: dict[str, float] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)
    last_trigger: float = float("-inf")
    batch: int = 0
    inflight: dict[str, list[str]] = field(default_factory=dict)  # run key -> files, until its run ends (redelivery on)
    attempts: dict[str, int] = field(default_factory=dict)  # file -> times it was offered again after a failed run

    def to_cursor(self) -> str:
        data = {"v": 1, "hw": _num(self.hw), "recent": self.recent, "pending": self.pending, "last_trigger": _num(self.last_trigger), "batch": self.batch}
        if self.inflight or self.attempts:
            data.update(inflight=self.inflight, attempts=self.attempts)
        return json.dumps(data)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> ArrivalState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(
            hw=_unnum(data.get("hw")),
            recent=dict(data.get("recent", {})),
            pending=dict(data.get("pending", {})),
            last_trigger=_unnum(data.get("last_trigger")),
            batch=int(data.get("batch", 0)),
            inflight={str(k): list(v) for k, v in data.get("inflight", {}).items()},
            attempts={str(k): int(v) for k, v in data.get("attempts", {}).items()},
        )


def _num(value: float) -> float | None:
    return None if value == float("-inf") else value


def _unnum(value: float | None) -> float:
    return float("-inf") if value is None else float(value)


@dataclass
class Decision:
    """What one tick decided: the new state, and the batch to launch (or why not)."""

    state: ArrivalState
    files: list[str]
    reason: str = ""
    wait_s: float = 0.0  # when a timer holds the batch back: how long until it may fire


def decide(
    state: ArrivalState,
    listing: dict[str, float],
    *,
    listed_at: float,
    now: float,
    min_time_between_triggers_seconds: float = 0,
    wait_after_last_change_seconds: float = 0,
    takers: Sequence[float] = (),
) -> Decision:
    """Pure tick logic (no I/O), so the timers are testable to the millisecond.

    `takers`: when each unfinished run that lists the folder itself started (or will: inf);
    a file that changed before one of them stays pending, left to that run."""
    pending = {rel: ctime for rel, ctime in state.pending.items() if rel in listing}
    for rel, ctime in listing.items():
        if rel in pending:
            pending[rel] = max(pending[rel], ctime)  # still being written: restarts the wait
        elif ctime > state.hw and rel not in state.recent:
            pending[rel] = ctime
    hw = max(state.hw, listed_at - LAG_SECONDS)
    recent = {rel: ctime for rel, ctime in state.recent.items() if ctime > hw}
    new = ArrivalState(
        hw=hw, recent=recent, pending=pending, last_trigger=state.last_trigger, batch=state.batch, inflight=state.inflight, attempts=state.attempts
    )
    if not pending:
        return Decision(new, [], "no new files")
    quiet_for = now - max(pending.values())
    if quiet_for < wait_after_last_change_seconds:
        left = wait_after_last_change_seconds - quiet_for
        return Decision(new, [], f"{len(pending)} new file(s); waiting {left:.1f}s more after the last change", left)
    since_trigger = now - state.last_trigger
    if since_trigger < min_time_between_triggers_seconds:
        left = min_time_between_triggers_seconds - since_trigger
        return Decision(new, [], f"{len(pending)} new file(s); next trigger allowed in {left:.1f}s", left)
    left = {rel: ctime for rel, ctime in pending.items() if any(t > ctime for t in takers)}
    if len(left) == len(pending):
        return Decision(new, [], f"{len(pending)} new file(s) left to a run that lists the folder after they landed")
    ready = {rel: ctime for rel, ctime in pending.items() if rel not in left}
    files = sorted(ready)
    new.recent.update({rel: ctime for rel, ctime in ready.items() if ctime > hw})
    new.pending = left
    new.last_trigger = now
    new.batch += 1
    return Decision(new, files)


ENDED_BADLY = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def redeliver(state: ArrivalState, instance: dg.DagsterInstance, listing: dict[str, float], now: float, max_attempts: int) -> list[str]:
    """Put the files of this sensor's runs that ended FAILED/CANCELED back into `pending` (a new batch).

    A run killed with its worker (marked FAILED by run monitoring, see jobs/run_launcher.py) never
    ingested its batch, and the cursor had already moved past those files. The run that ingests
    them again skips what a Delta commit already holds (the manifest decides, not this cursor).
    A file is offered again at most `max_attempts` times; the lines returned say what happened.
    """
    said = []
    for key, files in list(state.inflight.items()):
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: key}), limit=1)
        if not runs or runs[0].status not in (dg.DagsterRunStatus.SUCCESS, *ENDED_BADLY):
            continue  # not created yet, queued or running
        del state.inflight[key]
        if runs[0].status == dg.DagsterRunStatus.SUCCESS:
            for rel in files:
                state.attempts.pop(rel, None)
            continue
        again = [rel for rel in files if rel in listing and state.attempts.get(rel, 0) < max_attempts]
        for rel in again:
            state.attempts[rel] = state.attempts.get(rel, 0) + 1
            state.pending[rel] = max(now, listing[rel])
        given_up = [rel for rel in files if rel in listing and rel not in again]
        if again:
            said.append(f"run {runs[0].run_id} ended {runs[0].status.value}: offering its {len(again)} file(s) again")
        if given_up:
            said.append(
                f"run {runs[0].run_id} ended {runs[0].status.value}: {len(given_up)} file(s) already offered {max_attempts} time(s) are left for a manual run ({', '.join(given_up[:3])})"
            )
            for rel in given_up:
                state.attempts.pop(rel, None)
    return said


UNFINISHED = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


def takers(instance: dg.DagsterInstance, sensor_name: str, job_name: str) -> list[float]:
    """When each of this sensor's unfinished runs started its first step (inf: not yet).

    A step's listing of the folder comes after its STEP_START (which a pool slot delays),
    so a file that changed before that moment is in the listing."""
    found = []
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=list(UNFINISHED), tags={SENSOR_NAME_TAG: sensor_name}), limit=20)
    for run in runs:
        started = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1).records
        found.append(started[0].event_log_entry.timestamp if started else float("inf"))
    return found


def run_key(name: str, batch: int, files: list[str]) -> str:
    digest = hashlib.sha1("\n".join(files).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{name}:{batch}:{digest}"


def file_arrival_sensor(
    *,
    name: str,
    location: str | Path,
    job_name: str,
    min_time_between_triggers_seconds: float = 0,
    wait_after_last_change_seconds: float = 0,
    minimum_interval_seconds: int = 1,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    run_config_for_files: Callable[[list[str], str], dict] | None = None,
    tags: dict | None = None,
    description: str | None = None,
    redeliver_failed: int = 0,
    ingested_files: Callable[[], Collection[str]] | None = None,
    on_new_files: Callable[[], object] | None = None,
) -> dg.SensorDefinition:
    """A sensor launching `job_name` once per batch of new files below `location`.

    `run_config_for_files(files, location)` builds the run's config from the batch's
    absolute file paths; the run is tagged with the trigger type and location.
    `redeliver_failed`: offer the files of a run that ended FAILED or CANCELED again, up to this
    many times each (ingestion: its run skips what is already committed); 0 = never, as a
    Databricks file-arrival trigger does.
    `ingested_files()`: the names (relative to `location`) the target already holds; given, the
    sensor coalesces (module docstring). Only for jobs whose runs take every settled file.
    `on_new_files()`: called by a tick that sees new files, before its timers run out (e.g.
    `SparkResource.prestart_job_cluster`: the JVM starts while the batch settles and its run
    launches); an error there is a warning, never a lost arrival.
    """
    for label, value in (
        ("min_time_between_triggers_seconds", min_time_between_triggers_seconds),
        ("wait_after_last_change_seconds", wait_after_last_change_seconds),
    ):
        if value < 0:
            raise SpecError(label, f"must be >= 0, got {value}")
    folder = location_path(location)
    shown = str(location)

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=description or f"Launches {job_name} when new files land below {shown}.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        decision = Decision(ArrivalState.from_cursor(context.cursor), [])
        busy = takers(context.instance, name, job_name) if ingested_files else []
        waited = 0.0
        first = hook_due = True
        while True:
            listed_at = time.time()
            listing = dict(scan(folder))
            if first and redeliver_failed and decision.state.inflight:
                for line in redeliver(decision.state, context.instance, listing, listed_at, redeliver_failed):
                    context.log.warning(line)
            first = False
            decision = decide(
                decision.state,
                listing,
                listed_at=listed_at,
                now=time.time(),
                min_time_between_triggers_seconds=min_time_between_triggers_seconds,
                wait_after_last_change_seconds=wait_after_last_change_seconds,
                takers=busy,
            )
            if on_new_files and hook_due and (decision.files or decision.state.pending):
                hook_due = False
                _call_quietly(on_new_files, context.log)
            if decision.files or not decision.wait_s or waited + decision.wait_s > IN_TICK_WAIT_SECONDS:
                break
            time.sleep(decision.wait_s + 0.05)  # then list again: a file still changing restarts the wait
            waited += decision.wait_s + 0.05
        if decision.files and ingested_files:
            decision.files, decision.reason = _not_ingested(decision.files, ingested_files, context.log)
        cursor = decision.state.to_cursor()
        if not decision.files:
            return dg.SensorResult(skip_reason=decision.reason, cursor=cursor)
        paths = [str(folder / rel) for rel in decision.files]
        config = run_config_for_files(paths, shown) if run_config_for_files else {}
        key = run_key(name, decision.state.batch, decision.files)
        if redeliver_failed:
            decision.state.inflight[key] = list(decision.files)
            cursor = decision.state.to_cursor()
        request = dg.RunRequest(
            run_key=key,
            run_config=config,
            tags={**(tags or {}), TRIGGER_TYPE_TAG: "file_arrival", LOCATION_TAG: shown, FILE_COUNT_TAG: str(len(paths))},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _sensor


def _not_ingested(files: list[str], ingested_files: Callable[[], Collection[str]], log: Any) -> tuple[list[str], str]:
    """`files` minus those an earlier run already committed (a run that took them while they waited)."""
    try:
        done = set(ingested_files())
    except Exception as exc:  # noqa: BLE001 - an unreadable table must not stop arrivals: its runs report it
        log.warning(f"could not read which files are already ingested ({type(exc).__name__}: {exc}); launching the batch")
        return files, ""
    rest = [rel for rel in files if rel not in done]
    return rest, (f"{len(files)} new file(s) already ingested by an earlier run" if not rest else "")


def _call_quietly(hook: Callable[[], object], log: Any) -> None:
    try:
        hook()
    except Exception as exc:  # noqa: BLE001 - a warm-up that fails must not stop arrivals: the run reports the problem itself
        log.warning(f"on_new_files failed ({type(exc).__name__}: {exc}); the batch launches anyway")
