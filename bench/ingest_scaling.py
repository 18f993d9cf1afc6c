"""Ingesting 1 new file: with 1,000 files already ingested vs with none (issue target: <= 1.2x).

Also times one file-arrival sensor tick over 0 vs 10,000 files already seen (the
listing is the only part that grows). Runs in-process on one SparkSession.

    .venv/bin/python bench/ingest_scaling.py [--repeat 3] [--already 1000]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from lakehouse_jobs.lib import LakehouseResource, SparkResource
from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingest.ingest import ingest
from lakehouse_jobs.lib.ingest.spec import IngestSpec

SPEC = IngestSpec(source="orders", table="orders", format="csv", columns=["id", "amount"])


def _file(folder: Path, name: str, start: int, rows: int = 100) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount"])
        writer.writerows([[i, f"{i % 97}.50"] for i in range(start, start + rows)])
    return path


def one_file_seconds(spark, already: int, batches: int = 10) -> float:
    root = Path(tempfile.mkdtemp(prefix="ingest_bench_"))
    try:
        lakehouse = LakehouseResource(root=str(root))
        folder = lakehouse.landing_path("orders")
        per_batch = max(1, already // batches)
        for b in range(0, already, per_batch):
            for i in range(b, min(already, b + per_batch)):
                _file(folder / f"d{i % 20}", f"old-{i:05d}.csv", i * 100)
            ingest(spark, lakehouse, SPEC)
        _file(folder, "new.csv", 10_000_000)
        started = time.perf_counter()
        result = ingest(spark, lakehouse, SPEC)
        elapsed = time.perf_counter() - started
        assert result.files == ["new.csv"], result.files
        return elapsed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def tick_seconds(files: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="tick_bench_"))
    try:
        old = time.time() - 3600
        for i in range(files):
            path = _file(root / f"d{i % 50}", f"f{i}.csv", 0, rows=1)
            os.utime(path, (old, old))
        sensor = file_arrival_sensor(name="bench", location=root, job_name="j")
        with dg.instance_for_test() as instance:
            cursor = sensor(dg.build_sensor_context(instance=instance)).cursor  # the first tick sees everything
            time.sleep(2.1)
            cursor = sensor(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
            started = time.perf_counter()
            sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            return time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--already", type=int, default=1000)
    args = parser.parse_args()
    spark = SparkResource().get_session()
    one_file_seconds(spark, 0)  # warm-up: JIT, Delta classes
    none = [one_file_seconds(spark, 0) for _ in range(args.repeat)]
    one = [one_file_seconds(spark, 1, batches=1) for _ in range(args.repeat)]
    many = [one_file_seconds(spark, args.already) for _ in range(args.repeat)]
    fresh, base, loaded = statistics.median(none), statistics.median(one), statistics.median(many)
    show = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    print(f"ingest 1 new file, nothing ingested (creates the table): median {fresh:6.2f} s  ({show(none)})")
    print(f"ingest 1 new file, 1 file ingested before             : median {base:6.2f} s  ({show(one)})")
    print(f"ingest 1 new file, {args.already} files ingested before (10 batches): median {loaded:6.2f} s  ({show(many)})")
    print(f"ratio vs 1 ingested: {loaded / base:.2f}x; vs none (table creation): {loaded / fresh:.2f}x  (target <= 1.20x)")
    t0, t1 = tick_seconds(0), tick_seconds(10_000)
    print(f"sensor tick, 0 files seen: {t0 * 1000:.1f} ms; 10,000 files seen: {t1 * 1000:.1f} ms (the listing itself)")


if __name__ == "__main__":
    main()
