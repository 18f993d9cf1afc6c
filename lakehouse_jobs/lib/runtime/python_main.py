"""Run a user's Python program in this process, the way a driver runs a script or a wheel's entry point.

Shared by `spark_python_task` and `python_wheel_task`:

- `sys.argv` is the program's command line for its duration, restored afterwards;
- `sys.exit(0)` / `sys.exit(None)` end it successfully, any other exit fails it naming the code
  (`sys.exit("message")` is exit code 1 with that message, as Python does);
- an exception fails it with one line pointing at the user's own frame
  (`python file /x/etl.py, line 12: ValueError: ...`), the traceback of the user's frames going to the log;
- print()/sys.stdout and sys.stderr reach `log` line by line (stderr lines prefixed);
- `SparkSession.builder.getOrCreate()` and `SparkSession.getActiveSession()` inside the program
  return the run's session (classic or Spark Connect), never a second JVM.

Limits of running in-process: output written straight to file descriptors (C code, subprocesses,
the JVM) is not forwarded here, and a program that changes process-wide state (os.environ, the
working directory, logging, signal handlers) leaves it changed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from lakehouse_jobs.lib.environ import environment
from lakehouse_jobs.lib.jobs.timeouts import ChildTaskError, TaskTimeout
from lakehouse_jobs.lib.runtime.output import captured


class ProgramFailed(ChildTaskError):
    """The program exited with a non-zero code or raised; the message names the code or the user's line."""


@contextlib.contextmanager
def session_bound(session: Any) -> Iterator[None]:
    """Make `session` what the builder and getActiveSession return in this thread, for the block."""
    if session is None:
        yield
        return
    if type(session).__module__.startswith("pyspark.sql.connect"):
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        parsed = getattr(getattr(getattr(session, "client", None), "_builder", None), "url", None)
        url = parsed.geturl() if hasattr(parsed, "geturl") else os.environ.get("SPARK_REMOTE")
        ConnectSession._set_default_and_active_session(session)
        # The classic builder routes to Spark Connect (and its getOrCreate returns the default session) only when told to.
        routing = {"SPARK_CONNECT_MODE_ENABLED": "1", **({"SPARK_REMOTE": str(url)} if url and "SPARK_REMOTE" not in os.environ else {})}
        with environment(routing):
            yield
        return
    from pyspark.sql import SparkSession

    # The builder returns the process's instantiated session; the active session is per (JVM) thread.
    SparkSession._activeSession = session
    jvm_class = SparkSession._get_j_spark_session_class(session._jvm)
    jvm_class.setActiveSession(session._jsparkSession)
    yield


@contextlib.contextmanager
def program_context(argv: Sequence[str], log: Callable[[str], None], session: Any = None) -> Iterator[None]:
    """`sys.argv`, stdout/stderr forwarding and the SparkSession of a program, restored afterwards."""
    saved_argv = sys.argv
    sys.argv = [str(item) for item in argv]
    try:
        with captured(log), session_bound(session):
            yield
    finally:
        sys.argv = saved_argv


def _user_frames(tb: TracebackType | None, is_user: Callable[[str], bool]) -> list[traceback.FrameSummary]:
    frames = traceback.extract_tb(tb)
    return [frame for frame in frames if is_user(frame.filename)]


def failure(exc: BaseException, label: str, is_user: Callable[[str], bool], at_line: Callable[[str, int], str] | None = None) -> ProgramFailed:
    """`exc` (raised by the program) as one line at the innermost user frame, with the user's traceback.

    `at_line(filename, line)` names that frame (default: `<label> (<file>, line L)`).
    """
    frames = _user_frames(exc.__traceback__, is_user)
    if frames:
        where = (at_line or (lambda file, line: f"{label} ({file}, line {line})"))(frames[-1].filename, frames[-1].lineno or 0)
    else:
        where = label
    text = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    user_traceback = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    user_traceback += "".join(traceback.format_exception_only(type(exc), exc))
    return ProgramFailed(f"{where}: {message}", user_traceback)


def exit_failure(code: Any, label: str) -> ProgramFailed | None:
    """None when `sys.exit(code)` means success, else the failure naming the code."""
    if code is None or code == 0:
        return None
    if isinstance(code, int):
        return ProgramFailed(f"{label} exited with code {code}", "")
    return ProgramFailed(f"{label} exited with code 1: {code}", "")  # sys.exit("message"), as Python does


def run_program(
    main: Callable[[], Any],
    argv: Sequence[str],
    *,
    label: str,
    log: Callable[[str], None],
    is_user: Callable[[str], bool],
    at_line: Callable[[str, int], str] | None = None,
    session: Any = None,
) -> None:
    """Call `main()` as a program with `argv`; raise ProgramFailed on a failing exit or an exception.

    `label` names the program in messages (`python file /x/etl.py`); `is_user(filename)` tells the
    program's own frames from the runner's and the libraries' (the failure points at the innermost
    one, named by `at_line(filename, line)`).
    """
    with program_context(argv, log, session):
        try:
            main()
        except SystemExit as exc:
            failed = exit_failure(exc.code, label)
            if failed is not None:
                raise failed from None
        except (TaskTimeout, ProgramFailed):
            raise
        except Exception as exc:  # noqa: BLE001 - the user's program failed: one line, and its traceback to the log
            failed = failure(exc, label, is_user, at_line)
            for line in failed.child_traceback.rstrip().splitlines():
                log(f"[stderr] {line}")
            raise failed from None
