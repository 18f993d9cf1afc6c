"""Resolve delta-spark's JVM jars once, then reuse them from a local cache.

`configure_spark_with_delta_pip` asks Ivy to resolve Maven coordinates at every
SparkSession start (~2-3 s, and it needs the network each time). We fetch the
exact jars once from Maven Central (after looking in ~/.m2 and Spark's Ivy
cache), verify their SHA-1, and hand Spark local paths via `spark.jars`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

from lakehouse_jobs.lib.errors import SetupError

MAVEN_URL = os.environ.get("LAKEHOUSE_MAVEN_URL", "https://repo1.maven.org/maven2")
SCALA = "2.13"


@dataclass(frozen=True)
class Artifact:
    group: str
    name: str
    version: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.jar"

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"

    def repo_path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.filename}"


def spark_minor() -> str:
    return ".".join(package_version("pyspark").split(".")[:2])


def delta_artifacts(delta_version: str | None = None, spark_line: str | None = None) -> list[Artifact]:
    """The jars delta-spark needs beyond what Spark ships (its compile-scope deps).

    From Delta 4.1 the artifact name carries the Spark line (delta-spark_4.2_2.13).
    delta-kernel-unitycatalog is left out: it only serves Unity-Catalog-managed
    tables, which a local lakehouse does not have.
    """
    delta_version = delta_version or package_version("delta-spark")
    spark_line = spark_line or spark_minor()
    major, minor = (int(p) for p in delta_version.split(".")[:2])
    core = f"delta-spark_{SCALA}" if (major, minor) < (4, 1) else f"delta-spark_{spark_line}_{SCALA}"
    names = [core, "delta-storage"]
    if (major, minor) >= (4, 1):
        names += ["delta-kernel-api", "delta-kernel-defaults"]
    return [Artifact("io.delta", n, delta_version) for n in names]


def user_cache_dir(name: str, override_env: str) -> Path:
    """`$override_env`, else lakehouse_jobs' folder `name` in the user's cache (XDG)."""
    root = os.environ.get(override_env) or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lakehouse_jobs", name)
    return Path(root)


def cache_dir() -> Path:
    return user_cache_dir("jars", "LAKEHOUSE_JARS_DIR")


def _local_candidates(artifact: Artifact) -> list[Path]:
    home = Path(os.path.expanduser("~"))
    ivy_name = f"{artifact.group}_{artifact.name}-{artifact.version}.jar"
    return [
        home / ".m2" / "repository" / artifact.repo_path(),
        *(p / "jars" / ivy_name for p in sorted(home.glob(".ivy2*"))),
    ]


def _download(url: str, timeout: float = 120) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed https URL
        return response.read()


def fetch(artifact: Artifact, target_dir: Path) -> Path:
    """Place one jar in target_dir: copy it from a local Maven/Ivy cache or download and verify it."""
    target = target_dir / artifact.filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    source = next((p for p in _local_candidates(artifact) if p.is_file()), None)
    if source is not None:
        data = source.read_bytes()
    else:
        url = f"{MAVEN_URL}/{artifact.repo_path()}"
        try:
            data = _download(url)
            expected = _download(url + ".sha1").decode().split()[0].strip()
        except (urllib.error.URLError, OSError) as exc:
            raise SetupError(
                f"Could not download the Delta jar {artifact.coordinate} from {MAVEN_URL} ({exc}); "
                f"connect this machine to Maven Central once, or put the jar in ~/.m2/repository."
            ) from None
        actual = hashlib.sha1(data).hexdigest()  # noqa: S324 - Maven publishes SHA-1 checksums
        if actual != expected:
            raise SetupError(f"The downloaded jar {artifact.coordinate} failed its SHA-1 check; delete {target_dir} and retry.")
    fd, tmp = tempfile.mkstemp(dir=target_dir, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)  # atomic: concurrent resolvers never see a half-written jar
    return target


def resolve_delta_jars() -> list[str]:
    """Absolute paths of delta-spark's jars, fetched on first use and cached afterwards."""
    directory = cache_dir() / f"delta-{package_version('delta-spark')}-spark-{spark_minor()}"
    return [str(fetch(artifact, directory)) for artifact in delta_artifacts()]


def clear_cache() -> None:
    shutil.rmtree(cache_dir(), ignore_errors=True)
