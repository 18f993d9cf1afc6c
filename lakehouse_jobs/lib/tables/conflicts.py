"""Delta write conflicts: classify them, retry the retryable ones with backoff, explain the rest in one sentence.

Delta commits optimistically: a writer reads a snapshot, writes files, then commits
only if no concurrent commit invalidated what it read (docs.delta.io, "Concurrency
control"). When one did, the write fails with a `ConcurrentModificationException`
and commits nothing, so running the whole write again against the new snapshot is
exactly-once safe: the failed attempt left no commit behind.

Retried (re-running the write reads the table again): `ConcurrentAppendException`,
`ConcurrentDeleteReadException`, `ConcurrentDeleteDeleteException`,
`MetadataChangedException`, `ConcurrentWriteException` and `ProtocolChangedException`
(two writers creating the same empty directory: the loser finds the table on retry).
Never retried: `ConcurrentTransactionException`, two copies of one idempotent writer
(same `txnAppId`), where a retry would only race its twin again. Sail reports every lost
commit as "Failed to commit transaction: <n>" and delta-rs raises `CommitFailedError`; both
commit nothing: retried too.

A conflict that is not retried, or still conflicts after the last attempt, becomes a
`WriteConflictError`: one sentence naming the table and, when the conflicting commit's
`commitInfo.userMetadata` carries it, the Dagster run that won; never the JVM trace.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lakehouse_jobs.lib.errors import LakehouseError

T = TypeVar("T")

ATTEMPTS_ENV = "LAKEHOUSE_DELTA_WRITE_ATTEMPTS"
DEFAULT_ATTEMPTS = 5
BASE_DELAY_S = 0.25
MAX_DELAY_S = 8.0

# Delta exception class -> (error class prefix, retryable)
KINDS: dict[str, tuple[str, bool]] = {
    "ConcurrentAppendException": ("DELTA_CONCURRENT_APPEND", True),
    "ConcurrentDeleteReadException": ("DELTA_CONCURRENT_DELETE_READ", True),
    "ConcurrentDeleteDeleteException": ("DELTA_CONCURRENT_DELETE_DELETE", True),
    "MetadataChangedException": ("DELTA_METADATA_CHANGED", True),
    "ConcurrentWriteException": ("DELTA_CONCURRENT_WRITE", True),
    "ProtocolChangedException": ("DELTA_PROTOCOL_CHANGED", True),
    "ConcurrentTransactionException": ("DELTA_CONCURRENT_TRANSACTION", False),
}
SAIL_CONFLICT = "SailCommitConflict"  # Sail names no conflict class nor the winning version
DELTA_RS_CONFLICT = "DeltaRsCommitConflict"  # delta-rs' CommitFailedError: a concurrent commit it could not reconcile
_SAIL_FAILED_COMMIT = re.compile(r"Failed to commit transaction: \d+")
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VERSION = re.compile(r"committed at version (\d+)|\"version\"\s*:\s*(\d+)")


class WriteConflictError(LakehouseError):
    """A concurrent commit won and this write could not (or no longer may) be retried."""


@dataclass(frozen=True)
class Conflict:
    """What Delta said: the exception kind, whether a retry is safe, the winning commit's version."""

    kind: str
    retryable: bool
    version: int | None
    commit: dict | None = None  # the winner's commitInfo, when Delta's message quotes it


def classify(exc: BaseException) -> Conflict | None:
    """The Delta conflict `exc` (or an exception it wraps) reports; None when it is no conflict."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        head = _head(str(current))
        for kind, (error_class, retryable) in KINDS.items():
            if kind in head or f"[{error_class}" in head:
                match = _VERSION.search(head)
                version = int(next(g for g in match.groups() if g)) if match else None
                return Conflict(kind, retryable, version, _quoted_commit(head))
        sail = _SAIL_FAILED_COMMIT.search(head)
        if sail:
            return Conflict(SAIL_CONFLICT, True, None)  # the newest commit names the winner
        if type(current).__name__ == "CommitFailedError":  # delta-rs (tables/delta_rs_write.py) after its own retries
            return Conflict(DELTA_RS_CONFLICT, True, None)
        current = current.__cause__ or current.__context__
    return None


def _quoted_commit(head: str) -> dict | None:
    """The JSON after 'Conflicting commit: ' in Delta's message (one line), if any."""
    _, found, rest = head.partition("Conflicting commit: ")
    if not found:
        return None
    try:
        value = json.loads(rest.splitlines()[0])
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None


