"""Incremental refresh of a medallion table: process only the upstream commits not processed yet.

Declared on the asset (`@medallion_asset(refresh=...)`), never hand-written per table:

- `refresh="incremental"` (silver fed by an append-only bronze): the function receives
  only the rows the upstream's new commits added (Delta's change data feed between the
  version last processed and the version read now; on Sail read by delta-rs, change_feed.py); its result is merged by
  `merge_keys` (or appended). Other inputs are read whole, as a stream-static join.
- `refresh="affected_keys"` (gold aggregates per day, per customer...): the upstream
  changes (inserts, updates' pre- and post-images, deletes) name the affected values of
  `refresh_keys`; the function receives every upstream row of those keys only, and its
  result replaces exactly those keys in the table (one Delta `replaceWhere` overwrite).
- `refresh="full"` (the default): the whole table is recomputed from whole inputs.

The versions processed ride in the target's own commit (`commitInfo.userMetadata`,
after the writer's tag: `|processed={"bronze/orders": {"id": <table id>, "version": 12}}`),
so the data and the bookmark commit together: a run killed before its commit leaves the
old bookmark and the next refresh takes the same commits again; a committed one is never
taken twice. A refresh falls back to a full recompute, and says why, when the bookmark
cannot be trusted: first run, `full_refresh` asked, an upstream recreated (another table
id), a range with updates/deletes under an append-only `incremental` source, change data
missing (table created before the feed was on, or the log cleaned), or more affected keys
than `max_affected_keys`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.names import quote, validate_columns
from lakehouse_jobs.lib.tables.change_feed import CHANGE_COLUMNS, read_changes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

REFRESH_MODES = ("full", "incremental", "affected_keys")
RECORD_MARK = "|processed="
HISTORY_DEPTH = 200  # commits searched back for the bookmark; older than that -> full refresh
DEFAULT_MAX_AFFECTED_KEYS = 10_000


@dataclass(frozen=True)
class Refresh:
    """How a table asset is refreshed; validated when the asset is declared."""

    mode: str = "full"
    source: str | None = None  # `incremental`: the parameter read as a stream (default: the only input)
    keys: tuple[str, ...] = ()  # `affected_keys`: the columns whose values are recomputed together
    max_affected_keys: int = DEFAULT_MAX_AFFECTED_KEYS

    def check(self, write_mode: str, params: Sequence[str]) -> None:
        if self.mode not in REFRESH_MODES:
            raise SpecError("refresh", f"unknown refresh {self.mode!r}; expected one of {', '.join(REFRESH_MODES)}")
        if self.mode == "incremental":
            if write_mode not in ("merge", "append"):
                raise SpecError("write_mode", f"refresh 'incremental' merges or appends what is new; write_mode {write_mode!r} would replace the table")
            if self.source is None and len(params) != 1:
                raise SpecError("incremental_source", f"refresh 'incremental' with inputs {list(params)}: name the one read as a stream")
            if self.source is not None and self.source not in params:
                raise SpecError("incremental_source", f"{self.source!r} is not an upstream table parameter ({', '.join(params) or 'none'})")
        elif self.source is not None:
            raise SpecError("incremental_source", "only applies to refresh 'incremental'")
        if self.mode == "affected_keys":
            if write_mode != "overwrite":
                raise SpecError("write_mode", f"refresh 'affected_keys' replaces the affected keys; write_mode must be 'overwrite', not {write_mode!r}")
            if not self.keys:
                raise SpecError("refresh_keys", "refresh 'affected_keys' needs the key columns (e.g. ['order_date'])")
            if not params:
                raise SpecError("refresh", "refresh 'affected_keys' needs at least one upstream table")
        elif self.keys:
            raise SpecError("refresh_keys", "only applies to refresh 'affected_keys'")
        validate_columns(self.keys, "refresh_keys")
        if self.max_affected_keys < 1:
            raise SpecError("max_affected_keys", "must be at least 1")

    def stream_param(self, params: Sequence[str]) -> str:
        return self.source or params[0]


@dataclass(frozen=True)
class Upstream:
    """One upstream table as this refresh reads it: its Delta table id and the version read."""

    key: str  # 'layer/table'
    path: str
    table_id: str
    version: int


@dataclass
class Plan:
    """What this refresh does: `kind` is full | incremental | affected_keys | nothing."""

    kind: str
    reason: str
    inputs: dict[str, DataFrame] = field(default_factory=dict)
    record: dict[str, dict[str, Any]] = field(default_factory=dict)
    ranges: dict[str, str] = field(default_factory=dict)
    replace_where: str | None = None
    affected_keys: int | None = None

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"refresh": self.kind, "refresh_reason": self.reason, "upstream_versions": self.ranges}
        if self.affected_keys is not None:
            out["affected_keys"] = self.affected_keys
        return out


def upstream(key: str, path: str | Path) -> Upstream:
    """The table id and newest version of an upstream table, from its log (delta-rs, no Spark job)."""
    from deltalake import DeltaTable

    try:
        table = DeltaTable(str(path))
        return Upstream(key, str(path), table.metadata().id, table.version())
    except Exception as exc:
        raise LakehouseError(f"no Delta table for {key} at {path}: materialize its asset first.") from exc


def record_tag(record: Mapping[str, Mapping[str, Any]]) -> str:
    """What follows the writer's tag in userMetadata: the versions this commit processed."""
    return RECORD_MARK + json.dumps(record, sort_keys=True, separators=(",", ":"))


