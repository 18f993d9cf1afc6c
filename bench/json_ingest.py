"""JSON lines ingestion, JVM vs Sail: one bronze batch of N clickstream-like lines, each engine in a process of its own.

On the JVM the lines are parsed by Spark's `from_json`; on Sail by Python's json module the way the
JVM parses them (`ingest/json_lines.py`), then committed by delta-rs. Prints each engine's wall time
(process start to exit), its session start and its ingest call, the ratios, and whether both bronze
tables hold the same rows.

    .venv/bin/python bench/json_ingest.py [--lines 200000 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENGINES = ("spark", "sail")
FIELDS = ["event_id", "user_id", "event_type", "ts", "amount", "props"]


def generate(folder: Path, lines: int, files: int = 4) -> None:
    rng = random.Random(1)
    folder.mkdir(parents=True)
    for f in range(files):
        with (folder / f"events-{f}.jsonl").open("w", encoding="utf-8") as handle:
            for i in range(f, lines, files):
                record = {"event_id": f"e{i}", "user_id": rng.randint(1, 5000), "event_type": rng.choice(["view", "click", "purchase"]),
                          "ts": f"2026-11-30T10:{i % 60:02d}:00Z", "amount": round(rng.uniform(1, 500), 2), "props": {"page": f"/p/{i % 99}", "ref": None}}  # fmt: skip
                handle.write(("not json" if i % 10_000 == 7 else json.dumps(record)) + "\n")


def child(engine: str, lake: Path, out: Path) -> None:
    started = time.perf_counter()
    os.environ["LAKEHOUSE_ENGINE"] = engine
    from lakehouse_jobs.lib import LakehouseResource, SparkResource
    from lakehouse_jobs.lib.ingest.ingest import ingest
    from lakehouse_jobs.lib.ingest.spec import IngestSpec

    spark = SparkResource().get_session()
    session = time.perf_counter() - started
    lakehouse = LakehouseResource(root=str(lake))
    columns = {name: {"user_id": "int", "amount": "double"}.get(name, "string") for name in FIELDS}
    spec = IngestSpec(source="events", table="events", format="json", columns=columns)
    mark = time.perf_counter()
    result = ingest(spark, lakehouse, spec)
    took = time.perf_counter() - mark
    rows = spark.read.format("delta").load(str(lakehouse.table_path("bronze", "events"))).selectExpr(*FIELDS)
    digest = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows.collect())).encode()).hexdigest()  # outside the timing
    out.write_text(json.dumps({"session": session, "ingest": took, "rows": result.rows_ingested, "refused": result.records_quarantined, "digest": digest}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "LAKE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    print(f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    print(f"{'lines':>9} {'engine':>6} {'wall_s':>7} {'session':>8} {'ingest':>7} {'rows':>8} {'refused':>7}")
    with tempfile.TemporaryDirectory(prefix="bench_json_") as tmp:
        for lines in args.lines:
            work = Path(tmp) / str(lines)
            generate(work / "landing" / "events", lines)
            walls, figures = {}, {}
            for engine in ENGINES:
                lake, out = work / engine, work / f"{engine}.json"
                (lake / "landing" / "events").mkdir(parents=True)
                for source in (work / "landing" / "events").iterdir():  # hard links: discovery skips links leaving the folder
                    os.link(source, lake / "landing" / "events" / source.name)
                started = time.perf_counter()
                command = [sys.executable, __file__, "--child", engine, str(lake), str(out)]
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=(work / f"{engine}.log").open("w"))
                walls[engine], figures[engine] = time.perf_counter() - started, json.loads(out.read_text())
                f = figures[engine]
                print(f"{lines:>9} {engine:>6} {walls[engine]:>7.1f} {f['session']:>8.1f} {f['ingest']:>7.1f} {f['rows']:>8} {f['refused']:>7}", flush=True)
            same = figures["spark"]["digest"] == figures["sail"]["digest"]
            print(
                f"{lines:>9} sail/spark wall={walls['sail'] / walls['spark']:.3f}  ingest={figures['sail']['ingest'] / figures['spark']['ingest']:.3f}  "
                f"same bronze rows: {'yes' if same else 'NO'}  (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
