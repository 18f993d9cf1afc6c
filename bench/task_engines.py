"""Benchmark: a Databricks job of notebook and SQL file tasks on Sail (LAKEHOUSE_ENGINE=auto) vs the JVM.

    .venv/bin/python bench/task_engines.py                     # 200k orders, 3 rounds
    .venv/bin/python bench/task_engines.py --orders 1000000 --repeat 3

The job (issue #19, item 3): `bronze` notebook reads a CSV from a volume and writes `main.bronze.orders`;
`silver` SQL file: `CREATE OR REPLACE TABLE main.silver.orders AS SELECT ...` then `OPTIMIZE` it;
`gold` notebook: a `%sql` cell aggregating `main.gold.daily`. Each sample is `lakehouse-jobs run` in a
fresh process on a fresh lakehouse root, as a user starts it: `auto` (its tasks' code uses nothing Sail
lacks, so the run is on Sail: checked from the run's engine tag) vs `spark` (the embedded JVM).
Rounds alternate the engines; figures are medians of the whole process's wall time; the gold tables of
the two engines are compared (same rows). The last line holds the ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("lakehouse-jobs"))
JOBS = """resources:
  jobs:
    orders:
      name: orders
      tasks:
        - task_key: bronze
          notebook_task: {notebook_path: ./bronze}
        - task_key: silver
          depends_on: [{task_key: bronze}]
          sql_task: {file: {path: ./silver.sql}}
        - task_key: gold
          depends_on: [{task_key: silver}]
          notebook_task: {notebook_path: ./gold}
"""
BRONZE = """# Databricks notebook source
raw = spark.read.csv("/Volumes/main/raw/landing/orders.csv", header=True)
orders = raw.selectExpr("CAST(order_id AS BIGINT) AS order_id", "customer", "CAST(amount AS DECIMAL(10,2)) AS amount", "CAST(day AS DATE) AS day")
orders.write.format("delta").mode("overwrite").saveAsTable("main.bronze.orders")
"""
SILVER = """CREATE OR REPLACE TABLE main.silver.orders AS
SELECT order_id, customer, amount, day FROM main.bronze.orders WHERE amount > 0;
OPTIMIZE main.silver.orders;
"""
GOLD = """# Databricks notebook source
# MAGIC %sql
# MAGIC CREATE OR REPLACE TABLE main.gold.daily AS
# MAGIC SELECT day, count(*) AS orders, sum(amount) AS revenue FROM main.silver.orders GROUP BY day
"""


def write_project(folder: Path, orders: int) -> Path:
    """The job's files and its CSV of `orders` rows (a few with a non-positive amount)."""
    folder.mkdir(parents=True)
    for name, text in (("jobs.yml", JOBS), ("bronze.py", BRONZE), ("silver.sql", SILVER), ("gold.py", GOLD)):
        (folder / name).write_text(text)
    data = folder / "orders.csv"
    rng = random.Random(19)
    with data.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer", "amount", "day"])
        for i in range(orders):
            out.writerow([i, f"c{rng.randrange(5000)}", f"{rng.uniform(-5, 500):.2f}", f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"])
    return data


def sample(project: Path, data: Path, work: Path, engine: str) -> tuple[float, Path]:
    """One `lakehouse-jobs run` on a fresh root: its wall time and the root."""
    import dagster as dg

    root = Path(tempfile.mkdtemp(prefix=f"{engine}_", dir=work))
    landing = root / "volumes" / "main" / "raw" / "landing"
    landing.mkdir(parents=True)
    shutil.copy(data, landing / "orders.csv")
    home = root / ".dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(home), "LAKEHOUSE_ENGINE": engine, "LAKEHOUSE_WORKSPACE_ROOT": str(project)}
    started = time.perf_counter()
    done = subprocess.run([CLI, "run", "jobs.yml", "--job", "orders"], cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the {engine} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ran_on = max(instance.get_run_records(), key=lambda r: r.create_timestamp).dagster_run.tags.get("lakehouse_jobs/engine")
    if ran_on != ("sail" if engine == "auto" else "spark"):
        sys.exit(f"LAKEHOUSE_ENGINE={engine} ran on {ran_on!r}")
    return wall, root


def gold(root: Path) -> list[tuple]:
    from deltalake import DeltaTable

    frame = DeltaTable(str(root / "gold" / "daily")).to_pandas()
    return sorted((str(r.day), int(r.orders), str(r.revenue)) for r in frame.itertuples(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="task_engines_") as tmp:
        work = Path(tmp)
        project = work / "project"
        data = write_project(project, args.orders)
        times: dict[str, list[float]] = {"auto": [], "spark": []}
        roots: dict[str, Path] = {}
        for round_ in range(args.repeat):
            for engine in ("auto", "spark") if round_ % 2 == 0 else ("spark", "auto"):
                wall, roots[engine] = sample(project, data, work, engine)
                times[engine].append(wall)
                print(f"round {round_ + 1}: {engine:5} {wall:6.1f} s", flush=True)
        same = gold(roots["auto"]) == gold(roots["spark"])
        sail, jvm = statistics.median(times["auto"]), statistics.median(times["spark"])
        print(f"{args.orders:,} orders, 3 tasks (notebook, SQL file with OPTIMIZE, notebook), medians over {args.repeat} rounds:")
        print(f"  sail (LAKEHOUSE_ENGINE=auto)  {sail:6.1f} s   {times['auto']}")
        print(f"  jvm  (LAKEHOUSE_ENGINE=spark) {jvm:6.1f} s   {times['spark']}")
        print(f"gold tables equal: {same}; sail/jvm = {sail / jvm:.3f}x")


if __name__ == "__main__":
    main()
