"""Benchmark: a job cluster on Sail vs on the JVM - a run's cold start and a task's cost on a warm cluster.

    .venv/bin/python bench/job_clusters.py            # 3 rounds per figure
    .venv/bin/python bench/job_clusters.py --repeat 5

Each sample is a fresh Python process, as a run's first task or a step process is: it imports
`SparkResource`, gets its session from `SparkResource(job_cluster=True, engine=...)` and answers
`spark.range(1000).count()`, then asks the same again on the open session. Per engine (spark: the JVM
Spark Connect server with Delta; sail: `pysail spark server`), medians over --repeat:
  cold   no cluster running: the process starts it (the cluster is stopped before each sample);
  warm   the cluster of the previous sample still runs (autotermination 10 min).
Figures: process start -> first answer (the whole cost a run sees), attach + first answer (the part after
the imports, the Connect client's included: a task process pays those on any engine), and the query alone
on the open session. A task's overhead on the warm cluster is attach +
first answer minus the query alone: what using the cluster costs beyond the task's own work.
Issue #19's goals: Sail cold start of a run <= 1 s, per-task overhead on a warm cluster <= 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("sail", "spark")
COLD_GOAL_S, TASK_GOAL_S = 1.0, 0.1

TASK = """
import json, sys, time
started = time.perf_counter()
from lakehouse_jobs.lib.runtime.spark import SparkResource
import pyspark.sql.connect.session  # the Connect client (grpc, pandas, pyarrow): any task's import, whatever the engine
imported = time.perf_counter()
spark = SparkResource(job_cluster=True, engine=sys.argv[1], autotermination_minutes=10, cluster_state_dir=sys.argv[2]).get_session()
assert spark.range(1000).count() == 1000
answered = time.perf_counter()
assert spark.range(1000).count() == 1000
print(json.dumps({"imports": imported - started, "attach_answer": answered - imported, "query": time.perf_counter() - answered}))
"""


def sample(engine: str, state_dir: Path) -> dict[str, float]:
    """One task process: its timings, and its wall time from launch to exit."""
    launched = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", TASK, engine, str(state_dir)], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - launched
    if done.returncode != 0:
        sys.exit(f"the {engine} task failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "to_answer": wall - figures["query"], "wall": wall}


def measure(engine: str, state_dir: Path, repeat: int) -> dict[str, dict[str, float]]:
    from lakehouse_jobs.lib.runtime import job_cluster

    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    try:
        for _ in range(repeat):
            job_cluster.stop_all(state_dir)
            runs["cold"].append(sample(engine, state_dir))
            runs["warm"].append(sample(engine, state_dir))
    finally:
        job_cluster.stop_all(state_dir)
    return {kind: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for kind, rows in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="samples per figure; medians (default 3)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; medians of {args.repeat}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="lakehouse_bench_clusters_") as tmp:
        for engine in ENGINES:
            results[engine] = measure(engine, Path(tmp) / engine, args.repeat)
            print(f"  {engine} measured", flush=True)
    sail, jvm = results["sail"], results["spark"]
    rows = [
        ("cold: process start -> first answer", "cold", "to_answer"),
        ("cold: attach (cluster starts) + first answer", "cold", "attach_answer"),
        ("warm: process start -> first answer", "warm", "to_answer"),
        ("warm: attach + first answer", "warm", "attach_answer"),
        ("query alone on the open session", "warm", "query"),
    ]
    print(f"{'':48} {'sail':>9} {'spark':>9} {'sail/spark':>11}")
    for label, kind, key in rows:
        print(f"{label:48} {sail[kind][key]:8.3f}s {jvm[kind][key]:8.3f}s {sail[kind][key] / jvm[kind][key]:10.2f}x")
    overhead = {e: results[e]["warm"]["attach_answer"] - results[e]["warm"]["query"] for e in ENGINES}
    print(f"{'per-task overhead on the warm cluster':48} {overhead['sail']:8.3f}s {overhead['spark']:8.3f}s")
    cold = sail["cold"]["attach_answer"]
    print(
        f"goals (sail): cold start {cold:.2f} s (attach + first answer; <= {COLD_GOAL_S} s: {'met' if cold <= COLD_GOAL_S else 'NOT met'}), "
        f"per-task overhead {overhead['sail']:.3f} s (<= {TASK_GOAL_S} s: {'met' if overhead['sail'] <= TASK_GOAL_S else 'NOT met'})"
    )
    print(
        f"sail_cold_s={cold:.2f} sail_task_overhead_s={overhead['sail']:.3f} spark_cold_s={jvm['cold']['attach_answer']:.2f} spark_task_overhead_s={overhead['spark']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