def _head(text: str) -> str:
    """The message without the JVM frames ('\\tat ...' lines) that follow it."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("at ")).strip()


def attempts_allowed() -> int:
    """How many times a conflicting write runs in all ($LAKEHOUSE_DELTA_WRITE_ATTEMPTS, default 5, at least 1)."""
    raw = os.environ.get(ATTEMPTS_ENV, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_ATTEMPTS
    except ValueError:
        raise LakehouseError(f"${ATTEMPTS_ENV} must be a whole number of attempts, got {raw!r}.") from None


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): exponential, capped, jittered so racing writers part."""
    return random.uniform(0.5, 1.0) * min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))  # noqa: S311 - jitter, not crypto


def run_of(user_metadata: str | None) -> str | None:
    """The Dagster run id a commit's userMetadata names (`lakehouse_jobs:<run_id>:...`, or any run id in it)."""
    if not user_metadata:
        return None
    parts = user_metadata.split(":")
    if len(parts) >= 3 and parts[0] == "lakehouse_jobs" and parts[1]:
        return parts[1]
    found = _RUN_ID.search(user_metadata)
    return found.group(0) if found else None


def commit_info(path: str | Path, version: int | None) -> dict | None:
    """commitInfo of `version` (or of the newest commit) read straight from `_delta_log`; None when unreadable."""
    log = Path(str(path).removeprefix("file:")) / "_delta_log"
    try:
        if version is None:
            commits = sorted(p for p in log.iterdir() if p.suffix == ".json" and p.stem.isdigit())
            if not commits:
                return None
            file = commits[-1]
        else:
            file = log / f"{version:020d}.json"
        with file.open(encoding="utf-8") as handle:
            for line in handle:
                action = json.loads(line)
                if "commitInfo" in action:
                    return action["commitInfo"]
    except (OSError, ValueError):
        return None
    return None


def explain(conflict: Conflict, path: str | Path, table: str | None, attempts: int) -> str:
    """The one sentence a conflict becomes: table, the other writer's run when the log names it, what to do."""
    info = conflict.commit or commit_info(path, conflict.version) or {}
    run = run_of(info.get("userMetadata"))
    at = f" at version {conflict.version}" if conflict.version is not None else ""
    other = f"run {run}" if run else f"another writer ({info.get('operation', 'unknown operation')}{at}, no run recorded)"
    if run:
        other += f" ({info.get('operation', 'commit')}{at})"
    name = f"table {table} ({path})" if table else f"table {path}"
    if not conflict.retryable:
        return (
            f"Write to {name} failed: {other} committed the same idempotent transaction concurrently ({conflict.kind}); "
            "two copies of one writer are running: let one finish, then run again."
        )
    return (
        f"Write to {name} failed: {other} committed a conflicting change first, still conflicting after "
        f"{attempts} attempt{'s' if attempts != 1 else ''} ({conflict.kind}); run it again, or give the table's writers "
        "one Dagster pool (docs/ingestion.md, 'Concurrent writers')."
    )


def retry_conflicts(
    write: Callable[[], T],
    path: str | Path,
    *,
    table: str | None = None,
    attempts: int | None = None,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Run `write` (the WHOLE write: it must read the table again) until it commits; (its result, attempts used).

    Retryable conflicts wait `backoff(n)` and run again, at most `attempts` times in all;
    other exceptions pass through unchanged; a conflict that is not retried or outlives
    the attempts raises WriteConflictError (its JVM cause is dropped)."""
    allowed = attempts if attempts is not None else attempts_allowed()
    attempt = 1
    while True:
        try:
            return write(), attempt
        except Exception as exc:
            conflict = classify(exc)
            if conflict is None:
                raise
            if not conflict.retryable or attempt >= allowed:
                raise WriteConflictError(explain(conflict, path, table, attempt)) from None
            delay = backoff(attempt)
            if log is not None:
                log(f"{table or path}: {conflict.kind} (a concurrent commit won); attempt {attempt + 1} of {allowed} in {delay:.2f} s.")
            sleep(delay)
            attempt += 1
