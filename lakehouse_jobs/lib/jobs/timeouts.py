"""Per-task `timeout_seconds` (and the job's remaining time), enforced so the work really stops.

- A Python-callable task with a timeout runs in a child process (spawn) that is
  killed when the deadline passes: nothing of it keeps running. Its task values
  come back over a pipe. (Without a timeout it runs in-process, sharing the
  process's SparkSession, with no start-up cost.)
- An asset-selection task materializes the lakehouse's assets in this process
  (they share its SparkSession): on timeout its Spark jobs are cancelled (job
  group) and its thread is interrupted at the next Python bytecode.
"""

from __future__ import annotations

import contextvars
import ctypes
import multiprocessing
import pickle
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from lakehouse_jobs.lib.jobs import task_values

T = TypeVar("T")
_GRACE_SECONDS = 2.0
_STARTUP_SECONDS = 300.0  # importing the task's module in the child; not part of its timeout
# poll() takes its timeout as a C int of milliseconds (24.8 days) and thread joins stop at
# threading.TIMEOUT_MAX: a long timeout_seconds (Databricks allows 2**31-1 s) is waited in slices.
_SLICE_SECONDS = 86_400.0


class TaskTimeout(Exception):
    """The task ran longer than its timeout_seconds (or the job's remaining time)."""


class ChildTaskError(Exception):
    """The task raised in its child process; carries the child's traceback text."""

    def __init__(self, message: str, child_traceback: str):
        super().__init__(message)
        self.child_traceback = child_traceback


def _spark_context():
    from lakehouse_jobs.lib.runtime.spark import active_session

    session = active_session()
    return getattr(session, "sparkContext", None) if session is not None else None


def _interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(TaskTimeout))


def call_with_timeout(fn: Callable[[], T], timeout_seconds: float | None, label: str = "task") -> T:
    """fn() in this process, or TaskTimeout after `timeout_seconds` (None/0 = no limit)."""
    if not timeout_seconds or timeout_seconds <= 0:
        return fn()
    outcome: dict[str, Any] = {}
    group = f"lakehouse_jobs-{label}-{uuid.uuid4().hex[:8]}"
    context = contextvars.copy_context()

    def target() -> None:
        try:
            spark_context = _spark_context()
            if spark_context is not None:
                try:
                    spark_context.setJobGroup(group, label, interruptOnCancel=True)
                except Exception:  # noqa: BLE001, S110 - Spark Connect or a stopped context: nothing to tag
                    pass
            outcome["value"] = context.run(fn)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"lakehouse_jobs:{label}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_seconds
    while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
        thread.join(min(left, _SLICE_SECONDS))
    if thread.is_alive():
        spark_context = _spark_context()
        if spark_context is not None:
            try:
                spark_context.cancelJobGroup(group)
            except Exception:  # noqa: BLE001, S110 - the context stopped meanwhile: nothing left to cancel
                pass
        _interrupt(thread)
        thread.join(_GRACE_SECONDS)
        raise TaskTimeout(f"{label} timed out after {timeout_seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _wait(objects: list[Any], timeout_seconds: float) -> list[Any]:
    """`multiprocessing.connection.wait` for any length of time (sliced below poll()'s limit)."""
    deadline = time.monotonic() + timeout_seconds
    while (left := deadline - time.monotonic()) > 0:
        ready = wait(objects, min(left, _SLICE_SECONDS))
        if ready:
            return ready
    return []


def _child_main(conn: Connection, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], scope: task_values.TaskValueScope) -> None:
    task_values.bind(scope)
    conn.send(("started", None, "", {}))  # the clock starts now, not while Python imports
    try:
        fn(*args, **kwargs)
        conn.send(("ok", None, "", scope.values))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as the task's failure
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(), scope.values))
    finally:
        conn.close()


def call_in_child(fn: Callable[..., Any], args: list[Any], kwargs: Mapping[str, Any], timeout_seconds: float, label: str = "task") -> None:
    """Run fn(*args, **kwargs) in a killable child process; its task values land in the current scope."""
    scope = task_values.current() or task_values.TaskValueScope(label)
    try:
        pickle.dumps((fn, args, dict(kwargs)))
    except Exception as exc:  # noqa: BLE001 - pickling user objects fails in many ways
        raise ValueError(
            f"a task with timeout_seconds runs in a child process, so its callable and parameters must be picklable "
            f"(a module-level function named 'package.module:function'): {exc}"
        ) from None
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    child_scope = task_values.TaskValueScope(scope.task_key, dict(scope.upstream), {})
    process = ctx.Process(target=_child_main, args=(child, fn, args, dict(kwargs), child_scope), name=f"lakehouse_jobs:{label}", daemon=True)
    process.start()
    child.close()
    try:
        ready = wait([parent, process.sentinel], _STARTUP_SECONDS)
        if parent in ready and parent.recv()[0] == "started":
            ready = _wait([parent, process.sentinel], timeout_seconds)
        if parent in ready:
            status, message, child_traceback, values = parent.recv()
            scope.values.update(values)
            if status == "error":
                raise ChildTaskError(message, child_traceback)
            return
        if not ready:
            raise TaskTimeout(f"{label} timed out after {timeout_seconds:g} s (its process was killed)")
        raise ChildTaskError(f"the task's process exited with code {process.exitcode} before reporting", "")
    except EOFError:
        raise ChildTaskError(f"the task's process exited with code {process.exitcode} before reporting", "") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(_GRACE_SECONDS)
        parent.close()
