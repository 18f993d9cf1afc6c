"""Benchmark: what a table_update sensor tick costs to read a Delta table's version.

The sensor reads the newest commit file name in `_delta_log` (one directory
listing); the baseline opens the table with delta-rs (`DeltaTable(path).version()`),
the cheapest library way without Spark. Both on the same table with COMMITS
commits. Run: `.venv/bin/python bench/table_update_tick.py [COMMITS]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable, write_deltalake

from lakehouse_jobs.lib.jobs.automation.triggers import delta_version

REPEAT = 50


def timed(fn, repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(commits: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "silver" / "orders"
        for i in range(commits):
            write_deltalake(str(table), pd.DataFrame({"id": [i]}), mode="append")
        assert delta_version(table)[0] == DeltaTable(str(table)).version() == commits - 1
        ours = timed(lambda: delta_version(table))
        baseline = timed(lambda: DeltaTable(str(table)).version())
    print(f"table with {commits} commits, median of {REPEAT}")
    print(f"  delta_version (_delta_log listing): {ours * 1000:8.3f} ms")
    print(f"  DeltaTable(path).version() (delta-rs): {baseline * 1000:8.3f} ms")
    print(f"  ratio baseline/ours: {baseline / ours:6.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
