"""Streams of files: the example's arrival + coalesced refresh jobs under load, figures side by side (issue #18).

    .venv/bin/python bench/streams.py                      # the issue's sizes
    .venv/bin/python bench/streams.py --rows 5000 --orders 50000 --burst 30   # a quick try
    .venv/bin/python bench/streams.py --engines auto --parts stream    # (a)+(c) with the example's default only

(a) stream: `--files` (8) order files of `--rows` (75,000) rows land `--gap` (5) s apart in
    landing/orders while a real `dagster-daemon` runs the example's sensors with their
    defaults (the first file also starts the warm job cluster). File i holds day i's orders,
    so "reflected in gold" is gold/daily_revenue's row of the last file's day with its count.
    Reported: failed runs, last file -> its rows in bronze, -> reflected in gold, refresh
    runs and the most refresh runs in flight at once.
(c) burst: `--burst` (100) small files land at once in the same daemon; reported: the runs
    that wrote each downstream table (goal <= 2).
    (a)+(c) run once per `--engines` entry (the daemon's LAKEHOUSE_ENGINE; a fresh daemon and
    lakehouse each), side by side; the default `auto,spark` compares the example's default
    (CSV arrival runs and refresh runs on Sail) with every run on the JVM.
(b) incremental refresh cost, in this process (embedded Spark, warm): bronze, silver and gold
    built from `--orders` (1,000,000) orders over a year, then one file of `--new-orders`
    (10,000) orders on the last day and the next is ingested and silver+gold refreshed (wall
    time of the Dagster materialization), against the same refresh of the same file into an
    empty silver; `--rounds` (3) rounds alternating the two sides, medians compared (the first
    refresh of a JVM pays its JIT warm-up: measured once, the order alone made 1.4x or 2.1x).
    Goal: ratio <= 1.5.
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
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from lakehouse_jobs.defs.generate import ORDER_COLUMNS
from lakehouse_jobs.lib.runtime.spark import ENGINE_ENV
from lakehouse_jobs_tests.ingest.daemon import delta_rows, running_daemon, wait_for
from lakehouse_jobs_tests.ingest.test_stream_e2e import most_in_flight, settled, ticked

DOWNSTREAM = ("silver/orders", "gold/daily_revenue")
STREAM_DAY = date(2026, 3, 1)


def write_orders(path: Path, first_id: int, n: int, day_of) -> int:
    """n orders (ids from first_id) dated day_of(k), written under a skipped name then renamed; returns the completed ones."""
    tmp = path.with_name("_" + path.name)
    completed = 0
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ORDER_COLUMNS)
        for k in range(n):
            status = "cancelled" if k % 7 == 3 else "completed"
            completed += status == "completed"
            writer.writerow(
                [
                    first_id + k,
                    1 + k % 997,
                    f"{day_of(k).isoformat()}T{k % 24:02d}:{k % 60:02d}:00",
                    f"P{k % 50:03d}",
                    1 + k % 4,
                    f"{5 + k % 13}.{k % 100:02d}",
                    status,
                ]
            )
    tmp.rename(path)
    return completed


def gold_orders_on(root: Path, day: date) -> int:
    from deltalake import DeltaTable

    try:
        gold = DeltaTable(str(root / "gold/daily_revenue")).to_pandas(columns=["order_date", "orders"])
    except Exception:  # noqa: BLE001 - not created yet
        return -1
    match = gold[gold["order_date"] == day]
    return int(match["orders"].iloc[0]) if len(match) else -1


def writes_per_table(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, int]:
    """How many of these runs materialized each downstream table."""
    counts = dict.fromkeys(DOWNSTREAM, 0)
    for run_id in run_ids:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        for key in {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records} & set(DOWNSTREAM):
            counts[key] += 1
    return counts


def stream_and_burst(args: argparse.Namespace, work: Path) -> dict[str, object]:
    root, home, log = work / "stream/lake", work / "stream/dagster_home", work / "stream/daemon.log"
    folder = root / "landing/orders"
    folder.mkdir(parents=True)
    out: dict[str, object] = {}
    with running_daemon(home, root, log):
        wait_for(lambda: ticked(home, "orders_file_arrival"), args.timeout, "the daemon's first sensor tick", log)
        total = 0
        for i in range(args.files):
            day = STREAM_DAY + timedelta(days=i)
            completed = write_orders(folder / f"stream-{i:03d}.csv", i * 10_000_000, args.rows, lambda k, day=day: day)
            landed = time.monotonic()
            total += args.rows
            print(f"  (a) file {i + 1}/{args.files} landed", flush=True)
            if i < args.files - 1:
                time.sleep(args.gap)
        wait_for(lambda: delta_rows(root / "bronze/orders") >= total, args.timeout, "the last file in bronze", log)
        out["bronze_s"] = time.monotonic() - landed
        wait_for(lambda: gold_orders_on(root, day) == completed, args.timeout, "the last file in gold", log, interval=0.5)
        out["gold_s"] = time.monotonic() - landed
        records = wait_for(lambda: settled(home), args.timeout, "every run to end", log)
        refreshes = [r for r in records if r.dagster_run.job_name == "orders_refresh"]
        out.update(failed=sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in records), refreshes=len(refreshes))
        out["arrivals"] = sum(r.dagster_run.job_name == "orders_arrival" for r in records)
        out["in_flight"] = most_in_flight(refreshes)
        print(f"  (a) done: {out}", flush=True)

        before = {r.dagster_run.run_id for r in records}
        burst_day = STREAM_DAY + timedelta(days=args.files)
        for j in range(args.burst):
            write_orders(folder / f"burst-{j:03d}.csv", 900_000_000 + j * 1000, 100, lambda k: burst_day)
        wait_for(lambda: delta_rows(root / "bronze/orders") >= total + 100 * args.burst, args.timeout, "the burst in bronze", log)
        records = wait_for(lambda: settled(home), args.timeout, "every burst run to end", log)
        new = [r for r in records if r.dagster_run.run_id not in before]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            out["burst_writes"] = writes_per_table(instance, [r.dagster_run.run_id for r in new])
        out["burst_failed"] = sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in new)
        out["burst_arrivals"] = sum(r.dagster_run.job_name == "orders_arrival" for r in new)
        print(f"  (c) done: {out['burst_writes']}", flush=True)
    return out


def refresh_cost(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """(b): the silver+gold refresh of one new file, 1M orders already in silver vs an empty silver."""
    from lakehouse_jobs.defs import orders
    from lakehouse_jobs.lib import LakehouseResource, SparkResource

    spark = SparkResource()
    assets = [orders.bronze_orders, orders.silver_orders, orders.gold_daily_revenue]
    first_day = date(2025, 1, 1)
    last_day = first_day + timedelta(days=364)

    def materialize(root: Path, selection: list) -> float:
        started = time.perf_counter()
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        result = dg.materialize(assets, selection=selection, resources={"spark": spark, "lakehouse": LakehouseResource(root=str(root))}, run_config=quiet)
        assert result.success
        return time.perf_counter() - started

    def new_file(root: Path, round_: int) -> None:
        half = args.new_orders // 2
        first_id = 2_000_000_000 + round_ * args.new_orders
        write_orders(root / f"landing/orders/new-{round_}.csv", first_id, args.new_orders, lambda k: last_day if k < half else last_day + timedelta(days=1))

    big, empty = work / "refresh/big", work / "refresh/empty"
    for root in (big, empty):
        (root / "landing/orders").mkdir(parents=True)
    parts = 4
    for p in range(parts):  # a year of orders, in a few files
        n = args.orders // parts
        write_orders(big / f"landing/orders/base-{p}.csv", p * n, n, lambda k, p=p, n=n: first_day + timedelta(days=(p * n + k) % 365))
    print(f"  (b) building bronze, silver and gold from {args.orders:,} orders ...", flush=True)
    build_s = materialize(big, [orders.bronze_orders, orders.silver_orders, orders.gold_daily_revenue])
    assert delta_rows(big / "silver/orders") == args.orders
    print(f"  (b) built in {build_s:.1f} s; {args.rounds} round(s): one new file of {args.new_orders:,} orders into each, alternating", flush=True)
    times: dict[Path, list[float]] = {empty: [], big: []}
    for round_ in range(args.rounds):  # alternating, so JIT warm-up and machine noise hit both sides alike
        for root in (empty, big):
            new_file(root, round_)
            materialize(root, [orders.bronze_orders])
            times[root].append(materialize(root, [orders.silver_orders, orders.gold_daily_revenue]))
        print(f"  (b) round {round_ + 1}: empty {times[empty][-1]:.1f} s, 1M {times[big][-1]:.1f} s", flush=True)
    assert delta_rows(big / "silver/orders") == args.orders + args.rounds * args.new_orders
    empty_s, big_s = statistics.median(times[empty]), statistics.median(times[big])
    return {"big_s": big_s, "empty_s": empty_s, "ratio": big_s / empty_s}


def _with_engine(engine: str, action):
    """`action()` with LAKEHOUSE_ENGINE=`engine` in this process's environment (the daemon and its runs inherit it)."""
    saved = os.environ.get(ENGINE_ENV)
    os.environ[ENGINE_ENV] = engine
    try:
        return action()
    finally:
        if saved is None:
            os.environ.pop(ENGINE_ENV, None)
        else:
            os.environ[ENGINE_ENV] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8, help="(a) files in the stream (default 8)")
    parser.add_argument("--rows", type=int, default=75_000, help="(a) rows per file (default 75,000)")
    parser.add_argument("--gap", type=float, default=5.0, help="(a) seconds between files (default 5)")
    parser.add_argument("--burst", type=int, default=100, help="(c) files landing at once (default 100)")
    parser.add_argument("--orders", type=int, default=1_000_000, help="(b) orders already in silver (default 1,000,000)")
    parser.add_argument("--new-orders", type=int, default=10_000, help="(b) orders in the new file (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="(b) refreshes per side, alternating; medians compared (default 3)")
    parser.add_argument(
        "--engines",
        default="auto,spark",
        help="(a)+(c): the daemon's LAKEHOUSE_ENGINE, one column each (default auto,spark: the example's default, and all on the JVM)",
    )
    parser.add_argument("--parts", default="stream,refresh", help="stream: (a)+(c); refresh: (b), in this process on the JVM (default both)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per wait")
    parser.add_argument("--workdir", help="keep data and logs here (default: a temp folder, removed)")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not engines or set(engines) - {"spark", "sail", "auto"} or not parts or parts - {"stream", "refresh"}:
        parser.error("--engines: spark, sail or auto; --parts: stream and/or refresh")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="streams_bench_"))
    streams: dict[str, dict[str, object]] = {}
    r = None
    try:
        for engine in engines if "stream" in parts else []:
            print(f"(a)+(c) daemon, {engine}: {args.files} files x {args.rows:,} rows, {args.gap:g} s apart; then {args.burst} files at once", flush=True)
            streams[engine] = _with_engine(engine, lambda engine=engine: stream_and_burst(args, work / engine))
        if "refresh" in parts:
            print(f"(b) in process: {args.new_orders:,} new orders, {args.orders:,} already in silver vs none", flush=True)
            r = _with_engine("spark", lambda: refresh_cost(args, work))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    rows: list[tuple[str, list[str], str]] = []
    if streams:
        v = lambda f: [f(s) for s in streams.values()]  # noqa: E731 - one value per engine
        rows += [
            ("(a) failed runs", v(lambda s: f"{s['failed']}"), "0"),
            ("(a) last file -> rows in bronze", v(lambda s: f"{s['bronze_s']:.1f} s"), "<= 15 s"),
            ("(a) last file -> reflected in gold", v(lambda s: f"{s['gold_s']:.1f} s"), "<= 30 s"),
            (f"(a) runs for {args.files} files: arrival / refresh", v(lambda s: f"{s['arrivals']} / {s['refreshes']}"), f"refresh <= {args.files}"),
            ("(a) most refresh runs in flight", v(lambda s: f"{s['in_flight']}"), "<= 2"),
            (f"(c) {args.burst} files at once: runs writing", v(lambda s: ", ".join(f"{t} {n}" for t, n in s["burst_writes"].items())), "<= 2 each"),
            ("(c) failed runs / arrival runs", v(lambda s: f"{s['burst_failed']} / {s['burst_arrivals']}"), "0 / -"),
        ]
    if r is not None:
        blank = [""] * (len(streams) - 1)
        rows += [
            (f"(b) refresh, {args.orders:,} in silver (median of {args.rounds}, JVM)", [f"{r['big_s']:.1f} s", *blank], ""),
            (f"(b) refresh, silver of the new files only (median of {args.rounds}, JVM)", [f"{r['empty_s']:.1f} s", *blank], ""),
            ("(b) ratio of the medians", [f"{r['ratio']:.2f}x", *blank], "<= 1.5x"),
        ]
    width = max(len(name) for name, _, _ in rows)
    header = [f"LAKEHOUSE_ENGINE={e}" for e in streams] or ["measured"]
    print(f"\n{'figure':<{width}}  " + "  ".join(f"{h:>40}" for h in header) + "  goal")
    for name, values, goal in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{value:>40}" for value in values) + f"  {goal}")


if __name__ == "__main__":
    main()
