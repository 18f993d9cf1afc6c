"""Benchmark: Databricks notebook tasks (issue 15) - what running notebooks as a job costs.

    .venv/bin/python bench/databricks_tasks.py                    # 10 tasks, 100k orders, 3 rounds
    .venv/bin/python bench/databricks_tasks.py --orders 1000000   # the issue's figure
    .venv/bin/python bench/databricks_tasks.py --quick            # small, < 2 minutes

Everything runs in THIS process on one warm SparkSession (`SparkResource().get_session()`):
the jobs are compiled from a spec and run with `dg.execute_job` on a throwaway Dagster instance
(`dg.instance_for_test()`); their executor, `lakehouse_jobs_in_process`, runs every step in
this process, so the notebooks share the session (checked: the notebooks write their pid).

1. Notebook orchestration overhead (goal: <= 0.3 s per task)
   B  the trivial notebook's code (`spark.range(n).count()`, a widget read) exec'd N times here;
   T  a job of N sequential notebook_tasks (each depends_on the previous) running that notebook.
   Per-task overhead = (T(N) - B(N)) / N; the run's fixed cost = T(1) - B(1).
2. The example's three-notebook ETL at scale (goal: J/S <= 1.15)
   S  one hand-written PySpark script doing the notebooks' work in one session: the same reads,
      casts, dedup, aggregate, Delta writes and the counts/previews the notebooks compute;
   J  examples/databricks_etl's bronze_ingest (.py) -> silver_transform (.sql) -> gold_aggregate
      (.ipynb) notebook tasks only, with job parameters lakehouse_root/landing, via execute_job.
   Both gold tables are compared (row count, revenue sum).

Rounds alternate the variants (B,T then T,B, ...) after an untimed warm-up; figures are
medians over --repeat rounds. Job output (Dagster's console log, cell output) goes to a log file
in the work folder. The last line holds the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE = REPO / "examples" / "databricks_etl"
ETL_NOTEBOOKS = {
    "bronze_ingest": EXAMPLE / "notebooks" / "bronze_ingest.py",
    "silver_transform": EXAMPLE / "notebooks" / "silver_transform.sql",
    "gold_aggregate": EXAMPLE / "notebooks" / "gold_aggregate.ipynb",
}
OVERHEAD_GOAL_S = 0.3
RATIO_GOAL = 1.15

# The trivial notebook's one code cell: B exec's exactly this text, T runs it as a notebook.
TRIVIAL_CELL = """\
import os

dbutils.widgets.text("n", "10")
n = int(dbutils.widgets.get("n"))
assert spark.range(n).count() == n
with open(dbutils.widgets.get("pid_file"), "a") as handle:
    handle.write(f"{os.getpid()}\\n")
"""


class _Widgets:
    """B's stand-in for dbutils.widgets: a dict of values, what a plain script reads its arguments from."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)

    def text(self, name: str, default: str, label: str | None = None) -> None:
        self.values.setdefault(name, default)

    def get(self, name: str) -> str:
        return self.values[name]


class _DbUtils:
    def __init__(self, values: dict[str, str]) -> None:
        self.widgets = _Widgets(values)


def step_seconds(instance: Any, run_id: str) -> dict[str, float]:
    """Seconds per step of a run, as Dagster reports them (STEP_SUCCESS)."""
    import dagster as dg

    return {
        entry.step_key: entry.dagster_event.event_specific_data.duration_ms / 1000
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    }


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _write_spec(path: Path, job_key: str, job: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"resources": {"jobs": {job_key: job}}}, sort_keys=False))
    return path


def _execute(spec_path: Path, job_key: str, instance: Any, log: Path, params: dict[str, str] | None = None) -> str:
    """Run the job spec through execute_job in this process; its console output goes to `log`. Returns the run id."""
    import dagster as dg

    from lakehouse_jobs.lib.jobs import reconstructable_job
    from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY

    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": dict(params or {})}}}}
    with log.open("a") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        recon = reconstructable_job(path=str(spec_path), job_key=job_key)
        with dg.execute_job(recon, instance, run_config=run_config, raise_on_error=False) as result:
            success, run_id = result.success, result.run_id
    if not success:
        sys.exit(f"job {job_key} failed (run {run_id}); see {log}")
    return run_id


