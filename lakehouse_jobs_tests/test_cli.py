"""The command lines a user runs: the generator, and `dagster asset materialize` on the example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from deltalake import DeltaTable

from lakehouse_jobs.cli import main
from lakehouse_jobs.defs.paths import REPO_ROOT

from .conftest import SAMPLE_LANDING

BIN = Path(sys.executable).parent


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_per_seed(tmp_path):
    args = ["generate", "--orders", "300", "--customers", "40", "--events", "500", "--files", "2"]
    assert main([*args, "--root", str(tmp_path / "a")]) == 0
    assert main([*args, "--root", str(tmp_path / "b")]) == 0
    assert main([*args, "--seed", "7", "--root", str(tmp_path / "c")]) == 0
    a, b, c = (_files(tmp_path / x / "landing") for x in "abc")
    assert a == b and a != c
    assert sorted(a) == [f"{s}/part-000{i}.{ext}" for s, ext in [("clickstream", "jsonl"), ("customers", "csv"), ("orders", "csv")] for i in (0, 1)]
    orders = b"".join(v for k, v in a.items() if k.startswith("orders/")).decode().splitlines()
    assert len([line for line in orders if not line.startswith("order_id")]) == 300 + 6  # + 2% re-sent duplicates


def test_committed_sample_files_are_the_generator_defaults(tmp_path):
    """`lakehouse-jobs generate` with defaults reproduces data/landing byte for byte."""
    assert main(["generate", "--root", str(tmp_path)]) == 0
    assert _files(tmp_path / "landing") == _files(SAMPLE_LANDING)


def test_dagster_asset_materialize_cli_builds_the_orders_chain(tmp_path):
    root = tmp_path / "lake"
    shutil.copytree(SAMPLE_LANDING / "orders", root / "landing" / "orders")
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "lakehouse_jobs.definitions", "--select", "bronze/orders,silver/orders,gold/daily_revenue"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUN_SUCCESS" in proc.stderr
    for table in ("bronze/orders", "silver/orders", "gold/daily_revenue"):
        assert len(DeltaTable(str(root / table)).to_pandas()) > 0