def read_record(path: str | Path) -> dict[str, dict[str, Any]] | None:
    """The bookmark of the newest commit that carries one (None: no table, or none in reach)."""
    from deltalake import DeltaTable

    try:
        history = DeltaTable(str(path)).history(HISTORY_DEPTH)
    except Exception:  # noqa: BLE001 - no table yet, or unreadable by delta-rs: a full refresh
        return None
    for commit in history:
        text = commit.get("userMetadata") or ""
        if RECORD_MARK in text:
            try:
                record = json.loads(text.split(RECORD_MARK, 1)[1])
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
    return None


def non_append_version(path: str | Path, start: int, end: int) -> int | None:
    """The first version in [start, end] whose commit changed or removed rows (None: appends only).

    Read from the commit files themselves (OPTIMIZE's removes carry dataChange=false and
    do not count); a commit file no longer in the log counts as a change (unknown)."""
    log = Path(str(path)) / "_delta_log"
    for version in range(start, end + 1):
        try:
            lines = (log / f"{version:020d}.json").read_text(encoding="utf-8").splitlines()
        except OSError:
            return version
        for line in lines:
            action = json.loads(line) if line.strip() else {}
            if "cdc" in action or ("remove" in action and action["remove"].get("dataChange", True)):
                return version
    return None


def changes(spark: SparkSession, source: Upstream, start: int, columns: Sequence[str] | None = None) -> DataFrame:
    """The change data feed of `source` from `start` to the version read now (on either engine: change_feed.py)."""
    return read_changes(spark, source.path, start, source.version, columns)


def snapshot(spark: SparkSession, source: Upstream) -> DataFrame:
    return spark.read.format("delta").option("versionAsOf", source.version).load(source.path)


def _bookmark(record: Mapping[str, Any] | None, source: Upstream) -> tuple[int | None, str]:
    """(last processed version, why not usable) of one upstream in a record."""
    if record is None:
        return None, "no earlier refresh recorded in the table"
    entry = record.get(source.key)
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), int):
        return None, f"the table's last refresh did not read {source.key}"
    if entry.get("id") != source.table_id:
        return None, f"{source.key} was recreated since the last refresh (another Delta table id)"
    if entry["version"] > source.version:
        return None, f"{source.key} is at version {source.version}, behind the recorded {entry['version']}"
    return entry["version"], ""


def plan(
    spark: SparkSession,
    refresh: Refresh,
    target: str | Path,
    sources: Mapping[str, Upstream],
    *,
    full_refresh: bool = False,
) -> Plan:
    """Decide what this refresh reads; `sources` maps each upstream parameter to its table."""
    record_now = {s.key: {"id": s.table_id, "version": s.version} for s in sources.values()}
    full = lambda reason: Plan("full", reason, {p: snapshot(spark, s) for p, s in sources.items()}, record_now)  # noqa: E731
    if refresh.mode == "full":
        return full("refresh 'full' recomputes the whole table")
    if full_refresh:
        return full("full_refresh was asked")
    record = read_record(target)
    bookmarks: dict[str, int] = {}
    for source in sources.values():
        version, why = _bookmark(record, source)
        if version is None:
            return full(why)
        bookmarks[source.key] = version
    ranges = {s.key: f"{bookmarks[s.key]} -> {s.version}" for s in sources.values()}
    if refresh.mode == "incremental":
        return _incremental(spark, refresh, sources, bookmarks, record_now, ranges, full)
    return _affected(spark, refresh, sources, bookmarks, record_now, ranges, full)


