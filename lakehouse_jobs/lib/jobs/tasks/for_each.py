"""`for_each_task`: run one nested task per input, at most `concurrency` at a time.

Iterations run on a thread pool inside the for_each task's Dagster step (a
Python callable with a timeout still gets its own killable process). Why not
Dagster dynamic outputs: the in-process executor (one shared SparkSession)
runs steps one at a time, so it could not honour `concurrency`; a pool can.
The task succeeds when every iteration succeeds (Databricks semantics).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS

MAX_INPUTS = 5000
MAX_CONCURRENCY = 100


@dataclass
class Iteration:
    index: int
    input: Any
    result_state: str
    attempts: int = 1
    error: str | None = None


def parse_inputs(value: Any) -> list[Any]:
    """A list, or a JSON array written as a string (as Databricks' `inputs` field)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"inputs must be a JSON array, got {value!r} ({exc.msg})") from None
    if not isinstance(value, list):
        raise ValueError(f"inputs must be a JSON array, got {json.dumps(value)}")
    if len(value) > MAX_INPUTS:
        raise ValueError(f"inputs has {len(value)} items; the limit is {MAX_INPUTS}")
    return value


def run_iterations(inputs: list[Any], concurrency: int, run_one: Callable[[int, Any], Iteration]) -> list[Iteration]:
    """Every iteration's result, in input order."""
    workers = max(1, min(int(concurrency or 1), MAX_CONCURRENCY, len(inputs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="for_each") as pool:
        futures = [pool.submit(contextvars.copy_context().run, run_one, index, item) for index, item in enumerate(inputs)]
        return [future.result() for future in futures]


def summary_state(iterations: list[Iteration]) -> str:
    return SUCCESS if all(it.result_state == SUCCESS for it in iterations) else FAILED


def summary_error(iterations: list[Iteration]) -> str | None:
    failed = [it for it in iterations if it.result_state != SUCCESS]
    if not failed:
        return None
    first = failed[0]
    return f"{len(failed)} of {len(iterations)} iterations did not succeed; first: input {json.dumps(first.input)} -> {first.result_state}: {first.error}"
