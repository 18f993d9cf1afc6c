"""`make dev`'s launcher: the Dagster services stop within 10 s of Ctrl-C or SIGTERM, even when started in the background.

A background job of a shell starts with SIGINT ignored; plain `dagster dev` then ignores SIGTERM too
and its webserver and daemon wait forever for it (still up 70 s after SIGTERM when measured).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lakehouse_jobs.lib.dev import warm_clusters_line
from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs_tests.waiting import wait_for

DEFS = "import dagster as dg\n\ndefs = dg.Definitions()\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_a_background_job() -> None:
    """What a non-interactive shell does to `cmd &`: SIGINT (and SIGQUIT) ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of the group count as gone
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(stat[2]) == pgid and stat[0] != "Z":
                return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_dev_services_stop_within_ten_seconds_of_a_signal_to_their_group(tmp_path: Path, sig: int) -> None:
    (tmp_path / "tiny_defs.py").write_text(DEFS)
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    log = tmp_path / "dev.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(tmp_path), "LAKEHOUSE_CLUSTER_STATE_DIR": str(tmp_path / "clusters")}
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "lakehouse_jobs.lib.dev", "-m", "tiny_defs", "-h", "127.0.0.1", "-p", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_as_a_background_job,
            start_new_session=True,
        )
    try:
        wait_for(lambda: _up(port), 120, "the dev webserver", log)
        time.sleep(2)  # the daemon has started its threads
        started = time.monotonic()
        os.killpg(launcher.pid, sig)
        launcher.wait(timeout=30)
        stopped = time.monotonic() - started
        wait_for(lambda: not _group_alive(launcher.pid), 10, "the launcher's group to be gone", log)
        assert stopped <= 10, f"make dev took {stopped:.1f} s to stop"
        assert not _up(port)
        assert "Dagster services shut down" in log.read_text(errors="replace")
    finally:
        for pgid in (launcher.pid,):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_warm_cluster_that_outlives_the_dev_server_is_named_once_with_how_to_stop_it(tmp_path: Path) -> None:
    assert warm_clusters_line(tmp_path) is None
    stand_in = subprocess.Popen(["sleep", "30"])
    try:
        cluster = tmp_path / "abc123"
        cluster.mkdir()
        (cluster / "leases").mkdir()
        state = {"status": "running", "port": 4242, "jvm_pid": 99, "watchdog_pid": stand_in.pid, "watchdog_start": job_cluster.proc_start(stand_in.pid)}
        (cluster / "state.json").write_text(json.dumps(state))
        line = warm_clusters_line(tmp_path)
        assert line is not None
        assert "127.0.0.1:4242" in line
        assert "lakehouse-jobs clusters --stop" in line
    finally:
        stand_in.kill()
        stand_in.wait()
    assert warm_clusters_line(tmp_path) is None
