"""Benchmark: the example lakehouse as (L) the limit, (N) the naive peer, (P) lakehouse_jobs.

    .venv/bin/python bench/medallion.py --orders 1000000

One run, same seeded landing data (`lakehouse-jobs generate`), each variant in
its own fresh process and lakehouse root, wall time from process start to exit:
  L  one hand-written PySpark script: the example's own transformation functions
     called in order in one SparkSession, each result saved as a Delta table;
  N  the same assets on dagster-pyspark's PySparkResource under Dagster's default
     multiprocess executor (a JVM per step) - bench/naive_defs.py;
  P  `make materialize`'s command on lakehouse_jobs.definitions (the default path),
     selecting the example's Delta tables (what L builds; ML and dbt left out).
Extra variants on request (--variants L,N,P,J,W):
  J  the same assets on a job cluster (one Spark Connect server) under the
     multiprocess executor - parallel tasks, one JVM;
  W  P's command with a reusable job cluster (`-c`, autotermination 10 min): run
     once to warm the cluster, then timed on the warm cluster.
The last line is `P/L=<x> P/N=<y> overhead_per_task_s=<z>`: the overhead is what
P spends beyond the limit, per task, (P - L) / tasks; with W it is measured on the
warm cluster against L without its session start, (W - (L - L_session)) / tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

VARIANTS = {
    "L": "limit: one PySpark script, one SparkSession",
    "N": "naive: dagster-pyspark PySparkResource, multiprocess executor",
    "P": "lakehouse_jobs default (make materialize)",
    "J": "lakehouse_jobs job cluster + multiprocess executor",
    "W": "lakehouse_jobs default on a warm reusable job cluster",
}


def _raw(asset):
    """The function a @medallion_asset wraps (read from its closure, so L runs the same code)."""
    compute = asset.op.compute_fn.decorated_fn
    cells = dict(zip(compute.__code__.co_freevars, (c.cell_contents for c in compute.__closure__ or ()), strict=False))
    return cells["fn"]


def run_limit(root: str) -> dict[str, float]:
    """L: the example pipeline written as one script, no orchestration, no metadata.

    Bronze is a plain batch read of every landing file (no exactly-once
    bookkeeping); silver and gold call the example's own functions, and the
    customer tables the library's apply_changes, so the Spark work is the same.
    """
    started = time.perf_counter()
    from lakehouse_jobs.defs import clickstream, customers, generate, orders
    from lakehouse_jobs.lib import LakehouseResource, SparkResource, TableOutput, read_landing
    from lakehouse_jobs.lib.ingest.landing import landing_files
    from lakehouse_jobs.lib.tables.cdc import apply_changes

    spark = SparkResource().get_session()
    session_s = time.perf_counter() - started
    lake = LakehouseResource(root=root)

    steps: dict[str, float] = {}
    mark = [time.perf_counter()]

    def save(result, layer: str, table: str):
        df = result.df if isinstance(result, TableOutput) else result
        path = str(lake.table_path(layer, table))
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        now = time.perf_counter()
        steps[f"{layer}/{table}"], mark[0] = now - mark[0], now
        return spark.read.format("delta").load(path)

    def bronze(source: str, fmt: str, suffixes: list[str], columns: list[str]):
        files = landing_files(lake.landing_path(source), suffixes)
        return save(read_landing(spark, files, fmt, columns), "bronze", source)

    bronze_orders = bronze("orders", "csv", [".csv"], generate.ORDER_COLUMNS)
    bronze_clicks = bronze("clickstream", "json", [".json", ".jsonl"], generate.EVENT_COLUMNS)
    bronze_customers = bronze("customers", "csv", [".csv"], generate.CUSTOMER_COLUMNS)
    silver_orders = save(_raw(orders.silver_orders)(bronze_orders), "silver", "orders")
    silver_events = save(_raw(clickstream.silver_events)(bronze_clicks), "silver", "events")
    cdc = {k: v for k, v in customers.CDC.items() if k != "source"}
    for name, scd in (("customers", 1), ("customers_history", 2)):
        feed = customers.change_feed(bronze_customers).df
        apply_changes(spark, feed, lake.table_path("silver", name), stored_as_scd_type=scd, **cdc)
        now = time.perf_counter()
        steps[f"silver/{name}"], mark[0] = now - mark[0], now
    silver_customers = spark.read.format("delta").load(str(lake.table_path("silver", "customers")))
    save(_raw(orders.gold_daily_revenue)(silver_orders), "gold", "daily_revenue")
    save(_raw(clickstream.gold_event_funnel)(silver_events), "gold", "event_funnel")
    save(_raw(customers.gold_customer_features)(spark, silver_customers, silver_orders, silver_events), "gold", "customer_features")
    return {"session_s": session_s, "total_s": time.perf_counter() - started, "steps": steps}


def medallion_keys() -> list[str]:
    """The example's Delta tables (what L builds); ML and dbt assets are left out."""
    from lakehouse_jobs.definitions import medallion_assets

    return sorted(key.to_user_string() for asset in medallion_assets for key in asset.keys)


