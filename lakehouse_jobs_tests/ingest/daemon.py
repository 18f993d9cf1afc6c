"""A real `dagster-daemon run` on a temporary DAGSTER_HOME, for end-to-end tests and the benchmark.

The instance is the repo's dagster.yaml seed with the queue polled every second.
Everything the daemon starts (code server, run processes) shares its process
group, which `stop()` terminates and then kills. The warm job cluster of the
file-arrival runs lives in its own session (it outlives runs by design); it is
kept under `<home>/clusters` and stopped on exit too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from lakehouse_jobs.defs.paths import REPO_ROOT
from lakehouse_jobs.lib.runtime import job_cluster

from ..waiting import wait_for  # noqa: F401 - re-exported for the tests of this area


def write_instance(home: Path) -> Path:
    """The seed's instance in `home`, its sqlite storage created here, before any other process opens it.

    Two processes creating a new sqlite storage at once (the daemon starting, a test polling
    its runs) can both stamp its alembic version: "more than one head present" (seen in CI)."""
    import dagster as dg

    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config.setdefault("run_coordinator", {}).setdefault("config", {})["dequeue_interval_seconds"] = 1
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


# Sensors to stop before the daemon starts. The example's spec job `ingest_orders` also
# watches landing/orders but is declared PAUSED, so by default nothing needs stopping.
OTHER_SENSORS: tuple[str, ...] = ()


@contextmanager
def running_daemon(home: Path, lakehouse_root: Path, log: Path, stop_sensors=OTHER_SENSORS):
    """Start the daemon (sensors + run queue) and stop it, and all it launched, on exit."""
    write_instance(home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LAKEHOUSE_ROOT": str(lakehouse_root),
        "PYTHONUNBUFFERED": "1",
        job_cluster.STATE_DIR_ENV: str(clusters_dir(home)),
    }
    daemon = str(Path(sys.executable).with_name("dagster-daemon"))
    workspace = str(REPO_ROOT / "workspace.yaml")
    dagster = str(Path(sys.executable).with_name("dagster"))
    for name in stop_sensors:
        subprocess.run([dagster, "sensor", "stop", name, "-w", workspace], cwd=REPO_ROOT, env=env, capture_output=True, timeout=300)
    with log.open("wb") as out:
        process = subprocess.Popen([daemon, "run", "-w", workspace], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            stop(process)
            job_cluster.stop_all(clusters_dir(home))


def clusters_dir(home: Path) -> Path:
    return home / "clusters"


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # run processes and JVMs left in the group
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def delta_rows(path: Path) -> int:
    """Row count of a Delta table read with delta-rs (0 while it does not exist)."""
    if not (path / "_delta_log").is_dir():
        return 0
    from deltalake import DeltaTable

    try:
        return DeltaTable(str(path)).to_pyarrow_dataset().count_rows()
    except Exception:  # noqa: BLE001 - being created right now
        return 0
