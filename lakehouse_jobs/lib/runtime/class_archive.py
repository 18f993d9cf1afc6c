"""A class-data-sharing archive of the Spark driver's classes, so a JVM starts warm.

A cold SparkSession spends seconds loading, parsing and verifying the classes
of Spark and Delta. Java's AppCDS maps them pre-parsed from one file instead: a
session starts ~2 s sooner and its first Delta write and read ~3 s sooner
(2-core reference machine). `lakehouse-jobs prepare` (every `make`
target) builds the archive once, from a short Delta workload in a throwaway
JVM; every embedded driver and job-cluster server started afterwards maps it.

The file is only valid for the JVM and classpath that wrote it, so its name
carries a key of both: a Java or pyspark/delta upgrade simply finds no archive
(Spark starts as before) until the next `prepare`. Set
`LAKEHOUSE_CLASS_ARCHIVE=off` to never build or use one. The JVM runs the classes
it maps without verifying them again: keep `LAKEHOUSE_CLASS_ARCHIVE_DIR` private.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version as package_version
from pathlib import Path

from lakehouse_jobs.lib.runtime.jars import user_cache_dir
from lakehouse_jobs.lib.runtime.java import java_executable

SWITCH_ENV = "LAKEHOUSE_CLASS_ARCHIVE"
DIR_ENV = "LAKEHOUSE_CLASS_ARCHIVE_DIR"
# A mismatched archive (another JVM build, classpath or heap mode) is skipped with a
# warning on the driver's stdout; the key avoids that case, these flags keep it quiet.
QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")
WORKLOAD_VERSION = 1  # bump when archive_workload changes, so prepare rebuilds archives of the old one


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "on").strip().lower() not in ("0", "off", "false", "no")


def archive_dir() -> Path:
    return user_cache_dir("jvm", DIR_ENV)


def _spark_jars_dir() -> Path | None:
    spec = importlib.util.find_spec("pyspark")  # located, not imported: conf() runs before any Spark import
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "jars" if locations else None


def archive_key() -> str | None:
    """What the archive depends on: the java binary, Spark's jars (the driver's classpath) and Delta's version.

    Delta's classes come through Spark's jar loader, which the JVM checks class by class
    (size and CRC), so their location does not matter; the classpath it checks itself.
    """
    java = java_executable()
    spark_jars = _spark_jars_dir()
    if java is None or spark_jars is None or not spark_jars.is_dir():
        return None
    real = os.path.realpath(java)
    stat = os.stat(real)
    identity = [
        real, stat.st_size, stat.st_mtime_ns,
        package_version("pyspark"), sorted(os.listdir(spark_jars)), package_version("delta-spark"), WORKLOAD_VERSION,
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def archive_path() -> Path | None:
    key = archive_key()
    return archive_dir() / f"spark-{key}.jsa" if key else None


def java_options() -> list[str]:
    """JVM flags that map the archive built for this JVM and classpath, or none when there is none."""
    if not enabled():
        return []
    path = archive_path()
    if path is None or not path.is_file():
        return []
    return [f"-XX:SharedArchiveFile={path}", *QUIET]


def build(timeout: float = 600) -> tuple[Path | None, str]:
    """Build the archive for this JVM and classpath if it is missing: (path or None, what happened).

    Never fatal: Spark runs without an archive, only slower to start.
    """
    if not enabled():
        return None, f"off (${SWITCH_ENV})"
    target = archive_path()
    if target is None:
        return None, "skipped (no java or pyspark found)"
    if target.is_file():
        _remove_leftovers(target, timeout)
        return target, "ready"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the JVM trusts the classes it maps
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".building-", suffix=".jsa")
    os.close(fd)
    os.unlink(tmp)  # the JVM writes it at exit
    log = target.with_suffix(".log")
    started = time.perf_counter()
    try:
        with log.open("w") as handle:
            proc = subprocess.run(
                [sys.executable, "-m", "lakehouse_jobs.lib.runtime.archive_workload", tmp],
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                env={**os.environ, SWITCH_ENV: "off"},
            )
        if proc.returncode != 0 or not os.path.isfile(tmp) or os.path.getsize(tmp) == 0:
            return None, f"not built (the workload exited {proc.returncode}; see {log}); Spark starts without it"
        os.replace(tmp, target)
    except subprocess.TimeoutExpired:
        return None, f"not built (no result in {timeout:.0f} s; see {log}); Spark starts without it"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _remove_leftovers(target, timeout)
    return target, f"built in {time.perf_counter() - started:.0f} s"


def _remove_leftovers(target: Path, timeout: float) -> None:
    """Archives of a previous Java or pyspark, and files of builds killed midway (not of one running now)."""
    for stale in target.parent.glob("spark-*.jsa"):
        if stale != target:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".log").unlink(missing_ok=True)
    for left in target.parent.glob(".building-*.jsa"):
        if time.time() - left.stat().st_mtime > 2 * timeout:
            left.unlink(missing_ok=True)
