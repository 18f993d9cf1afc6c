"""Benchmark: the same medallion workload on Sail (pysail) and on the JVM (embedded local Spark), side by side.

    .venv/bin/python bench/engines.py --orders 200000 1000000

Per size: seeded orders CSVs (`lakehouse-jobs generate`'s generator) in two batches;
each engine runs, in its own fresh process, CSV read -> typed bronze Delta append ->
silver MERGE by order_id (latest duplicate wins) -> gold daily aggregate (Delta
overwrite), batch by batch, with PySpark calls both engines run alike
(docs/engines.md). Wall time is from process start to exit (imports, session and
server start included); the gold tables are compared so a faster wrong answer shows.
A third column, `sail+st`, is Sail with the MERGE source staged first
(`lakehouse_jobs.lib.tables.staging.stage_frame`), as the project's table steps do on
Sail: its MERGE computes the source more than once otherwise (docs/engines.md).
`sail+rs` is Sail with the project's own write path (`write_delta`: on Sail every table step's
commit is delta-rs', which writes the change data feed Sail cannot; tables/delta_rs_write.py):
bronze append, silver MERGE and gold overwrite through it.
A fifth, `duckdb`, is the issue's yardstick: DuckDB doing the same transformations in SQL
(CSV read, casts, the window, the aggregate) with delta-rs for the Delta tables (append,
MERGE, overwrite), as a DuckDB user would write it; not a Spark engine, so no PySpark code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ENGINES = ("spark", "sail", "sail+st", "sail+rs", "duckdb")
ORDERS_SCHEMA = "order_id STRING, customer_id STRING, order_ts STRING, product_id STRING, quantity STRING, unit_price STRING, status STRING"
VARCHARS = "{" + ", ".join(f"'{c.split()[0]}': 'VARCHAR'" for c in ORDERS_SCHEMA.split(", ")) + "}"  # DuckDB's read_csv columns


def tables(lake: Path) -> tuple[str, str, str]:
    return tuple(str(lake / name) for name in ("bronze_orders", "silver_orders", "gold_daily"))


def batches(landing: Path) -> tuple[list[str], list[str]]:
    """The orders files in two batches, as every engine ingests them."""
    files = sorted(str(p) for p in (landing / "orders").glob("*.csv"))
    return files[: len(files) // 2], files[len(files) // 2 :]


def timer(steps: dict) -> Callable[[str, Callable[[], object]], None]:
    """`timed(name, action)`: run `action`, adding its wall time to `steps[name]`."""

    def timed(name: str, action: Callable[[], object]) -> None:
        mark = time.perf_counter()
        action()
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - mark

    return timed


def duckdb_workload(landing: Path, lake: Path) -> dict:
    """The same batches, steps and tables with DuckDB's SQL and delta-rs' Delta writes."""
    started = time.perf_counter()
    import duckdb
    from deltalake import DeltaTable, write_deltalake

    con = duckdb.connect()
    steps = {"session": time.perf_counter() - started}
    bronze, silver, gold = tables(lake)
    timed = timer(steps)
    for batch in batches(landing):
        # Read first, cast after: DuckDB 2.0 pushes a TRY_CAST into its CSV scanner, which then fails on "not-a-date".
        raw = con.sql(f"SELECT * FROM read_csv($files, header = true, auto_detect = false, columns = {VARCHARS})", params={"files": batch}).fetch_arrow_table()  # noqa: F841 - named in the SQL below
        typed = con.sql(
            "SELECT CAST(order_id AS BIGINT) AS order_id, CAST(customer_id AS BIGINT) AS customer_id, TRY_CAST(order_ts AS TIMESTAMP) AS order_ts, "
            "product_id, TRY_CAST(quantity AS INTEGER) AS quantity, TRY_CAST(unit_price AS DECIMAL(10,2)) AS unit_price, status "
            "FROM raw"
        ).fetch_arrow_table()
        timed("bronze", lambda typed=typed: write_deltalake(bronze, typed, mode="append"))

        def merge(typed=typed) -> None:
            latest = con.sql(
                "SELECT * FROM typed WHERE order_ts IS NOT NULL AND quantity IS NOT NULL AND unit_price IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts DESC, status) = 1"
            ).fetch_arrow_table()
            if not (lake / "silver_orders" / "_delta_log").exists():
                write_deltalake(silver, latest.slice(0, 0))
            merger = DeltaTable(silver).merge(latest, "t.order_id = s.order_id", source_alias="s", target_alias="t")
            merger.when_matched_update_all().when_not_matched_insert_all().execute()

        timed("silver", merge)

        def aggregate() -> None:
            orders = DeltaTable(silver).to_pyarrow_dataset()  # noqa: F841 - named in the SQL below
            daily = con.sql(
                "SELECT CAST(order_ts AS DATE) AS day, status, count(*) AS orders, sum(quantity * unit_price) AS revenue FROM orders GROUP BY 1, 2"
            ).fetch_arrow_table()
            write_deltalake(gold, daily, mode="overwrite", schema_mode="overwrite")

        timed("gold", aggregate)
    mark = time.perf_counter()
    table = DeltaTable(gold).to_pyarrow_table().to_pylist()
    rows = sorted((str(r["day"]), r["status"], r["orders"], str(r["revenue"])) for r in table)
    steps["check"] = time.perf_counter() - mark
    return {"steps": steps, "gold": rows, "silver_rows": DeltaTable(silver).to_pyarrow_dataset().count_rows()}


def workload(engine: str, landing: Path, lake: Path) -> dict:
    """One engine's run: returns its step times and the gold table's rows (for the cross-engine check)."""
    if engine == "duckdb":
        return duckdb_workload(landing, lake)
    started = time.perf_counter()
    if engine.startswith("sail"):
        from lakehouse_jobs.lib.runtime import sail

        spark = sail.connect()
        if engine == "sail+rs":
            spark = sail.mark(spark)  # as a run's session is marked (SparkResource): write_delta then commits with delta-rs
    else:
        from lakehouse_jobs.lib.runtime.spark import SparkResource

        spark = SparkResource().get_session()
    steps = {"session": time.perf_counter() - started}
    bronze, silver, gold = tables(lake)
    timed = timer(steps)
    for batch in batches(landing):
        raw = spark.read.option("header", "true").schema(ORDERS_SCHEMA).csv(batch)
        typed = raw.selectExpr(
            "CAST(order_id AS BIGINT) AS order_id",
            "CAST(customer_id AS BIGINT) AS customer_id",
            "try_cast(order_ts AS TIMESTAMP) AS order_ts",
            "product_id",
            "try_cast(quantity AS INT) AS quantity",
            "try_cast(unit_price AS DECIMAL(10,2)) AS unit_price",
            "status",
        )
        if engine == "sail+rs":
            from lakehouse_jobs.lib.tables.delta_io import WriteSpec, write_delta

            timed("bronze", lambda typed=typed: write_delta(spark, typed, bronze, WriteSpec("append")))
        else:
            timed("bronze", lambda typed=typed: typed.write.format("delta").mode("append").save(bronze))
        clean = typed.where("order_ts IS NOT NULL AND quantity IS NOT NULL AND unit_price IS NOT NULL")
        latest = clean.selectExpr("*", "row_number() OVER (PARTITION BY order_id ORDER BY order_ts DESC, status) AS rn").where("rn = 1").drop("rn")
        if engine == "sail+rs":
            timed("silver", lambda latest=latest: write_delta(spark, latest, silver, WriteSpec("merge", merge_keys=("order_id",))))
            daily = spark.read.format("delta").load(silver).selectExpr("CAST(order_ts AS DATE) AS day", "status", "quantity * unit_price AS revenue")
            daily = daily.groupBy("day", "status").agg({"*": "count", "revenue": "sum"}).toDF("day", "status", "orders", "revenue")
            timed("gold", lambda daily=daily: write_delta(spark, daily, gold, WriteSpec()))
            continue
        if not (lake / "silver_orders" / "_delta_log").exists():
            timed("silver", lambda latest=latest: latest.limit(0).write.format("delta").save(silver))
        if engine == "sail+st":
            from lakehouse_jobs.lib.tables.staging import stage_frame

            timed("silver", lambda latest=latest: stage_frame(latest).createOrReplaceTempView("batch_orders"))
        else:
            latest.createOrReplaceTempView("batch_orders")
        merge = (
            f"MERGE INTO delta.`{silver}` AS t USING batch_orders AS s ON t.order_id = s.order_id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
        timed("silver", lambda merge=merge: spark.sql(merge).collect())
        daily = spark.sql(
            f"SELECT CAST(order_ts AS DATE) AS day, status, count(*) AS orders, sum(quantity * unit_price) AS revenue FROM delta.`{silver}` GROUP BY 1, 2"
        )
        timed("gold", lambda daily=daily: daily.write.format("delta").mode("overwrite").save(gold))
    mark = time.perf_counter()
    rows = sorted((str(r["day"]), r["status"], r["orders"], str(r["revenue"])) for r in spark.read.format("delta").load(gold).collect())
    steps["check"] = time.perf_counter() - mark
    return {"steps": steps, "gold": rows, "silver_rows": spark.read.format("delta").load(silver).count()}


def run_engine(engine: str, landing: Path, work: Path) -> tuple[float, dict]:
    """The workload in a fresh process; wall time from its start to its exit."""
    lake = work / engine
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    out = work / f"{engine}.json"
    env = {**os.environ, "LAKEHOUSE_ROOT": str(lake)}
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", engine, str(landing), str(lake), str(out)]
    subprocess.run(command, check=True, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=(work / f"{engine}.log").open("w"))
    return time.perf_counter() - started, json.loads(out.read_text())


def generate(landing: Path, orders: int) -> None:
    from lakehouse_jobs.defs.generate import GenerateConfig, generate

    generate(landing, GenerateConfig(orders=orders, customers=max(60, orders // 50), events=10, files=8))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "LANDING", "LAKE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, landing, lake, out = args.child
        Path(out).write_text(json.dumps(workload(engine, Path(landing), Path(lake))))
        return 0
    import pysail
    import pyspark

    print(f"pysail {pysail.__version__}, pyspark {pyspark.__version__}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    print(f"{'orders':>9} {'engine':>7} {'wall_s':>8} {'session':>8} {'bronze':>7} {'silver':>7} {'gold':>7}")
    with tempfile.TemporaryDirectory(prefix="bench_engines_") as tmp:
        for orders in args.orders:
            work = Path(tmp) / str(orders)
            mark = time.perf_counter()
            generate(work / "landing", orders)
            generated = time.perf_counter() - mark
            walls, results = {}, {}
            for engine in ENGINES:
                walls[engine], results[engine] = run_engine(engine, work / "landing", work)
                s = results[engine]["steps"]
                print(
                    f"{orders:>9} {engine:>7} {walls[engine]:>8.1f} {s['session']:>8.1f} {s['bronze']:>7.1f} {s['silver']:>7.1f} {s['gold']:>7.1f}", flush=True
                )
            same = all(results["spark"][k] == results[e][k] for e in ENGINES[1:] for k in ("gold", "silver_rows"))
            print(
                f"{orders:>9} sail/spark={walls['sail'] / walls['spark']:.3f}  sail+st/spark={walls['sail+st'] / walls['spark']:.3f}  "
                f"sail+rs/spark={walls['sail+rs'] / walls['spark']:.3f}  sail+st/duckdb={walls['sail+st'] / walls['duckdb']:.2f}  "
                f"sail+rs/duckdb={walls['sail+rs'] / walls['duckdb']:.2f}  "
                f"same gold and silver on all five: {'yes' if same else 'NO'}  (data generated in {generated:.1f}s; load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