def _env(root: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def dagster_home(workdir: Path) -> Path:
    """One DAGSTER_HOME for the Dagster variants, its sqlite storage created before any timing
    (like the jars `prepare` fetches: one-time setup, not part of a materialization)."""
    home = workdir / ".dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=_env(workdir, home), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return home


def _warm_config(workdir: Path) -> Path:
    path = workdir / "warm_cluster.yaml"
    path.write_text(
        json.dumps({"resources": {"spark": {"config": {"job_cluster": True, "autotermination_minutes": 10, "cluster_state_dir": str(workdir / "clusters")}}}})
    )
    return path


def _command(variant: str, root: Path, keys: list[str]) -> list[str]:
    dagster = [str(BIN / "dagster"), "asset", "materialize", "--select", ",".join(keys)]
    if variant == "L":
        return [sys.executable, __file__, "--run-limit", str(root)]
    if variant == "N":
        return [*dagster, "-f", str(REPO / "bench" / "naive_defs.py")]
    if variant == "J":
        return [*dagster, "-f", str(REPO / "lakehouse_jobs_tests" / "compute" / "cluster_defs.py")]
    if variant.startswith("W"):
        return [*dagster, "-m", "lakehouse_jobs.definitions", "-c", str(_warm_config(root.parent))]
    return [*dagster, "-m", "lakehouse_jobs.definitions"]


def run_variant(variant: str, workdir: Path, landing: Path, keys: list[str], home: Path) -> float:
    root = workdir / variant
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copytree(landing, root / "landing", copy_function=os.link)
    log = workdir / f"{variant}.log"
    started = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.run(_command(variant, root, keys), cwd=REPO, env=_env(root, home), stdout=handle, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"variant {variant} failed (exit {proc.returncode}); see {log}")
    return wall


def step_times(workdir: Path, variant: str) -> dict[str, float]:
    """Seconds per table of the variant's last run: L reports them, Dagster logs STEP_SUCCESS."""
    text = (workdir / f"{variant}.log").read_text()
    if variant == "L":
        return json.loads(text.strip().splitlines()[-1])["steps"]
    found = re.findall(r'- ([a-z0-9_]+)__([a-z0-9_]+) - STEP_SUCCESS - Finished execution of step "[^"]+" in ([0-9.]+)(m?s)', text)
    return {f"{layer}/{table}": float(value) / (1000 if unit == "ms" else 1) for layer, table, value, unit in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, help="default: orders/50 (at least 60)")
    parser.add_argument("--events", type=int, help="default: as many as orders")
    parser.add_argument("--files", type=int, default=4, help="landing files per source")
    parser.add_argument("--variants", default="L,N,P", help="comma list of L,N,P,J,W (default L,N,P)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all variants, in turn; figures are per-variant medians (default 1)")
    parser.add_argument("--workdir", help="keep data and logs here (default: a temp folder, removed)")
    parser.add_argument("--run-limit", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_limit:
        print(json.dumps(run_limit(args.run_limit)))
        return 0

    variants = [v.strip().upper() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lakehouse_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    landing_root = workdir / "source"
    customers = args.customers or max(60, args.orders // 50)
    events = args.events or args.orders
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "lakehouse-jobs"),
            "generate",
            "--orders",
            str(args.orders),
            "--customers",
            str(customers),
            "--events",
            str(events),
            "--files",
            str(args.files),
            "--root",
            str(landing_root),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([str(BIN / "lakehouse-jobs"), "prepare"], check=True, stdout=subprocess.DEVNULL)
    home = dagster_home(workdir)
    print(
        f"data: {args.orders} orders, {events} events, {customers} customers, {args.files} files/source "
        f"(generated in {time.perf_counter() - started:.1f}s); {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}"
    )

    keys = medallion_keys()
    walls: dict[str, list[float]] = {v: [] for v in variants}
    sessions: list[float] = []
    steps: dict[str, dict[str, float]] = {}
    try:
        for round_ in range(1, args.repeat + 1):
            for variant in variants:
                if variant == "W" and round_ == 1:
                    cold = run_variant("W0", workdir, landing_root / "landing", keys, home)
                    print(f"W0 {cold:8.1f}s  (starts the reusable job cluster)", flush=True)
                walls[variant].append(run_variant(variant, workdir, landing_root / "landing", keys, home))
                steps[variant] = step_times(workdir, variant) if variant in ("L", "P", "W") else {}
                if variant == "L":
                    sessions.append(json.loads((workdir / "L.log").read_text().strip().splitlines()[-1])["session_s"])
                print(f"{variant}  {walls[variant][-1]:8.1f}s  {VARIANTS[variant]}" + (f"  (round {round_})" if args.repeat > 1 else ""), flush=True)
    finally:
        from lakehouse_jobs.lib.runtime import job_cluster

        job_cluster.stop_all(workdir / "clusters")  # W's warm cluster
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = {v: statistics.median(times) for v, times in walls.items()}
    if args.repeat > 1:
        for v, times in walls.items():
            print(f"{v}  median {wall[v]:8.1f}s  of {' '.join(f'{t:.1f}' for t in times)}")
        best = {v: min(times) for v, times in walls.items()}
        if "P" in best:  # interference only ever adds time: the best round is the least disturbed one
            print("best rounds: " + " ".join(f"P/{v}={best['P'] / best[v]:.2f}" for v in ("L", "N") if v in best))
        for v in ("L", "N"):  # each round's own ratio: the spread the medians hide
            if "P" in walls and v in walls:
                pairs = [p / o for p, o in zip(walls["P"], walls[v], strict=False)]
                print(f"P/{v} by round: {' '.join(f'{r:.2f}' for r in pairs)} (median {statistics.median(pairs):.2f})")
    _print_steps(steps)
    session = statistics.median(sessions) if sessions else None
    if session is not None:
        print(f"L's SparkSession start: {session:.1f}s")
    base = wall.get("P")
    parts = []
    if base is not None and "L" in wall:
        parts.append(f"P/L={base / wall['L']:.2f}")
    if base is not None and "N" in wall:
        parts.append(f"P/N={base / wall['N']:.2f}")
    if "W" in wall and session is not None:
        parts.append(f"overhead_per_task_s={(wall['W'] - (wall['L'] - session)) / len(keys):.2f}")
    elif base is not None and "L" in wall:
        parts.append(f"overhead_per_task_s={(base - wall['L']) / len(keys):.2f}")
    print(" ".join(parts))
    return 0


def _print_steps(steps: dict[str, dict[str, float]]) -> None:
    """Per-table seconds of the last round, side by side (the first table also pays the JVM's warm-up)."""
    shown = [v for v in ("L", "P", "W") if steps.get(v)]
    if len(shown) < 2:
        return
    tables = sorted({t for v in shown for t in steps[v]})
    print("seconds per table (last round): " + "  ".join(f"{v:>6}" for v in shown))
    for table in tables:
        print(f"  {table:<29}" + "  ".join(f"{steps[v][table]:6.1f}" if table in steps[v] else "     -" for v in shown))


if __name__ == "__main__":
    sys.exit(main())
