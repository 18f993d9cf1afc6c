"""The Spark class archive: keyed to its JVM and classpath, built once, mapped by every later driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse_jobs.lib.runtime import class_archive


@pytest.fixture
def archive_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "jvm"
    monkeypatch.setenv(class_archive.DIR_ENV, str(directory))
    monkeypatch.delenv(class_archive.SWITCH_ENV, raising=False)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)  # ~190 MB: not for pytest's kept temp folders


def _fake_java(home: Path) -> Path:
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    return home


def test_the_archive_is_named_after_the_java_that_wrote_it(archive_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Another JVM (an upgrade, another JAVA_HOME) must not be handed an archive it cannot map."""
    ours = class_archive.archive_path()
    assert ours is not None and ours.parent == archive_dir and ours.name.startswith("spark-")
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path / "other_jdk")))
    assert class_archive.archive_path() not in (None, ours)


def test_flags_only_for_an_archive_that_exists_and_is_not_switched_off(archive_dir: Path, monkeypatch: pytest.MonkeyPatch):
    assert class_archive.java_options() == []  # none built: the JVM starts as it always did
    path = class_archive.archive_path()
    archive_dir.mkdir()
    path.write_bytes(b"built")
    assert class_archive.java_options()[0] == f"-XX:SharedArchiveFile={path}"
    monkeypatch.setenv(class_archive.SWITCH_ENV, "off")
    assert class_archive.java_options() == []
    assert class_archive.build() == (None, f"off (${class_archive.SWITCH_ENV})")


def test_a_built_archive_is_mapped_by_the_next_driver_and_replaces_stale_ones(archive_dir: Path):
    archive_dir.mkdir()
    stale = archive_dir / "spark-0000000000000000.jsa"
    stale.write_bytes(b"from an older java")
    killed = archive_dir / ".building-killed.jsa"  # a build interrupted long ago
    killed.write_bytes(b"half")
    os.utime(killed, (0, 0))

    path, status = class_archive.build()
    assert status.startswith("built") and path == class_archive.archive_path() and path.stat().st_size > 10_000_000
    assert not stale.exists() and not killed.exists() and not list(archive_dir.glob(".building-*"))
    assert class_archive.build() == (path, "ready")  # once: later prepares find it

    code = (
        "from lakehouse_jobs.lib import SparkResource\n"
        "spark = SparkResource().get_session()\n"
        "pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()\n"
        "print(open(f'/proc/{pid}/maps').read())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ, timeout=300)
    assert str(path) in out.stdout  # the driver JVM mapped the archive's classes
