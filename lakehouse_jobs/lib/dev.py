"""`make dev`: `dagster dev` that stops on Ctrl-C and SIGTERM, and says what it leaves running.

Why a launcher: a shell that starts a command in the background (a script, `make ... &`, an IDE
task runner, CI) starts it with SIGINT ignored, and an ignored signal stays ignored across exec.
`dagster dev` then maps SIGTERM onto that ignored SIGINT handler, so neither signal reaches it,
while its webserver and daemon (which do get the signal) wait forever for its shutdown message:
the whole group hangs (measured: still up 70 s after SIGTERM; 5 s with the handlers restored).
This launcher restores both signals to their defaults before starting `dagster dev`, forwards a
signal it receives, kills the group after a grace period, and then names any warm job cluster
still alive (the file-arrival runs' Spark Connect server, stopped by its own idle timer) with
the command that stops it now.

    python -m lakehouse_jobs.lib.dev [dagster dev arguments...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 8.0  # dagster dev waits for its webserver and daemon; past this the group is killed


def _restore_default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def warm_clusters_line(state_dir: Path | None = None) -> str | None:
    """One sentence about job clusters that outlive the dev server, or None when there are none."""
    from lakehouse_jobs.lib.runtime import job_cluster

    clusters = job_cluster.running(state_dir or job_cluster.default_state_dir())
    if not clusters:
        return None
    ports = ", ".join(f"127.0.0.1:{c.get('port')} (jvm pid {c.get('jvm_pid', '-')})" for c in clusters)
    return (
        f"{len(clusters)} warm job cluster(s) still running: {ports}; each stops after its idle time "
        "($LAKEHOUSE_CLUSTER_IDLE_MINUTES), or now with `lakehouse-jobs clusters --stop`."
    )


def run(argv: list[str]) -> int:
    """Run `dagster dev <argv>` to its end; the exit code is dagster dev's (128 + signal after one)."""
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", *argv]
    # Its own process group: a signal reaches dagster dev once (from here), and what outlives the
    # grace period can be killed as a group without touching the terminal's.
    child = subprocess.Popen(command, preexec_fn=_restore_default_signals, start_new_session=True)
    received: list[tuple[int, float]] = []

    def forward(signum: int, _frame: object) -> None:
        received.append((signum, time.monotonic()))
        if child.poll() is None:
            child.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            code = child.wait(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            if received and time.monotonic() - received[0][1] > GRACE_S:
                print(f"dagster dev did not stop within {GRACE_S:.0f} s of the signal: killing its processes.", flush=True)
                _kill_group(child.pid)
    _kill_group(child.pid)  # its code servers, if any outlived it
    line = warm_clusters_line()
    if line:
        print(line, flush=True)
    return 128 + received[0][0] if received else code


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    return run(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
