"""A missing or old Java is one sentence that says what to install, never a JVM trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import SetupError
from lakehouse_jobs.lib.runtime import java


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("garbage", None),
    ],
)
def test_parse_java_major(output, major):
    assert java.parse_java_major(output) == major


def _fake_java(tmp_path: Path, version: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    exe = home / "bin" / "java"
    exe.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\"' >&2\n")
    exe.chmod(0o755)
    return home


def test_old_java_is_refused_with_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, "11.0.2")))
    with pytest.raises(SetupError) as info:
        java.check_java()
    message = str(info.value)
    assert "found Java 11" in message and "openjdk-17" in message and "\n" not in message


def test_java_home_without_java_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SetupError, match="has no bin/java"):
        java.check_java()


def test_real_java_is_accepted():
    assert java.check_java() >= 17


def test_spark_resource_without_java_fails_with_one_sentence(tmp_path):
    """In a fresh process with no Java at all, starting Spark prints our sentence, no JVM stack."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java here
    code = "from lakehouse_jobs.lib import SparkResource, SetupError\ntry:\n    SparkResource().get_session()\nexcept SetupError as e:\n    print('ERR', e)\n"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("ERR Spark needs Java 17 or newer but no `java` on PATH")
    assert "Exception in thread" not in proc.stderr and "JAVA_GATEWAY" not in proc.stdout + proc.stderr


def test_prepare_command_exits_1_with_sentence(tmp_path):
    """`lakehouse-jobs prepare` (run first by make dev/test/materialize) stops on a missing Java."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)
    cli = str(Path(sys.executable).with_name("lakehouse-jobs"))
    proc = subprocess.run([cli, "prepare"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "install a Java 17+" in proc.stderr
