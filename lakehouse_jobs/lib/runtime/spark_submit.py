"""Run a JVM Spark application through pyspark's `spark-submit`, as `spark_jar_task` and `spark_submit_task` do.

The application runs in its own driver JVM (a subprocess), never in the run's session:

- against the run's Spark master: an embedded `local[*]` session means a separate local JVM with the
  same master string; a `spark://` master is passed on; a Spark Connect server (`remote` or a job
  cluster) cannot host a JAR's main class, so the application runs `local[...]` and the log says so;
- with the project's Delta jars (`--jars`) and Spark settings (`SparkResource.conf()`: Delta
  extensions, driver bound to 127.0.0.1, UI off), so the application reads and writes Delta tables;
  managed tables go under the lakehouse's `_system/spark_warehouse`, `LAKEHOUSE_ROOT` is in its environment;
- its stdout and stderr reach the step's log line by line; a non-zero exit fails with the exit code
  and the stderr line that names the error (`Exception in thread "main" ...`), not the JVM's stack;
- a timeout kills its whole process group (spark-submit's launcher and the JVM).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import selectors
import signal
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib import workspace
from lakehouse_jobs.lib.jobs.timeouts import TaskTimeout
from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
from lakehouse_jobs.lib.runtime.java import check_java
from lakehouse_jobs.lib.runtime.python_main import ProgramFailed

JAVA_CLASS = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_STOP_GRACE_S = 5.0
_TAIL = 200  # stderr lines kept to find the error in


class SubmitError(ValueError):
    """A jar or application file that cannot be used, in one sentence."""


def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def spark_submit_executable() -> str:
    return os.path.join(spark_home(), "bin", "spark-submit")


def local_path(value: str, folder: Path, what: str) -> Path:
    """The local file `value` names: a path or `file:` URI, relative ones from `folder`, confined to the workspace root."""
    try:
        return workspace.find(value, folder, what, absolute_anywhere=True)
    except workspace.WorkspacePathError as exc:
        raise SubmitError(str(exc)) from None


def find_jar(pattern: str, folder: Path, what: str) -> Path:
    """The one jar file `pattern` (a path or glob, relative to `folder`, or a `file:` path) matches."""
    if not any(char in pattern for char in "*?["):
        return local_path(pattern.strip(), folder, what)
    try:
        return workspace.find_one(pattern, folder, what, ".jar")
    except workspace.WorkspacePathError as exc:
        raise SubmitError(str(exc)) from None


def jar_with_class(jars: Sequence[Path], class_name: str) -> Path | None:
    """The first jar holding `class_name`'s class file."""
    entry = class_name.replace(".", "/") + ".class"
    for jar in jars:
        try:
            with zipfile.ZipFile(jar) as archive:
                if entry in archive.namelist():
                    return jar
        except (OSError, zipfile.BadZipFile) as exc:
            raise SubmitError(f"jar {jar} cannot be read as a jar ({exc})") from None
    return None


@dataclass(frozen=True)
class Target:
    """Where the application's driver runs: the master string, and why it is not the run's own, if it is not."""

    master: str
    conf: dict[str, str]
    note: str


def target(resource: Any, lakehouse: Any, app_name: str) -> Target:
    """The master and Spark settings for an application submitted from a run using `resource` (a SparkResource)."""
    conf = dict(resource.conf())
    master = conf.pop("spark.master", "local[*]")
    if resource.remote or resource.job_cluster:
        master = master if master.startswith("local") else "local[*]"
        note = (
            f"the run's Spark is a Spark Connect server, which a JVM application's main class cannot attach to: "
            f"it runs in its own local JVM (spark-submit --master {master})"
        )
    elif master.startswith("local"):
        note = f"it runs in its own JVM (spark-submit --master {master}), apart from the run's embedded session; tables are shared by path"
    else:
        note = f"submitted to the run's master {master} (driver on this machine, bound to 127.0.0.1)"
    conf.update(
        {
            "spark.app.name": app_name,
            "spark.ui.enabled": "false",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.warehouse.dir": lakehouse.system_path("spark_warehouse").as_uri(),
        }
    )
    return Target(master, conf, note)


