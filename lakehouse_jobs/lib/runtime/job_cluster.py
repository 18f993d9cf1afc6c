"""Job clusters: one warm Spark Connect server shared by every task of a run.

Databricks starts one job cluster per run and terminates it afterwards; here the
cluster is a local Spark Connect server (one JVM, Delta configured, bound to
127.0.0.1). The first Spark task of a run starts it; every task attaches as a
thin client. On the sail engine the server is Sail's (`python -m pysail spark
server`, no JVM), managed the same way. A watchdog process owns the JVM and stops it when no run holds a
lease on it any more (plus `autotermination_s` of idle time, for reuse by later
runs), so nothing is left behind when a run crashes or is SIGKILLed:

    <state_dir>/<cluster key>/
        lock         flock: serialises start, lease and shutdown decisions
        spec.json    the server command, environment and port (written by the starter)
        token        0600: the cluster's Spark Connect token (see below)
        state.json   {"status": "starting"|"ready", port, watchdog_pid, jvm_pid}
        leases/      one file per run: {"run_id", "pid": the run worker, "start": its /proc start time}
        server.log   the JVM's output

The watchdog is this file run as a script (stdlib only, no package import), and
the JVM gets PR_SET_PDEATHSIG so even a SIGKILLed watchdog takes it along.

Other local users must not run code as the server's user: each JVM cluster start draws
a token (Spark Connect's pre-shared token authentication), kept in the 0600 `token`
file of the 0700 cluster folder and handed to the JVM through its environment
(`SPARK_CONNECT_AUTHENTICATE_TOKEN`, not its command line, which `ps` shows to
everyone). Runs that lease the cluster get it in their endpoint URL; a client
without it is refused. The URL is never logged: use `redact()` on any text that may
hold it. Sail (pysail 0.7) has no authentication: its cluster, like its embedded
server, takes any client on 127.0.0.1 (docs/engines.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
POLL_S = 0.2
STOP_GRACE_S = 10.0
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"  # noqa: S105 - the variable's name, not a secret
_TOKEN_IN_TEXT = re.compile(r"(token=)[^;\s'\"]+")


def redact(text: str) -> str:
    """`text` with the value of any `token=...` parameter (of a Spark Connect URL) hidden."""
    return _TOKEN_IN_TEXT.sub(r"\1<redacted>", text)


@dataclass(frozen=True)
class ClusterSpec:
    """What makes two clusters interchangeable (mirrors `job_clusters[].new_cluster`)."""

    conf: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    jars: tuple[str, ...] = ()
    autotermination_s: float = 0.0  # idle time after the last run left; 0 = stop at run end
    start_timeout_s: float = 300.0
    engine: str = "spark"  # or "sail": the server is pysail's, `conf` then goes to each session, not the server

    def key(self, run_id: str) -> str:
        """Reusable clusters are shared by identical specs; per-run ones by one run only."""
        parts = [self.conf, self.env, list(self.jars), self.autotermination_s] + ([self.engine] if self.engine != "spark" else [])
        body = json.dumps(parts, sort_keys=True)
        scope = "shared" if self.autotermination_s > 0 else f"run-{run_id}"
        return f"{scope}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Endpoint:
    url: str = field(repr=False)  # holds the cluster's token: never print or log it
    port: int
    watchdog_pid: int
    jvm_pid: int
    directory: Path


class ClusterStartError(RuntimeError):
    """The server did not come up; the message carries the end of its log."""


STATE_DIR_ENV = "LAKEHOUSE_CLUSTER_STATE_DIR"


def default_state_dir() -> Path:
    """`$LAKEHOUSE_CLUSTER_STATE_DIR`, else a private folder under the runtime/temp dir."""
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a private 0700 folder is made under it
    return Path(base) / f"lakehouse_jobs-{os.getuid()}" / "clusters"


# ---------------------------------------------------------------- small helpers


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) as a folder only this user can enter: created 0700, refused if someone else's."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(f"the job-cluster folder {path} belongs to another user (uid {info.st_uid}); set ${STATE_DIR_ENV} to a folder of yours")
    if info.st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_token(directory: Path) -> str:
    """A fresh token for the cluster in `directory`, written 0600 (never through a umask-wide window)."""
    token = secrets.token_urlsafe(32)
    path = directory / "token"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


def read_token(directory: Path) -> str:
    return (Path(directory) / "token").read_text().strip()


def proc_start(pid: int) -> str | None:
    """The kernel start time of `pid` (guards against PID reuse), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return None if fields[0] == "Z" else fields[19]


