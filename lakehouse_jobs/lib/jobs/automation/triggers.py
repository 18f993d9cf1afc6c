"""Databricks `trigger` and `continuous` -> Dagster sensors.

- table_update: watches Delta table versions under the lakehouse root. A
  version is the newest commit file name in the table's `_delta_log` (one
  directory listing, no Spark); the commit file's mtime is when it changed.
  The cursor holds the versions the last run was triggered for, so a restart
  neither loses nor repeats an update.
- periodic: every `interval` HOURS/DAYS/WEEKS from the first tick (cursor =
  when the last run was requested).
- continuous: "always one run" — a new run as soon as none of the job is
  queued or in progress.
- file_arrival: the landing-folder sensor of lakehouse_jobs.lib.ingest.file_arrival.

Runs carry `lakehouse_jobs/trigger.type` (table_update|periodic|continuous|
file_arrival) for `{{job.trigger.type}}`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor, location_path
from lakehouse_jobs.lib.jobs.automation.fields import Problems, at, checked, choice, integer, paused
from lakehouse_jobs.lib.jobs.automation.schedules import trigger_tags
from lakehouse_jobs.lib.jobs.concurrency import ACTIVE_STATUSES, ConcurrencyPolicy, concurrency_policy
from lakehouse_jobs.lib.jobs.fields import unknown as unknown_fields
from lakehouse_jobs.lib.names import validate_layer, validate_table_name
from lakehouse_jobs.lib.tables.lakehouse import confine

UNITS = {"HOURS": 3600, "DAYS": 86400, "WEEKS": 604800}
CONDITIONS = ("ANY_UPDATED", "ALL_UPDATED")
WAITS = ("min_time_between_triggers_seconds", "wait_after_last_change_seconds")
UPDATED_TABLES_TAG = lakehouse_tags.UPDATED_TABLES
INTERVAL_ENV = "LAKEHOUSE_JOBS_SENSOR_INTERVAL_SECONDS"


def sensor_interval(default: int) -> int:
    """Seconds between ticks: `default`, or $LAKEHOUSE_JOBS_SENSOR_INTERVAL_SECONDS when set."""
    value = os.environ.get(INTERVAL_ENV)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SpecError(INTERVAL_ENV, f"must be a whole number of seconds >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class FileArrival:
    url: str
    min_time_between_triggers_seconds: int = 0
    wait_after_last_change_seconds: int = 0


@dataclass(frozen=True)
class TableUpdate:
    table_names: tuple[str, ...]
    condition: str = "ANY_UPDATED"
    min_time_between_triggers_seconds: int = 0
    wait_after_last_change_seconds: int = 0


@dataclass(frozen=True)
class Periodic:
    interval: int
    unit: str


@dataclass(frozen=True)
class TriggerSection:
    """A checked `trigger`: its one kind, that kind's fields, and whether it starts paused."""

    kind: str
    body: FileArrival | TableUpdate | Periodic
    paused: bool


@dataclass(frozen=True)
class ContinuousSection:
    paused: bool


def _waits(problems: Problems, body: Mapping, where: str) -> dict[str, int]:
    return {name: integer(problems, body, name, where, low=0, default=0) for name in WAITS}


def _location_form(problems: Problems, location: str, path: str) -> None:
    """Root-independent checks of a table name or folder (the root is known only when compiling)."""
    try:
        if "/" in location or "\\" in location:
            location_path(location)
            return
        parts = location.split(".")
        if len(parts) == 3:  # catalog.schema.table (lib/catalog/names.py's rule)
            for part in parts:
                validate_table_name(part, path)
            return
        if len(parts) != 2:
            raise SpecError(path, f"{location!r}: expected <layer>.<table> or <catalog>.<schema>.<table>, e.g. 'silver.orders'")
        validate_layer(parts[0], path)
        validate_table_name(parts[1], path)
    except SpecError as error:
        problems.append((path, error.message))


def _file_arrival(problems: Problems, body: Mapping, where: str) -> FileArrival:
    unknown_fields(problems, body, where, {"url", *WAITS})
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        problems.append((at(where, "url"), "expected a folder under the lakehouse root, e.g. 'landing/orders'"))
        url = ""
    else:
        try:
            if not url.startswith("dbfs:/Volumes/"):  # a volume path maps under the root when compiled
                location_path(url)
        except SpecError as error:
            problems.append((at(where, "url"), error.message))
    return FileArrival(url, **_waits(problems, body, where))


def _table_update(problems: Problems, body: Mapping, where: str) -> TableUpdate:
    unknown_fields(problems, body, where, {"table_names", "condition", *WAITS})
    names = body.get("table_names")
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        problems.append((at(where, "table_names"), "expected a non-empty list of tables ('silver.orders' or paths under the lakehouse root)"))
        names = []
    for index, name in enumerate(names):
        _location_form(problems, name, f"{where}.table_names[{index}]")
    condition = choice(problems, body, "condition", where, CONDITIONS, "ANY_UPDATED")
    return TableUpdate(tuple(names), condition, **_waits(problems, body, where))