def command(target: Target, options: Sequence[str], jars: Sequence[str], application: Sequence[str]) -> list[str]:
    """spark-submit's argv: master, the project's settings, the user's options, the jars, then the application."""
    argv = [spark_submit_executable(), "--master", target.master]
    for key, value in sorted(target.conf.items()):
        if key != "spark.jars":
            argv += ["--conf", f"{key}={value}"]
    argv += list(options)
    settings_jars = [j for j in target.conf.get("spark.jars", "").split(",") if j]  # e.g. the catalog plugin's
    all_jars = [*resolve_delta_jars(), *settings_jars, *jars]
    argv += ["--jars", ",".join(all_jars)]
    return [*argv, *application]


def error_line(stderr: Sequence[str]) -> str:
    """The stderr line that names the failure: the uncaught exception, else the last error-looking line."""
    lines = [line.rstrip() for line in stderr if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Exception in thread"):
            causes = [line for line in lines[index + 1 :] if line.startswith("Caused by:")]
            text = lines[index] + (f" ({causes[-1]})" if causes else "")
            return text[:600]
    for line in reversed(lines):
        if line[:1].isspace() or line.startswith("at "):
            continue
        if re.search(r"(^Error\b|\bERROR\b|Exception\b|Error:)", line):
            return line[:600]
    return lines[-1][:600] if lines else ""


def _child_setup(die_with_parent: bool) -> Callable[[], None]:
    def setup() -> None:
        os.setsid()
        if die_with_parent:
            try:
                import ctypes

                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                pass

    return setup


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group (spark-submit's shell, launcher and JVM), SIGKILL it after a grace period."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def environment(lakehouse_root: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_SUBMIT_ARGS", "SPARK_API_MODE")}
    env.update({"SPARK_HOME": spark_home(), "SPARK_LOCAL_IP": "127.0.0.1", "LAKEHOUSE_ROOT": lakehouse_root, **(extra or {})})
    return env


def run_submit(
    argv: Sequence[str],
    *,
    label: str,
    log: Callable[[str], None],
    timeout: float | None,
    cwd: Path,
    env: Mapping[str, str],
    timeout_label: str,
) -> int:
    """Run spark-submit, forwarding its output to `log`; ProgramFailed on a non-zero exit, TaskTimeout past `timeout`."""
    check_java()
    started = time.monotonic()
    process = subprocess.Popen(
        list(argv),
        cwd=str(cwd),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_child_setup(threading.current_thread() is threading.main_thread()),
        close_fds=True,
    )
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
    buffers = {"out": b"", "err": b""}
    selector = selectors.DefaultSelector()
    assert process.stdout is not None and process.stderr is not None
    selector.register(process.stdout, selectors.EVENT_READ, "out")
    selector.register(process.stderr, selectors.EVENT_READ, "err")

    def emit(stream: str, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if stream == "err":
            tail.append(line)
            log(f"[stderr] {line}")
        else:
            log(line)

    try:
        open_streams = 2
        while open_streams:
            remaining = None if not timeout else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                _kill_group(process)
                raise TaskTimeout(f"{timeout_label} timed out after {timeout:g} s (its spark-submit process group was killed)")
            for key, _ in selector.select(timeout=min(remaining, 1.0) if remaining is not None else 1.0):
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    if buffers[key.data]:
                        emit(key.data, buffers[key.data])
                        buffers[key.data] = b""
                    continue
                buffers[key.data] += chunk
                *lines, buffers[key.data] = buffers[key.data].split(b"\n")
                for line in lines:
                    emit(key.data, line)
        code = process.wait(None if not timeout else max(0.1, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise TaskTimeout(f"{timeout_label} timed out after {timeout:g} s (its spark-submit process group was killed)") from None
    finally:
        selector.close()
        if process.poll() is None:  # interrupted (run terminated, timeout): nothing of it keeps running
            _kill_group(process)
        for stream in (process.stdout, process.stderr):
            with contextlib.suppress(OSError):
                stream.close()
    if code != 0:
        found = error_line(tail)
        raise ProgramFailed(f"{label} exited with code {code}" + (f": {found}" if found else ""), "\n".join(tail))
    return code