def alive(pid: int | None, start: str | None = None) -> bool:
    if not pid:
        return False
    current = proc_start(pid)
    return current is not None and (start is None or current == start)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    with open(directory / "lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def live_leases(directory: Path, remove_stale: bool = True) -> list[str]:
    """Names (run ids) of leases whose run worker still exists; stale ones are removed."""
    names = []
    for lease in sorted((directory / "leases").glob("*.json")):
        data = read_json(lease) or {}
        if alive(data.get("pid"), data.get("start")):
            names.append(lease.stem)
        elif remove_stale:
            lease.unlink(missing_ok=True)
    return names


# ---------------------------------------------------------------- client side


def server_command(spark_home: str, conf: dict[str, str], jars: tuple[str, ...], port: int) -> list[str]:
    conf = {
        **conf,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    }
    command = [os.path.join(spark_home, "bin", "spark-submit"), "--class", CONNECT_SERVER_CLASS]
    if jars:
        command += ["--jars", ",".join(jars)]
    for key, value in sorted(conf.items()):
        if key != "spark.jars":
            command += ["--conf", f"{key}={value}"]
    return [*command, "spark-internal"]


def sail_server_command(port: int) -> list[str]:
    """Sail's Spark Connect server on 127.0.0.1:`port` (the pysail of this Python), serving the lakehouse root in its
    environment as its catalog (`sail_cluster.py`), so table names resolve on the cluster as on the embedded server."""
    return [sys.executable, "-m", "lakehouse_jobs.lib.runtime.sail_cluster", str(port)]


def _start(directory: Path, spec: ClusterSpec, spark_home: str) -> dict:
    port = free_port()
    write_token(directory)  # read by the watchdog into the JVM's environment; spec.json stays token-free
    if spec.engine == "sail":
        command, env = sail_server_command(port), {"RUST_LOG": "warn", **spec.env}  # Sail logs every session at INFO otherwise
    else:
        command = server_command(spark_home, spec.conf, spec.jars, port)
        env = {"SPARK_HOME": spark_home, "SPARK_LOCAL_IP": "127.0.0.1", **spec.env}
    write_json(
        directory / "spec.json",
        {
            "command": command,
            "engine": spec.engine,
            "env": env,
            "port": port,
            "autotermination_s": spec.autotermination_s,
            "start_timeout_s": spec.start_timeout_s,
        },
    )
    with open(directory / "server.log", "ab") as log:
        watchdog = subprocess.Popen(
            [sys.executable, "-S", os.path.abspath(__file__), "watch", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    state = {"status": "starting", "port": port, "watchdog_pid": watchdog.pid, "watchdog_start": proc_start(watchdog.pid)}
    write_json(directory / "state.json", state)
    return state


def _cluster_dir(spec: ClusterSpec, state_dir: Path, run_id: str) -> Path:
    if Path(state_dir) == default_state_dir():
        private_dir(Path(state_dir).parent)  # the shared temp folder: ours, 0700, before anything goes in it
    directory = private_dir(private_dir(state_dir) / spec.key(run_id))
    private_dir(directory / "leases")
    return directory


def prestart(spec: ClusterSpec, state_dir: Path, spark_home: str) -> bool:
    """Start the shared cluster of `spec` now, unless it runs: no lease, no wait (True if started).

    A warm-up for the runs about to attach (a file-arrival sensor that has seen new files):
    the JVM starts while they launch. Nobody attaching, it stops after `autotermination_s`
    like any idle cluster. Per-run clusters (`autotermination_s` 0) cannot be warmed."""
    if spec.autotermination_s <= 0:
        return False
    directory = _cluster_dir(spec, state_dir, "")
    with locked(directory):
        state = read_json(directory / "state.json")
        if state is not None and alive(state.get("watchdog_pid"), state.get("watchdog_start")):
            return False
        _start(directory, spec, spark_home)
    return True


def attach(spec: ClusterSpec, state_dir: Path, run_id: str, owner_pid: int, spark_home: str) -> Endpoint:
    """Lease the run's cluster (starting it if needed) and wait until it serves.

    The lease belongs to the run `run_id` and lasts while `owner_pid` (its run worker)
    lives, or until `release`. The endpoint URL carries the cluster's token.
    """
    directory = _cluster_dir(spec, state_dir, run_id)
    with locked(directory):
        state = read_json(directory / "state.json")
        if state is None or not alive(state.get("watchdog_pid"), state.get("watchdog_start")):
            state = _start(directory, spec, spark_home)
        write_json(directory / "leases" / f"{run_id}.json", {"run_id": run_id, "pid": owner_pid, "start": proc_start(owner_pid)})
    deadline = time.monotonic() + spec.start_timeout_s
    while True:
        state = read_json(directory / "state.json") or state
        if state.get("status") == "ready":
            # `localhost`, not 127.0.0.1: pyspark sends a token without TLS only over gRPC local credentials, to that name.
            # Sail has no authentication: no token to send.
            url = f"sc://127.0.0.1:{state['port']}" if spec.engine == "sail" else f"sc://localhost:{state['port']}/;token={read_token(directory)}"
            return Endpoint(url, state["port"], state["watchdog_pid"], state["jvm_pid"], directory)
        if not alive(state.get("watchdog_pid"), state.get("watchdog_start")) or time.monotonic() > deadline:
            raise ClusterStartError(f"the Spark Connect server did not start; end of {directory / 'server.log'}:\n{log_tail(directory)}")
        time.sleep(POLL_S / 2)


def release(state_dir: Path, spec: ClusterSpec, run_id: str) -> None:
    """The run is over: drop its lease (the watchdog stops an unleased cluster)."""
    directory = Path(state_dir) / spec.key(run_id)
    if directory.is_dir():
        with locked(directory):
            (directory / "leases" / f"{run_id}.json").unlink(missing_ok=True)


def stop(directory: Path, timeout_s: float = 30.0) -> None:
    """Terminate a cluster now (its watchdog stops the JVM) and wait for it."""
    state = read_json(Path(directory) / "state.json") or {}
    pid, start = state.get("watchdog_pid"), state.get("watchdog_start")
    if alive(pid, start):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive(pid, start) or alive(state.get("jvm_pid"), state.get("jvm_start")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster {directory} did not stop within {timeout_s}s")
        time.sleep(POLL_S)


def running(state_dir: Path) -> list[dict]:
    """The clusters alive under `state_dir`: directory, engine, status, port, pids, runs holding a lease."""
    found = []
    for directory in sorted(Path(state_dir).glob("*/")):
        state = read_json(directory / "state.json") or {}
        if alive(state.get("watchdog_pid"), state.get("watchdog_start")):
            leases = live_leases(directory, remove_stale=False)  # a finished run is not attached, cleaned or not
            engine = (read_json(directory / "spec.json") or {}).get("engine", "spark")
            found.append({"directory": directory, "engine": engine, **state, "leases": leases})
    return found


def stop_all(state_dir: Path) -> list[Path]:
    """Terminate every cluster under `state_dir` (warm ones included); the stopped directories."""
    stopped = [cluster["directory"] for cluster in running(state_dir)]
    for directory in stopped:
        stop(directory)
    return stopped


def log_tail(directory: Path, lines: int = 15) -> str:
    try:
        return "\n".join((Path(directory) / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- the watchdog


def _die_with_parent() -> None:
    """In the JVM's child: ask the kernel for SIGKILL when the watchdog dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def watch(directory: Path) -> int:
    """Run the JVM; stop it when no live run holds a lease for `autotermination_s` seconds."""
    spec = read_json(directory / "spec.json") or {}
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    env = {**os.environ, **spec["env"], TOKEN_ENV: read_token(directory)}
    jvm = subprocess.Popen(spec["command"], env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, close_fds=True)
    me = {"watchdog_pid": os.getpid(), "watchdog_start": proc_start(os.getpid())}
    try:
        deadline = time.monotonic() + float(spec.get("start_timeout_s", 300))
        while not port_open(spec["port"]):
            if jvm.poll() is not None or stopping or time.monotonic() > deadline:
                print(f"watchdog: the server exited or did not open port {spec['port']}", flush=True)
                return 1
            time.sleep(POLL_S / 2)
        with locked(directory):
            write_json(directory / "state.json", {"status": "ready", "port": spec["port"], **me, "jvm_pid": jvm.pid, "jvm_start": proc_start(jvm.pid)})
        idle_since: float | None = None
        while jvm.poll() is None and not stopping:
            with locked(directory):
                if live_leases(directory):
                    idle_since = None
                else:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= float(spec.get("autotermination_s", 0)):
                        (directory / "state.json").unlink(missing_ok=True)  # no new client may attach now
                        break
            time.sleep(POLL_S)
        return 0
    finally:
        with locked(directory):
            state = read_json(directory / "state.json") or {}
            if state.get("watchdog_pid") == me["watchdog_pid"]:
                (directory / "state.json").unlink(missing_ok=True)
        _terminate(jvm)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "watch":
    sys.exit(watch(Path(sys.argv[2])))
