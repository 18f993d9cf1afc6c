"""Helpers for the compute tests: run the test code location in its own process, wait for things."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..waiting import wait_for  # noqa: F401 - re-exported for the tests of this area

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def run_env(root: Path, spark: dict, **extra: str) -> dict[str, str]:
    """Environment of a run process: its own lakehouse root, Dagster home and Spark settings."""
    home = root / ".dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(home), "LJ_SPARK": json.dumps(spark), **extra}


def materialize(select: str, env: dict[str, str], log: Path, **popen: object) -> subprocess.Popen:
    """`dagster asset materialize` on cluster_defs.py, as the daemon would launch a run."""
    command = [DAGSTER, "asset", "materialize", "-f", str(HERE / "cluster_defs.py"), "--select", select]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, **popen)


def probes(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
