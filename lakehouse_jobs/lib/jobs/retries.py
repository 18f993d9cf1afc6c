"""Task retries: `max_retries` (-1 = unlimited), `min_retry_interval_millis`, `retry_on_timeout`.

A job task retries through Dagster's own retry machinery (RetryRequested), so
each attempt shows in the run's event log; for_each iterations retry in-loop.
A timed-out attempt is retried only when `retry_on_timeout` is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

UNLIMITED = -1
# Dagster needs a number: a run would have to retry for centuries to hit it.
_DAGSTER_UNLIMITED = 2**31 - 1


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 0
    min_retry_interval_millis: int = 0
    retry_on_timeout: bool = False

    @classmethod
    def of(cls, task: dict[str, Any]) -> RetryPolicy:
        return cls(
            int(task.get("max_retries", 0) or 0),
            int(task.get("min_retry_interval_millis", 0) or 0),
            bool(task.get("retry_on_timeout", False)),
        )

    @property
    def interval_seconds(self) -> float:
        return self.min_retry_interval_millis / 1000.0

    def allows(self, retries_done: int, timed_out: bool) -> bool:
        """Whether a failed attempt (after `retries_done` retries) gets another one."""
        if timed_out and not self.retry_on_timeout:
            return False
        return self.max_retries == UNLIMITED or retries_done < self.max_retries

    def request(self) -> dg.RetryRequested:
        """The exception that makes Dagster run the step again after the interval."""
        limit = _DAGSTER_UNLIMITED if self.max_retries == UNLIMITED else self.max_retries
        return dg.RetryRequested(max_retries=limit, seconds_to_wait=self.interval_seconds)