# ---------------------------------------------------------------- 1. orchestration overhead


class Overhead:
    """B and T for the trivial notebook, in one work folder (notebook + one spec per N)."""

    def __init__(self, spark: Any, workdir: Path, instance: Any) -> None:
        self.spark, self.instance = spark, instance
        self.folder = workdir / "overhead"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.notebook = self.folder / "trivial.py"
        self.notebook.write_text("# Databricks notebook source\n" + TRIVIAL_CELL)
        self.pid_file = self.folder / "pids.txt"
        self.lake = workdir / "overhead_lake"
        self.lake.mkdir(exist_ok=True)
        self.log = workdir / "overhead.log"
        self.code = compile(TRIVIAL_CELL, "<trivial notebook cell>", "exec")
        self.specs: dict[int, Path] = {}
        self.last_run: dict[int, str] = {}

    def params(self) -> dict[str, str]:
        return {"n": "10", "pid_file": str(self.pid_file)}

    def spec(self, tasks: int) -> Path:
        if tasks not in self.specs:
            body = {"notebook_path": str(self.notebook), "base_parameters": self.params()}
            job = {
                "name": f"{tasks} trivial notebooks in a chain",
                "tasks": [
                    {"task_key": f"nb_{i:03d}", "notebook_task": body, **({"depends_on": [{"task_key": f"nb_{i - 1:03d}"}]} if i else {})} for i in range(tasks)
                ],
            }
            self.specs[tasks] = _write_spec(self.folder / f"chain_{tasks}.job.yml", f"chain_{tasks}", job)
        return self.specs[tasks]

    def baseline(self, tasks: int) -> float:
        """B: the cell's code exec'd `tasks` times in this process (fresh namespace each time, as a notebook gets)."""

        def work() -> None:
            for _ in range(tasks):
                exec(self.code, {"spark": self.spark, "dbutils": _DbUtils(self.params())})

        return _timed(work)

    def job(self, tasks: int) -> float:
        """T: the chain of `tasks` notebook_tasks through execute_job (spec written beforehand)."""
        spec = self.spec(tasks)
        os.environ["LAKEHOUSE_WORKSPACE_ROOT"] = str(self.folder)
        os.environ["LAKEHOUSE_ROOT"] = str(self.lake)  # an empty lakehouse: the notebook writes no table

        def work() -> None:
            self.last_run[tasks] = _execute(spec, f"chain_{tasks}", self.instance, self.log)

        return _timed(work)

    def pids(self) -> set[int]:
        return {int(line) for line in self.pid_file.read_text().split()}


# ---------------------------------------------------------------- 2. the three-notebook ETL


