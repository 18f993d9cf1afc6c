"""Which Delta tables under the lakehouse root got commits tagged with a given identity.

Observed lineage reads what really happened (the Delta logs), not what code says it
does: every commit a task attempt makes carries the attempt's identity in its
`commitInfo.userMetadata` (see lakehouse_jobs/lib/jobs/lineage.py), and this module
finds those commits after the attempt.

The scan is cheap by construction: a folder holding `_delta_log/` is a table (its
data folders are not entered), a table whose `_delta_log` folder was not modified
since the attempt started is skipped on one stat, and in a modified one only the
newest commit files are read, newest first, until one is older than the start.
Folders whose name starts with `.` or `_` (`_system`, `_checkpoints`, hidden
folders) are not entered, and symbolic links are never followed, so nothing outside
the root is read.

Asset key rule: a table's key is its path relative to the root, one part per folder:
`<root>/<layer>/<table>` (the medallion layout) is `<layer>/<table>`, the key the
declared medallion assets use, so observed and declared materializations meet on
the same asset; a deeper path keeps all its parts (`<root>/a/b/c` is `a/b/c`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.tables.delta_rs_write import spark_metrics

DELTA_LOG = "_delta_log"
# Filesystem timestamps may be coarser than time.time(): look this much before the start
# (an extra candidate costs one small read; the identity check decides).
MTIME_SLACK_S = 2.0


@dataclass(frozen=True)
class Commit:
    """One Delta commit: its table, version and the parts of its commitInfo lineage reports."""

    table: Path
    version: int
    operation: str | None
    user_metadata: str | None
    rows: int | None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableWrite:
    """Everything one identity committed to one table: the key, newest version, rows over its commits."""

    table: Path
    key: tuple[str, ...]
    commits: list[Commit]

    @property
    def version(self) -> int:
        return max(c.version for c in self.commits)

    @property
    def operation(self) -> str | None:
        return max(self.commits, key=lambda c: c.version).operation

    @property
    def rows(self) -> int | None:
        counted = [c.rows for c in self.commits if c.rows is not None]
        return sum(counted) if counted else None


def _entered(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith((".", "_")) and entry.is_dir(follow_symlinks=False)


def delta_tables(root: Path) -> Iterator[Path]:
    """Every Delta table folder under `root` (not following links, not entering `.`/`_` folders or tables)."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # removed or unreadable while scanning: not a table we can report
            continue
        if any(entry.name == DELTA_LOG and entry.is_dir(follow_symlinks=False) for entry in entries):
            if folder != root:
                yield folder
            continue
        pending.extend(Path(entry.path) for entry in entries if _entered(entry))


def _version(name: str) -> int | None:
    stem, dot, ext = name.partition(".")
    return int(stem) if ext == "json" and dot and stem.isdigit() else None


def commits_since(table: Path, since: float) -> list[Commit]:
    """The table's commits whose files were written at or after `since` (epoch seconds), oldest first."""
    log = table / DELTA_LOG
    try:
        if log.stat().st_mtime < since - MTIME_SLACK_S:
            return []
        names = [(v, name) for name in os.listdir(log) if (v := _version(name)) is not None]
    except OSError:
        return []
    found: list[Commit] = []
    for version, name in sorted(names, reverse=True):
        path = log / name
        try:
            if path.stat().st_mtime < since - MTIME_SLACK_S:
                break
            commit = read_commit(table, version, path)
        except (OSError, ValueError):  # a commit file being replaced or not JSON: not this writer's
            continue
        found.append(commit)
    return found[::-1]


def read_commit(table: Path, version: int, path: Path) -> Commit:
    """The commitInfo action of one commit file (a JSON object per line)."""
    info: dict[str, Any] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if '"commitInfo"' in line:
                info = json.loads(line).get("commitInfo") or {}
                break
    metrics = spark_metrics(info.get("operationMetrics") or {})  # a delta-rs commit's too
    rows = metrics.get("numOutputRows")
    return Commit(
        table=table,
        version=version,
        operation=info.get("operation"),
        user_metadata=info.get("userMetadata"),
        rows=int(rows) if isinstance(rows, (int, str)) and str(rows).isdigit() else None,
        metrics=dict(metrics),
    )


def asset_key(root: Path, table: Path) -> tuple[str, ...]:
    """The table's asset key: its folders relative to the root (`<layer>/<table>` in the medallion layout)."""
    return table.relative_to(root).parts


def tables_written(root: Path | str, since: float, identity: str) -> list[TableWrite]:
    """The tables under `root` with commits tagged `identity` written since `since`, by key.

    Not cached: a scan of 200 tables (none written) takes ~6 ms, so every attempt rescans
    and sees tables created since the last one."""
    base = Path(root)
    if not base.is_dir():
        return []
    writes: list[TableWrite] = []
    for table in delta_tables(base):
        mine = [c for c in commits_since(table, since) if c.user_metadata == identity]
        if mine:
            writes.append(TableWrite(table, asset_key(base, table), mine))
    return sorted(writes, key=lambda w: w.key)
