"""The Spark runtime: one Delta-enabled SparkSession per process.

A classic SparkSession costs seconds of JVM start-up, so the session is a
process-wide singleton: every asset of an in-process run (and every test of a
pytest run) shares it, and it is stopped once at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from .errors import SetupError
from .jars import resolve_delta_jars
from .java import check_java

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOCK = threading.RLock()
_SESSION: SparkSession | None = None
_LOG4J = Path(__file__).with_name("log4j2.properties")

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


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
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_LOG4J}",
        **DELTA_CONF,
    }


def _build_session(conf: dict[str, str], remote: str | None) -> SparkSession:
    from pyspark.sql import SparkSession

    if remote:
        builder = SparkSession.builder.remote(remote)
        for key, value in conf.items():
            if not key.startswith(("spark.master", "spark.driver", "spark.jars", "spark.ui")):
                builder = builder.config(key, value)
        return builder.getOrCreate()
    check_java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    jars = resolve_delta_jars()
    extra = conf.pop("spark.jars", "")
    conf["spark.jars"] = ",".join([*jars, *([extra] if extra else [])])
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM died: say why in one sentence, not with its stack
        raise SetupError(f"Spark could not start ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from None
    session.sparkContext.setLogLevel("WARN")
    return session


def get_or_create_session(conf: dict[str, str], remote: str | None = None) -> SparkSession:
    """The process's SparkSession, created on first call with `conf`."""
    global _SESSION
    with _LOCK:
        if _SESSION is not None and not _is_stopped(_SESSION):
            return _SESSION
        _SESSION = _build_session(dict(conf), remote)
        return _SESSION


def _is_stopped(session: Any) -> bool:
    context = getattr(session, "_sc", None)
    return context is not None and getattr(context, "_jsc", None) is None


def active_session() -> SparkSession | None:
    return _SESSION if _SESSION is not None and not _is_stopped(_SESSION) else None


def stop_session() -> None:
    """Stop the process's session (idempotent); registered at interpreter exit."""
    global _SESSION
    with _LOCK:
        if _SESSION is not None:
            try:
                _SESSION.stop()
            finally:
                _SESSION = None


atexit.register(stop_session)


class SparkResource(dg.ConfigurableResource):
    """A Delta-enabled SparkSession: embedded `local[*]`, a `spark://` master, or Spark Connect.

    Set `remote` to an `sc://host:port` URL to attach to a Spark Connect server
    (Delta must be configured on the server), or `master` to a cluster URL.
    """

    master: str = Field(default="local[*]", description="Spark master URL: local[*], local[N] or spark://host:7077.")
    remote: str | None = Field(default=None, description="Spark Connect URL (sc://host:port); overrides master.")
    app_name: str = Field(default="lakehouse_jobs")
    shuffle_partitions: int = Field(default=4, description="spark.sql.shuffle.partitions; small for laptop data.")
    driver_memory: str = Field(default="2g")
    ui_enabled: bool = Field(default=False, description="Start the Spark UI (bound to 127.0.0.1).")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings, applied last.")

    def conf(self) -> dict[str, str]:
        conf = local_conf(self.master, self.shuffle_partitions, self.ui_enabled, self.driver_memory)
        conf["spark.app.name"] = self.app_name
        conf.update(self.spark_conf)
        return conf

    def get_session(self) -> SparkSession:
        if self.remote and not self.remote.startswith("sc://"):
            raise SetupError(f"SparkResource.remote must be a Spark Connect URL like sc://127.0.0.1:15002, got {self.remote!r}.")
        return get_or_create_session(self.conf(), self.remote)
