"""Aggregates computed by the very Spark action that writes a table (no second pass).

`df.observe(Observation(), aggregates...)` makes the write report them; this module
reads them back without ever blocking on a plan that did not run."""

from __future__ import annotations

from typing import Any


def observed_metrics(observation: Any) -> dict[str, Any] | None:
    """The metrics an Observation collected, or None when its plan has not run.

    Classic `Observation.get` blocks until the observed plan runs, so it is only
    asked once the JVM says the result is there; over Spark Connect a plan run
    inside a command (a MERGE) reports no metrics and `get` returns {}."""
    handle = getattr(observation, "_jo", None)
    try:
        if handle is not None and not handle.future().isCompleted():
            return None
        return observation.get or None
    except Exception:  # noqa: BLE001 - an internal of pyspark's Observation changed: the caller counts instead
        return None