def _periodic(problems: Problems, body: Mapping, where: str) -> Periodic:
    unknown_fields(problems, body, where, {"interval", "unit"})
    return Periodic(integer(problems, body, "interval", where, low=1), choice(problems, body, "unit", where, tuple(UNITS)))


KINDS = {"file_arrival": _file_arrival, "table_update": _table_update, "periodic": _periodic}


def parse_trigger(trigger: object, path: str = "trigger") -> tuple[TriggerSection | None, Problems]:
    """The one reader of a `trigger` section: `validate` reports its problems, compile_trigger raises them."""
    if not isinstance(trigger, Mapping):
        return None, [(path, "expected one of file_arrival, table_update, periodic")]
    problems: Problems = []
    unknown_fields(problems, trigger, path, {*KINDS, "pause_status"})
    is_paused = paused(problems, trigger, path)
    kinds = [kind for kind in KINDS if kind in trigger]
    if len(kinds) != 1:
        problems.append((path, f"a trigger has exactly one of file_arrival, table_update, periodic; found {', '.join(kinds) or 'none'}"))
        return None, problems
    kind = kinds[0]
    body, where = trigger[kind], at(path, kind)
    if not isinstance(body, Mapping):
        problems.append((where, "expected an object"))
        return None, problems
    return TriggerSection(kind, KINDS[kind](problems, body, where), is_paused), problems


def parse_continuous(continuous: object, path: str = "continuous") -> tuple[ContinuousSection | None, Problems]:
    """The one reader of a `continuous` section (task_retry_mode is accepted and ignored)."""
    if not isinstance(continuous, Mapping):
        return None, [(path, "expected {pause_status}")]
    problems: Problems = []
    unknown_fields(problems, continuous, path, {"pause_status", "task_retry_mode"})
    return ContinuousSection(paused(problems, continuous, path)), problems


def _sensor_status(is_paused: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.STOPPED if is_paused else dg.DefaultSensorStatus.RUNNING


def _inside_root(root: Path, location: str, path: str) -> Path:
    """A checked folder or table path (relative to root, absolute or file://), refused unless inside root."""
    if location.startswith(("/Volumes/", "dbfs:/Volumes/")):  # a Unity Catalog volume: <root>/volumes/<c>/<s>/<v>/...
        from lakehouse_jobs.lib.catalog.names import volume_path

        try:
            return confine(root, volume_path(location, root), path)
        except SpecError as error:
            raise SpecError(path, error.message) from None
    candidate = location_path(location)
    return confine(root, candidate if Path(location).is_absolute() or "://" in location else root / location, path)


def table_location(name: str, root: Path, path: str) -> Path:
    """A checked table name -> <root>/<layer>/<table>, or its path inside root."""
    if "/" in name or "\\" in name:
        return _inside_root(root, name, path)
    if name.count(".") == 2:
        from lakehouse_jobs.lib.catalog.names import table_path

        return confine(root, table_path(name, root), path)
    layer, table = name.split(".")
    return root / layer / table


def delta_version(table: Path) -> tuple[int, float] | None:
    """(latest version, its commit time) from `_delta_log` file names; None if no table yet."""
    latest, mtime = -1, 0.0
    try:
        with os.scandir(table / "_delta_log") as entries:
            for entry in entries:
                stem, dot, ext = entry.name.partition(".")
                if ext == "json" and len(stem) == 20 and stem.isdigit() and int(stem) > latest:
                    latest, mtime = int(stem), entry.stat().st_mtime
    except FileNotFoundError:
        return None
    return (latest, mtime) if latest >= 0 else None


def _table_update_sensor(
    name: str, job_name: str, section: TableUpdate, *, root: Path, path: str, status: dg.DefaultSensorStatus, tags: dict[str, str], policy: ConcurrencyPolicy
) -> dg.SensorDefinition:
    tables = {table: table_location(table, root, f"{path}.table_names[{i}]") for i, table in enumerate(section.table_names)}
    condition = section.condition
    min_between, wait_after = section.min_time_between_triggers_seconds, section.wait_after_last_change_seconds

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(30),
        default_status=status,
        description=f"Runs {job_name} when {condition} of {', '.join(tables)}.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        state = json.loads(context.cursor) if context.cursor else None
        now = time.time()
        current = {table: delta_version(location) for table, location in tables.items()}
        versions = {table: (v[0] if v else -1) for table, v in current.items()}
        if state is None:  # first tick: the baseline, updates after it trigger
            return dg.SensorResult(skip_reason="baseline recorded", cursor=json.dumps({"versions": versions, "last_trigger": 0}))
        updated = [t for t in tables if versions[t] > state["versions"].get(t, -1)]
        if not updated or (condition == "ALL_UPDATED" and len(updated) < len(tables)):
            waiting = [t for t in tables if t not in updated]
            return dg.SkipReason(f"no update of {', '.join(waiting)} yet" if updated else "no table updated")
        last_change = max(current[t][1] for t in updated)
        if now - last_change < wait_after:
            return dg.SkipReason(f"waiting {wait_after:.0f}s after the last change")
        if now - state["last_trigger"] < min_between:
            return dg.SkipReason(f"less than {min_between:.0f}s since the last triggered run")
        cursor = json.dumps({"versions": versions, "last_trigger": now})
        reason = policy.skip_reason(context.instance, job_name)
        if reason:
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        key = "table_update:" + ",".join(f"{t}={versions[t]}" for t in sorted(tables))
        request = dg.RunRequest(run_key=key, tags={**tags, UPDATED_TABLES_TAG: ",".join(updated)[:250]})
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _sensor


def _periodic_sensor(
    name: str, job_name: str, section: Periodic, *, status: dg.DefaultSensorStatus, tags: dict[str, str], policy: ConcurrencyPolicy
) -> dg.SensorDefinition:
    interval, unit = section.interval, section.unit
    every = interval * UNITS[unit]

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(30),
        default_status=status,
        description=f"Runs {job_name} every {interval} {unit.lower()}.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        now = time.time()
        last = float(context.cursor) if context.cursor else None
        if last is not None and now - last < every:
            return dg.SkipReason(f"next run in {every - (now - last):.0f}s")
        reason = policy.skip_reason(context.instance, job_name)
        if reason:
            return dg.SensorResult(skip_reason=reason, cursor=str(now))
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"periodic:{now:.0f}", tags=tags)], cursor=str(now))

    return _sensor