def etl_script(spark: Any, root: Path, landing: Path) -> dict[str, float]:
    """S: the three notebooks' work as one plain PySpark script (no notebooks, no Dagster).

    Per notebook: bronze writes the landing CSVs as text columns + source file and counts the
    table; silver try_casts, drops unparsable rows, keeps each order's latest version and counts;
    gold aggregates completed orders per day, previews 20 rows (display) and sums the table.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def path(layer: str, name: str) -> str:
        return f"{root}/{layer}/{name}"

    phases, mark = {}, [time.perf_counter()]

    def done(phase: str) -> None:
        now = time.perf_counter()
        phases[phase], mark[0] = now - mark[0], now

    raw = spark.read.option("header", True).csv(str(landing)).withColumn("_source_file", F.col("_metadata.file_path"))
    raw.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path("bronze", "etl_orders"))
    spark.read.format("delta").load(path("bronze", "etl_orders")).count()
    done("bronze_ingest")

    bronze = spark.read.format("delta").load(path("bronze", "etl_orders"))
    typed = bronze.select(
        F.col("order_id").try_cast("bigint").alias("order_id"),
        F.col("customer_id").try_cast("bigint").alias("customer_id"),
        F.col("order_ts").try_cast("timestamp").alias("order_ts"),
        "product_id",
        F.col("quantity").try_cast("int").alias("quantity"),
        F.col("unit_price").try_cast("decimal(10,2)").alias("unit_price"),
        F.lower("status").alias("status"),
    )
    latest = Window.partitionBy("order_id").orderBy(F.col("order_ts").desc())
    silver = (
        typed.where("order_id IS NOT NULL AND order_ts IS NOT NULL AND quantity IS NOT NULL AND unit_price IS NOT NULL")
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .select(
            "order_id",
            "customer_id",
            "order_ts",
            F.to_date("order_ts").alias("order_date"),
            "product_id",
            "quantity",
            "unit_price",
            (F.col("quantity") * F.col("unit_price")).alias("amount"),
            "status",
        )
    )
    silver.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path("silver", "etl_orders"))
    spark.read.format("delta").load(path("silver", "etl_orders")).agg(F.count("*")).limit(21).collect()
    done("silver_transform")

    silver = spark.read.format("delta").load(path("silver", "etl_orders"))
    daily = silver.filter(F.col("status") == "completed").groupBy("order_date").agg(F.count("*").alias("orders"), F.sum("amount").alias("revenue"))
    daily.write.format("delta").mode("overwrite").save(path("gold", "etl_daily_revenue"))
    daily.orderBy("order_date").limit(21).collect()
    spark.read.format("delta").load(path("gold", "etl_daily_revenue")).agg(F.count("*").alias("days"), F.sum("revenue").alias("revenue")).first()
    done("gold_aggregate")
    return phases


class Etl:
    """S and J over one landing folder, each into its own lakehouse root (emptied before each run)."""

    def __init__(self, spark: Any, workdir: Path, instance: Any, landing: Path, name: str = "etl") -> None:
        self.spark, self.instance, self.landing = spark, instance, landing
        self.roots = {v: workdir / f"{name}_{v}" for v in ("S", "J")}
        self.log = workdir / f"{name}.log"
        self.phases: dict[str, float] = {}
        self.run_id = ""
        job = {
            "name": "databricks_etl's three notebooks",
            "parameters": [{"name": "lakehouse_root", "default": str(self.roots["J"])}, {"name": "landing", "default": str(landing)}],
            "tasks": [
                {"task_key": key, "notebook_task": {"notebook_path": str(path)}, **({"depends_on": [{"task_key": prev}]} if prev else {})}
                for (key, path), prev in zip(ETL_NOTEBOOKS.items(), [None, *ETL_NOTEBOOKS], strict=False)
            ],
        }
        self.spec = _write_spec(workdir / f"{name}.job.yml", "etl_notebooks", job)

    def _fresh(self, variant: str) -> Path:
        root = self.roots[variant]
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return root

    def script(self) -> float:
        root = self._fresh("S")

        def work() -> None:
            self.phases = etl_script(self.spark, root, self.landing)

        return _timed(work)

    def job(self) -> float:
        root = self._fresh("J")
        os.environ["LAKEHOUSE_WORKSPACE_ROOT"] = str(EXAMPLE)  # the notebooks' folder (and their %run ./setup)
        os.environ["LAKEHOUSE_ROOT"] = str(root)  # the lakehouse the run's observed lineage scans
        params = {"lakehouse_root": str(root), "landing": str(self.landing)}

        def work() -> None:
            self.run_id = _execute(self.spec, "etl_notebooks", self.instance, self.log, params)

        return _timed(work)

    def gold(self, variant: str) -> tuple[int, Any]:
        from pyspark.sql import functions as F

        row = self.spark.read.format("delta").load(f"{self.roots[variant]}/gold/etl_daily_revenue").agg(F.count("*"), F.sum("revenue")).first()
        return row[0], row[1]


# ---------------------------------------------------------------- driver


def generate(root: Path, orders: int, customers: int, files: int) -> Path:
    cmd = [str(BIN / "lakehouse-jobs"), "generate", "--orders", str(orders), "--customers", str(customers), "--events", "0", "--files", str(files)]
    subprocess.run([*cmd, "--root", str(root)], check=True, stdout=subprocess.DEVNULL)
    return root / "landing" / "orders"


def _rounds(repeat: int, variants: dict[str, Callable[[], float]], label: str) -> dict[str, list[float]]:
    """`repeat` rounds; the variants' order flips every round (B,T then T,B) so drift hits both."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    names = list(variants)
    for round_ in range(repeat):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(variants[name]())
        print(f"  {label} round {round_ + 1}: " + "  ".join(f"{n}={times[n][-1]:.2f}s" for n in names) + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    return times


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def bench_overhead(spark: Any, workdir: Path, instance: Any, tasks: int, repeat: int) -> dict[str, float]:
    bench = Overhead(spark, workdir, instance)
    bench.job(1), bench.baseline(1)  # warm-up (untimed): imports, compile path, the first Spark job of this shape
    times = _rounds(
        repeat,
        {"B1": lambda: bench.baseline(1), "T1": lambda: bench.job(1), f"B{tasks}": lambda: bench.baseline(tasks), f"T{tasks}": lambda: bench.job(tasks)},
        "overhead",
    )
    pids = bench.pids()
    b1, t1, bn, tn = (_median(times[k]) for k in ("B1", "T1", f"B{tasks}", f"T{tasks}"))
    per_task = (tn - bn) / tasks
    fixed = t1 - b1
    print(f"1. notebook orchestration overhead: trivial notebook, medians of {repeat}")
    print(f"  B  plain Python, {tasks} x the cell         {bn:7.2f} s   (1 x: {b1:.2f} s)   rounds: {_spread(times[f'B{tasks}'])}")
    print(f"  T  job of {tasks} chained notebook_tasks    {tn:7.2f} s   (1 task: {t1:.2f} s)   rounds: {_spread(times[f'T{tasks}'])}")
    print(
        f"  per-task overhead (T-B)/{tasks}            {per_task:7.2f} s   (goal <= {OVERHEAD_GOAL_S} s: {'met' if per_task <= OVERHEAD_GOAL_S else 'NOT met'})"
    )
    print(f"  fixed cost of a run T(1)-B(1)         {fixed:7.2f} s")
    marginal = (tn - t1 - (bn - b1)) / max(1, tasks - 1)
    print(f"  marginal task cost (T(N)-T(1)-(B(N)-B(1)))/(N-1) {marginal:5.2f} s")
    steps = step_seconds(bench.instance, bench.last_run[tasks])
    in_step = statistics.median(v for k, v in steps.items() if k.startswith("nb_"))
    cell = bn / tasks
    print(
        f"  inside a notebook step (Dagster's step time, last T run): {in_step:.2f} s vs B's {cell:.2f} s per cell -> "
        f"{in_step - cell:.2f} s of the per-task overhead is in the step (notebook runner, metadata, lineage), "
        f"{per_task - (in_step - cell):.2f} s outside the notebook steps (run start, spec load, Dagster events, the result op; amortized over N)"
    )
    here = "all in this process" if pids == {os.getpid()} else f"NOT only this process: pids {sorted(pids)} vs {os.getpid()}"
    print(f"  the notebooks ran {here} (shared warm SparkSession)")
    return {"per_task": per_task, "fixed": fixed}


def bench_etl(
    spark: Any, workdir: Path, instance: Any, landing: Path, warm_landing: Path | None, repeat: int, sizes: str, quick: bool = False
) -> dict[str, float]:
    bench = Etl(spark, workdir, instance, landing)
    # Warm-up (untimed): one S and one J on the real data (the JVM's CSV/Delta/window code paths at
    # this size: a first round on cold code took twice as long); --quick warms S up on 300 rows only
    # (part 1 has already warmed Dagster and the notebook runner).
    if quick:
        Etl(spark, workdir, instance, warm_landing, name="etl_warmup").script()
    else:
        bench.script(), bench.job()
    times = _rounds(repeat, {"S": bench.script, "J": bench.job}, "etl")
    s, j = _median(times["S"]), _median(times["J"])
    gold_s, gold_j = bench.gold("S"), bench.gold("J")
    print(f"2. three-notebook ETL ({sizes}), medians of {repeat}")
    print(f"  S  one PySpark script, one session     {s:7.2f} s   rounds: {_spread(times['S'])}")
    print(f"  J  bronze.py -> silver.sql -> gold.ipynb {j:5.2f} s   rounds: {_spread(times['J'])}")
    ratios = [jj / ss for jj, ss in zip(times["J"], times["S"], strict=True)]
    print(
        f"  J/S                                   {j / s:7.2f}     (goal <= {RATIO_GOAL}: {'met' if j / s <= RATIO_GOAL else 'NOT met'})   by round: {_spread(ratios)} (median {statistics.median(ratios):.2f})"
    )
    steps = step_seconds(instance, bench.run_id)
    print("  seconds per notebook (last round):    S      J (Dagster step)")
    for key in ETL_NOTEBOOKS:
        print(f"    {key:<33} {bench.phases.get(key, 0):6.2f} {steps.get(key, 0):6.2f}")
    same = "the same gold table" if gold_s == gold_j else "DIFFERENT gold tables"
    print(f"  gold/etl_daily_revenue: S {gold_s[0]} days, revenue {gold_s[1]}; J {gold_j[0]} days, revenue {gold_j[1]} -> {same}")
    if gold_s != gold_j:
        sys.exit("S and J built different gold tables")
    return {"S": s, "J": j}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10, help="N: notebook tasks in T's chain (default 10)")
    parser.add_argument("--orders", type=int, default=100_000, help="orders the ETL reads (default 100000; the issue's figure: 1000000)")
    parser.add_argument("--customers", type=int, help="default: orders/50 (at least 60)")
    parser.add_argument("--files", type=int, default=4, help="landing CSV files (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures are medians (default 3)")
    parser.add_argument("--parts", default="overhead,etl", help="comma list of overhead,etl (default both)")
    parser.add_argument("--quick", action="store_true", help="small and fast (< 2 min): 3 tasks, 2000 orders, 1 round, J not warmed up")
    parser.add_argument("--workdir", help="keep data and logs here (default: a temp folder, removed)")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.orders, args.files, args.repeat = 3, 2_000, 2, 1
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - {"overhead", "etl"}:
        parser.error(f"--parts: choose from overhead,etl (got {args.parts!r})")
    if args.repeat < 1 or args.tasks < 2:
        parser.error("--repeat must be at least 1 and --tasks at least 2")

    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="lakehouse_bench_tasks_"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        landing = warm_landing = None
        if "etl" in parts:
            customers = args.customers or max(60, args.orders // 50)
            landing = generate(workdir / "source", args.orders, customers, args.files)
            warm_landing = generate(workdir / "warm_source", 300, 60, 2) if args.quick else None
        generated = time.perf_counter() - started
        import dagster as dg

        from lakehouse_jobs.lib import SparkResource

        spark = SparkResource().get_session()
        session_s = time.perf_counter() - started - generated
        load = os.getloadavg()
        print(
            f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; SparkSession started in {session_s:.1f}s"
            + (f"; {args.orders} orders in {args.files} files generated in {generated:.1f}s" if landing else ""),
            flush=True,
        )
        results: dict[str, float] = {}
        with dg.instance_for_test() as instance:
            if "overhead" in parts:
                results.update(bench_overhead(spark, workdir, instance, args.tasks, args.repeat))
            if "etl" in parts:
                results.update(bench_etl(spark, workdir, instance, landing, warm_landing, args.repeat, f"{args.orders} orders, {args.files} files", args.quick))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print(f"total {time.perf_counter() - started:.0f}s; load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    line = []
    if "per_task" in results:
        line += [f"overhead_per_task_s={results['per_task']:.2f}", f"run_fixed_cost_s={results['fixed']:.2f}"]
    if "J" in results:
        line.append(f"J/S={results['J'] / results['S']:.2f}")
    print(" ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
