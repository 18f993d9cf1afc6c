"""The catalog plugin's jar: compiled from the Java source next to this file, cached per version.

`lakehouse-jobs prepare` builds it (javac against pyspark's jars and the delta-spark jar) into
the user cache, keyed by the source's hash and the pyspark/delta-spark versions, so an upgrade or
an edit simply builds a new jar. A session that finds no jar builds it once (~3 s) when javac is
there; without a JDK the plugin is left out (`missing_reason()` says so in one sentence) and path
tables still work.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from importlib.metadata import version as package_version
from pathlib import Path

from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars, user_cache_dir

CLASS_NAME = "lakehouse_jobs.catalog.LakehouseCatalog"
VOLUME_FS_CLASS = "lakehouse_jobs.catalog.VolumeFileSystem"
EXTENSIONS_CLASS = "lakehouse_jobs.catalog.LakehouseExtensions"
SOURCE_DIR = Path(__file__).with_name("java")
DIR_ENV = "LAKEHOUSE_CATALOG_JAR_DIR"
STALE_AFTER_S = 7 * 24 * 3600
NO_JAVAC = "three-part names need the catalog plugin: install a JDK 17 (javac) and run `lakehouse-jobs prepare`"


def _sources() -> list[Path]:
    return sorted(SOURCE_DIR.rglob("*.java"))


def jar_path() -> Path:
    digest = hashlib.sha256()
    for source in _sources():
        digest.update(source.relative_to(SOURCE_DIR).as_posix().encode())
        digest.update(source.read_bytes())
    digest.update(f"pyspark={package_version('pyspark')};delta={package_version('delta-spark')}".encode())
    return user_cache_dir("catalog", DIR_ENV) / f"lakehouse-catalog-{digest.hexdigest()[:16]}.jar"


def javac() -> str | None:
    found = shutil.which("javac")
    if found is None and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "javac"
        found = str(candidate) if candidate.is_file() else None
    return found


def _classpath() -> str:
    spec = importlib.util.find_spec("pyspark")
    spark_jars = Path(next(iter(spec.submodule_search_locations or []))) / "jars" if spec else None
    return os.pathsep.join([f"{spark_jars}/*", *resolve_delta_jars()])


class PluginBuildError(RuntimeError):
    """javac refused the plugin's source (an incompatible Spark/Delta): the message has javac's first lines."""


def build() -> Path | None:
    """The jar, compiled now if missing; None when there is no javac."""
    target = jar_path()
    if target.is_file():
        return target
    compiler = javac()
    if compiler is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as work:
        classes = Path(work) / "classes"
        proc = subprocess.run(
            [compiler, "-nowarn", "--release", "17", "-d", str(classes), "-cp", _classpath(), *map(str, _sources())],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            first = " ".join((proc.stderr or proc.stdout).strip().splitlines()[:3])
            raise PluginBuildError(f"javac could not compile the catalog plugin ({first}).")
        everything = sorted(classes.rglob("*.class"))
        # The volume file system is needed before spark.jars load (the JVM's own class path), and must not
        # drag the catalog classes there (they need Delta's, which load with spark.jars): a jar of its own.
        _write_jar(Path(work) / "fs.jar", classes, [f for f in everything if f.name.startswith("VolumeFileSystem")], fs_jar_path(target))
        _write_jar(Path(work) / "plugin.jar", classes, everything, target)  # last: its presence means both are built
    for stale in [*target.parent.glob("lakehouse-catalog-*.jar"), *target.parent.glob("lakehouse-volumes-*.jar")]:  # other versions', once no JVM loads them
        if stale not in (target, fs_jar_path(target)) and time.time() - stale.stat().st_mtime > STALE_AFTER_S:
            stale.unlink(missing_ok=True)
    return target


def fs_jar_path(target: Path | None = None) -> Path:
    """The jar holding only the volume file system, next to the plugin's jar."""
    target = target or jar_path()
    return target.with_name(target.name.replace("lakehouse-catalog-", "lakehouse-volumes-"))


def _write_jar(partial: Path, classes: Path, files: list[Path], target: Path) -> None:
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: lakehouse_jobs\n\n")
        for file in files:
            jar.write(file, file.relative_to(classes).as_posix())
    os.replace(partial, target)  # atomic: a concurrent session never sees half a jar


def available_jar() -> Path | None:
    """The jar for this source and these versions, building it when javac is there; None otherwise."""
    try:
        return build()
    except (PluginBuildError, OSError):
        return None


def missing_reason() -> str | None:
    """None when the plugin is usable, else the one sentence that says what to install."""
    return None if jar_path().is_file() or javac() else NO_JAVAC + "."
