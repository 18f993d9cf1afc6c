"""The embedded JVM's settings: Delta in the session, a laptop-sized local Spark, the driver's Java flags.

Kept apart from `spark.py` (the session's life cycle): these are the knobs measured on the
2-core machine (collector, JIT tier, partitions), each with its reason.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lakehouse_jobs.lib.errors import SetupError
from lakehouse_jobs.lib.runtime import class_archive

_LOG4J = Path(__file__).with_name("log4j2.properties")

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Databricks' default table format: `CREATE [OR REPLACE] TABLE ... AS SELECT` and `saveAsTable`
    # without USING/format() write Delta, as user notebooks and SQL files expect.
    "spark.sql.sources.default": "delta",
}


# The JVM reads these too; a collector chosen there must not be contradicted (the JVM would refuse to start).
_ENV_JAVA_OPTIONS = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
JIT_ENV = "LAKEHOUSE_JVM_JIT"  # "full" (default) or "quick": see driver_java_options


def driver_java_options() -> str:
    """The embedded driver's JVM flags: our log4j setup, the throughput collector, the class archive.

    Spark's batch work on a small machine is throughput-bound: G1 (Java's default)
    runs concurrent marking threads that compete with Spark's task threads for the
    two cores. The parallel collector cut the 1M-order pipeline by ~10 % (P) and
    ~5 % (the hand-written limit), its JVM CPU by ~15 %. A collector picked in the
    environment's Java options wins.

    LAKEHOUSE_JVM_JIT=quick stops the JIT at its first tier (C1): a JVM that lives
    seconds on small data spends less of its two cores compiling (measured: the
    same three incremental refreshes, session start included, 50-59 s vs 63-66 s).
    Long runs on big data want the full JIT, the default; the test suite uses quick.
    """
    options = [f"-Dlog4j2.configurationFile=file:{_LOG4J}"]
    if not any(re.search(r"-XX:\+Use\w+GC\b", os.environ.get(name, "")) for name in _ENV_JAVA_OPTIONS):
        options.append("-XX:+UseParallelGC")
    jit = os.environ.get(JIT_ENV, "full").strip().lower() or "full"
    if jit not in ("full", "quick"):
        raise SetupError(f"{JIT_ENV}={jit!r}: expected 'full' or 'quick'")
    if jit == "quick":
        options.append("-XX:TieredStopAtLevel=1")
    return " ".join([*options, *class_archive.java_options()])


def local_conf(master: str, shuffle_partitions: int, ui_enabled: bool, driver_memory: str) -> dict[str, str]:
    """Settings that make a laptop-sized Spark fast and private (everything on 127.0.0.1)."""
    return {
        "spark.master": master,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": driver_memory,
        "spark.ui.enabled": str(ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        # Delta reconstructs table state with 50 tasks by default: pure overhead on small tables.
        "spark.databricks.delta.snapshotPartitions": str(max(1, shuffle_partitions)),
        # Delta's VACUUM lists a table's folders with this many tasks (Spark's default 10,000): 25 s for a 6-file table
        # locally, 3.7 s with a handful (measured, delta-spark 4.4).
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(max(1, shuffle_partitions)),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.extraJavaOptions": driver_java_options(),
        **DELTA_CONF,
    }
