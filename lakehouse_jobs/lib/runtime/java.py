"""Find a Java 17+ runtime before Spark tries to, so a missing JVM is one sentence.

Spark launches `$JAVA_HOME/bin/java` (or `java` on PATH); when it is absent or
too old PySpark fails with JAVA_GATEWAY_EXITED and a JVM stack trace. We check
first and say what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from lakehouse_jobs.lib.errors import SetupError

MIN_JAVA = 17
INSTALL_HINT = "install a Java {min}+ runtime (e.g. `apt-get install openjdk-17-jre-headless` or Temurin 17) and put it on PATH or set JAVA_HOME"


def java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def parse_java_major(version_output: str) -> int | None:
    """Major version from `java -version` output ('1.8.0_392' -> 8, '17.0.15' -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        match = re.search(r"(?:openjdk|java) (\d+)", version_output)
        return int(match.group(1)) if match else None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


@cache
def _probe(executable: str) -> str:
    proc = subprocess.run([executable, "-version"], capture_output=True, text=True, timeout=60)
    return proc.stderr + proc.stdout


def check_java() -> int:
    """Return the Java major version, or raise SetupError with one sentence."""
    hint = INSTALL_HINT.format(min=MIN_JAVA)
    exe = java_executable()
    if exe is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java" if os.environ.get("JAVA_HOME") else "no `java` on PATH"
        raise SetupError(f"Spark needs Java {MIN_JAVA} or newer but {where}: {hint}.")
    try:
        output = _probe(exe)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(f"Spark needs Java {MIN_JAVA} or newer but `{exe} -version` failed ({exc}): {hint}.") from None
    major = parse_java_major(output)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "an unrecognised Java"
        raise SetupError(f"Spark needs Java {MIN_JAVA} or newer but found {found} at {exe}: {hint}.")
    return major
