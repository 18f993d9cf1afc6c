"""Bounded polling for tests that wait on other processes (daemons, clusters, runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def wait_for(predicate: Callable[[], object], timeout: float, what: str, log: Path | None = None, interval: float = 0.2) -> object:
    """Return the first truthy value of `predicate`, or fail after `timeout` s with `what` (and a log tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f"\n--- log tail ---\n{tail}" if tail else ""))