def _incremental(spark, refresh, sources, bookmarks, record_now, ranges, full) -> Plan:  # noqa: ANN001 - plan()'s parts
    stream = refresh.stream_param(list(sources))
    source = sources[stream]
    start = bookmarks[source.key] + 1
    if start > source.version:
        return Plan("nothing", f"no new commit in {source.key} since version {source.version}", record=record_now, ranges=ranges)
    changed = non_append_version(source.path, start, source.version)
    if changed is not None:
        return full(f"{source.key} version {changed} changed or removed rows (an incremental source must only be appended to)")
    try:
        new_rows = changes(spark, source, start).drop(*CHANGE_COLUMNS)
        new_rows.schema  # noqa: B018 - resolves the feed now: missing change data falls back here, not mid-write
    except Exception as exc:  # noqa: BLE001 - the feed was off or cleaned for part of the range
        return full(f"no change data feed for {source.key} versions {start}..{source.version} ({_first_line(exc)})")
    inputs = {p: (new_rows if p == stream else snapshot(spark, s)) for p, s in sources.items()}
    return Plan("incremental", f"{source.key} versions {start}..{source.version}", inputs, record_now, ranges)


def _affected(spark, refresh, sources, bookmarks, record_now, ranges, full) -> Plan:  # noqa: ANN001 - plan()'s parts
    keys = list(refresh.keys)
    keyed = {p: s for p, s in sources.items() if _has_columns(spark, s, keys)}
    if not keyed:
        return full(f"no upstream table has the refresh keys {keys}")
    for param, source in sources.items():
        if param not in keyed and bookmarks[source.key] != source.version:
            return full(f"{source.key} changed and has no column {keys}: its changes cannot be narrowed to keys")
    moved = {p: s for p, s in keyed.items() if bookmarks[s.key] < s.version}
    if not moved:
        return Plan("nothing", "no upstream commit since the last refresh", record=record_now, ranges=ranges)
    affected = None
    try:
        for source in moved.values():
            part = changes(spark, source, bookmarks[source.key] + 1, keys).select(*[quote(k) for k in keys])
            affected = part if affected is None else affected.unionByName(part)
        rows = affected.distinct().limit(refresh.max_affected_keys + 1).collect()
    except Exception as exc:  # noqa: BLE001 - the feed was off or cleaned for part of the range
        return full(f"no change data feed for the range ({_first_line(exc)})")
    if len(rows) > refresh.max_affected_keys:
        return full(f"more than {refresh.max_affected_keys} keys changed")
    predicate = key_predicate(keys, [tuple(r) for r in rows])
    inputs = {p: (snapshot(spark, s).filter(predicate) if p in keyed else snapshot(spark, s)) for p, s in sources.items()}
    reason = ", ".join(f"{s.key} versions {bookmarks[s.key] + 1}..{s.version}" for s in moved.values())
    return Plan("affected_keys", reason, inputs, record_now, ranges, replace_where=predicate, affected_keys=len(rows))


def _has_columns(spark: SparkSession, source: Upstream, columns: Sequence[str]) -> bool:
    names = set(snapshot(spark, source).columns)
    return all(c in names for c in columns)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def sql_literal(value: Any) -> str:
    """A key value as a SQL literal; key columns are strings, integers, booleans, decimals or dates."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return f"{value}BD"
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, dt.datetime):
        raise LakehouseError("refresh_keys: a timestamp column cannot be a refresh key (its value depends on the session time zone); use a date or string")
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise LakehouseError(f"refresh_keys: values of type {type(value).__name__} cannot be a refresh key")


def key_predicate(keys: Sequence[str], values: Sequence[tuple[Any, ...]]) -> str:
    """A SQL condition true exactly for rows whose `keys` equal one of `values` (NULL matches NULL)."""
    if not values:
        return "FALSE"
    if len(keys) == 1:
        present = sorted({v[0] for v in values if v[0] is not None}, key=repr)
        parts = [f"{quote(keys[0])} IN ({', '.join(sql_literal(v) for v in present)})"] if present else []
        if any(v[0] is None for v in values):
            parts.append(f"{quote(keys[0])} IS NULL")
        return " OR ".join(parts)
    rows = [" AND ".join(f"{quote(k)} <=> {'NULL' if v is None else sql_literal(v)}" for k, v in zip(keys, row, strict=True)) for row in values]
    return " OR ".join(f"({r})" for r in rows)