def compile_trigger(job_name: str, trigger: Mapping, *, job_key: str, lakehouse_root: str | Path, job: Mapping | None = None) -> dg.SensorDefinition:
    """The sensor for a Databricks `trigger` object (exactly one of file_arrival/table_update/periodic)."""
    root = Path(lakehouse_root).expanduser().resolve()
    section = checked(parse_trigger(trigger))
    policy = concurrency_policy(job or {}, job_key=job_key)
    status, tags = _sensor_status(section.paused), {**policy.tags, **trigger_tags(section.kind, job_key)}
    name, path, body = f"{job_name}_{section.kind}", f"trigger.{section.kind}", section.body
    if isinstance(body, TableUpdate):
        return _table_update_sensor(name, job_name, body, root=root, path=path, status=status, tags=tags, policy=policy)
    if isinstance(body, Periodic):
        return _periodic_sensor(name, job_name, body, status=status, tags=tags, policy=policy)
    return file_arrival_sensor(
        name=name,
        location=_inside_root(root, body.url, f"{path}.url"),
        job_name=job_name,
        min_time_between_triggers_seconds=body.min_time_between_triggers_seconds,
        wait_after_last_change_seconds=body.wait_after_last_change_seconds,
        default_status=status,
        tags=tags,
    )


BACKOFF_WINDOW = 10
BACKOFF_BASE, BACKOFF_MAX = 10.0, 600.0


def backoff_seconds(recent_runs: Sequence[dg.DagsterRun], now: float) -> float:
    """Seconds left before restarting a continuous job after consecutive failures (newest run first).

    10 s after one failure, doubling per further failure, at most 10 min; a
    success resets it. (Databricks also backs off; its exact delays are not public.)
    """
    failures = 0
    for record in recent_runs:
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failures += 1
    if not failures or recent_runs[0].end_time is None:
        return 0.0
    delay = min(BACKOFF_BASE * 2 ** (failures - 1), BACKOFF_MAX)
    return max(0.0, recent_runs[0].end_time + delay - now)


def compile_continuous(job_name: str, continuous: Mapping, *, job_key: str, job: Mapping | None = None) -> dg.SensorDefinition:
    """ "Always one run": launch the job whenever none of its runs is queued or in progress."""
    status = _sensor_status(checked(parse_continuous(continuous)).paused)
    tags = {**concurrency_policy(job or {}, job_key=job_key).tags, **trigger_tags("continuous", job_key)}

    @dg.sensor(
        name=f"{job_name}_continuous",
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(5),
        default_status=status,
        description=f"Keeps one run of {job_name} going.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        if context.instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.NOT_STARTED, *ACTIVE_STATUSES]), limit=1):
            return dg.SkipReason("a run is already active")
        recent = context.instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=BACKOFF_WINDOW)
        wait = backoff_seconds(recent, time.time())
        if wait > 0:
            return dg.SkipReason(f"{job_name} keeps failing: next run in {wait:.0f}s (back-off)")
        after = recent[0].dagster_run.run_id if recent else "none"
        return dg.RunRequest(run_key=f"continuous:after:{after}", tags=tags)  # one new run per finished run

    return _sensor
