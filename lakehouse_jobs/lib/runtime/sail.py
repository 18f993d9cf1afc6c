"""Sail (pysail): a Spark Connect server written in Rust, embedded in the run's process.

Sail runs the unchanged PySpark Connect client without a JVM (issue #19), so its
server starts in ~0.05 s instead of seconds. One server per process, on
127.0.0.1 and a free port, started on first use and stopped at exit *after*
the sessions attached to it: a Connect client whose server vanished first
retries its release call for ~10 minutes (measured with pyspark 4.2.0).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.environ import environment
from lakehouse_jobs.lib.errors import SetupError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PYSAIL_PIN = "0.7.2"
# pysail release line -> the PySpark Connect client lines measured with it (docs/engines.md).
TESTED_CLIENTS: dict[str, tuple[str, ...]] = {"0.7": ("4.2",)}
INSTALL_HINT = f"pip install pysail=={PYSAIL_PIN} 'pyspark[connect]==4.2.0'"

# What Spark code may rely on and a run's session on Sail PYSAIL_PIN lacks or answers otherwise, each measured by
# engine_probe.py's probes (`LACK_PROBES`, docs/engines.md; test_engines.py keeps them failing or differing there).
# A table step naming one (`needs=`) or a task whose source uses one (jobs/source_needs.py) is refused on Sail
# before its session starts (`SparkResource.require`), and LAKEHOUSE_ENGINE=auto runs it on the JVM.
LACKS: dict[str, str] = {
    "idempotent_commits": "idempotent Delta commits (txnAppId/txnVersion: a retried batch would be appended twice)",
    "file_lineage": "source-file lineage (_metadata.file_path, input_file_name())",
    "collect_metrics": "`df.observe` / `Observation` (collect metrics)",
    "classic_api": "the classic SparkContext API (`sc`, `spark.sparkContext`, RDDs, `_jvm`), which Spark Connect has not",
    "delta_table_api": "delta-spark's `DeltaTable` Python API",
    "change_feed_reads": "change data feed reads (`readChangeFeed` answers without `_change_type`, no `table_changes`)",
    "cache_table": "`CACHE TABLE` (`OPTIMIZE`, `VACUUM` and `RESTORE` a run's session runs with delta-rs)",
    "streaming": "Structured Streaming (`readStream`/`writeStream` into Delta)",
    "using_join_names": "a `USING` join's column named through a table alias (`l.k`)",
    "datediff_int": "`datediff` in SQL as a 32-bit integer (Sail's is 64-bit; a run's session casts the Python API's)",
    "lenient_json": "Spark's lenient JSON parsing in `from_json` (single quotes, NaN, big integers)",
    "corrupt_records": "PERMISSIVE reads keeping malformed records in `_corrupt_record`",
    "writer_checks": "the Delta writer's `mergeSchema` and `replaceWhere` on a table Sail's own writer made",
    "feed_table_dml": "SQL `MERGE`/`UPDATE`/`DELETE` on a table with the change data feed (every table the project makes)",
}
# Needs a run's Sail session checks itself when the statement runs (`sail_supply`: refused in one sentence before it
# writes, and only for a table with the feed), so the sail engine does not refuse a task for them up front; auto avoids them.
CHECKED_WHEN_RUN = frozenset({"feed_table_dml"})
# The probes (engine_probe.py) that measure each of LACKS: none of them passes on a run's Sail session.
LACK_PROBES: dict[str, tuple[str, ...]] = {
    "idempotent_commits": ("txn_idempotent_append",),
    "file_lineage": ("metadata_file_path", "input_file_name"),
    "collect_metrics": ("observe",),
    "classic_api": ("rdd",),
    "delta_table_api": ("deltatable_api",),
    "change_feed_reads": ("read_change_feed", "table_changes"),
    "cache_table": ("cache_table",),
    "streaming": ("structured_streaming",),
    "using_join_names": ("using_join_qualified",),
    "datediff_int": ("datediff_type",),
    "lenient_json": ("from_json_lenient",),
    "corrupt_records": ("json_corrupt_record", "csv_malformed_record"),
    "writer_checks": ("merge_schema", "replace_where_outside"),
    "feed_table_dml": ("feed_table_merge",),
}

_LOCK = threading.RLock()
_SESSIONS: weakref.WeakSet = weakref.WeakSet()  # the sessions on this process's Sail server
_SERVER: Any = None
_BEFORE_STOP: list[Callable[[], None]] = []


def _line(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check_versions() -> str:
    """The installed pysail version, refused in one sentence when it or its client pair is not one that works."""
    try:
        import pysail
    except ImportError:
        raise SetupError(f"The sail engine needs pysail, which is not installed: pip install pysail=={PYSAIL_PIN}.") from None
    import pyspark

    sail, client = pysail.__version__, pyspark.__version__
    tested = TESTED_CLIENTS.get(_line(sail))
    if tested is None:
        raise SetupError(f"pysail {sail} is not a release this project was measured with: {INSTALL_HINT}.")
    if _line(client) not in tested:
        raise SetupError(f"pysail {sail} works with the PySpark {'/'.join(tested)} Connect client, not pyspark {client}: {INSTALL_HINT}.")
    try:
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies()
    except ImportError as exc:
        raise SetupError(f"The sail engine needs PySpark's Spark Connect client ({str(exc).splitlines()[0]}): {INSTALL_HINT}.") from None
    return sail


def server_url(before_stop: Callable[[], None] | None = None) -> str:
    """The embedded server's `sc://127.0.0.1:<port>` URL, starting it on first call.

    `before_stop` runs at exit before the server stops (the caller closes its sessions there).
    """
    global _SERVER
    with _LOCK:
        if before_stop is not None and before_stop not in _BEFORE_STOP:
            _BEFORE_STOP.append(before_stop)
        if _SERVER is None or not _SERVER.running:
            check_versions()
            os.environ.setdefault("RUST_LOG", "warn")  # Sail logs every session at INFO on stderr otherwise
            from pysail.spark import SparkConnectServer

            with environment(catalog_settings()), unity_env_hidden():  # read when the server is made (measured)
                server = SparkConnectServer("127.0.0.1", 0)
            try:
                server.start(background=True)
            except Exception as exc:  # noqa: BLE001 - the native server's error, said in one sentence
                raise SetupError(f"The Sail server could not start ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from None
            _SERVER = server
        host, port = _SERVER.listening_address
        return f"sc://{host}:{port}"


# Sail's Unity provider takes its host and token from these when set, over its settings (measured: with DATABRICKS_HOST
# set, table lookups went to that workspace, with DATABRICKS_TOKEN): a Databricks user's environment must not send the
# lakehouse's catalog calls, and their token, to their workspace.
UNITY_ENV_PREFIXES = ("DATABRICKS_", "UNITY_", "UC_")


@contextlib.contextmanager
def unity_env_hidden() -> Iterator[None]:
    """The environment without `UNITY_ENV_PREFIXES` variables inside the block: around making the server and each
    session on it, which is when Sail reads them (measured: a session made with DATABRICKS_HOST set sent its catalog
    calls there; one made without it kept the lakehouse's catalog after the variable came back)."""
    with _without(UNITY_ENV_PREFIXES):
        yield


@contextlib.contextmanager
def _without(prefixes: tuple[str, ...]) -> Iterator[None]:
    """The environment without the variables starting with `prefixes` inside the block (put back after)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(prefixes)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def catalog_settings() -> dict[str, str]:
    """Sail's catalogs: the lakehouse root's, served as a Unity Catalog API (catalog/unity_rest.py), so names resolve by the
    naming rule as the JVM's plugin resolves them: the default catalog, `spark_catalog` and the catalogs on disk now."""
    from lakehouse_jobs.lib.catalog.names import SESSION_CATALOG, catalogs_on_disk, default_catalog
    from lakehouse_jobs.lib.catalog.unity_rest import sail_settings
    from lakehouse_jobs.lib.lakehouse_root import default_root

    root = default_root()
    return sail_settings(root, list(dict.fromkeys([default_catalog(), SESSION_CATALOG, *catalogs_on_disk(root)])))


def mark(session: Any) -> Any:
    """Remember `session` as one of Sail's (so `is_sail` answers without asking the server)."""
    _SESSIONS.add(session)
    return session


def is_sail(session: Any) -> bool:
    """Whether `session` runs on Sail (a step writing Delta then leaves out what Sail refuses)."""
    try:
        return session in _SESSIONS
    except TypeError:  # not weak-referenceable: not one of ours
        return False


def in_use() -> bool:
    """Whether Spark code of this process ran on Sail (a session on its server exists)."""
    return len(_SESSIONS) > 0


def session_conf(app_name: str = "lakehouse_jobs", shuffle_partitions: int = 4, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A Sail session's settings: the JVM session's SQL behaviour, without its JVM-only classes (Sail writes Delta natively)."""
    return {
        "spark.app.name": app_name,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.default": "delta",
        **(extra or {}),
    }


def connect(conf: dict[str, str] | None = None) -> SparkSession:
    """A new Spark Connect session on the embedded server (probes and benchmarks; runs use SparkResource)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(server_url())
    for key, value in (conf or session_conf()).items():
        builder = builder.config(key, value)
    with unity_env_hidden():
        session = builder.create()
    with _LOCK:
        _BEFORE_STOP.append(session.stop)
    return session


def stop_server() -> None:
    """Close the callers' sessions, then stop the server (idempotent; registered at exit)."""
    global _SERVER
    with _LOCK:
        for callback in list(_BEFORE_STOP):
            try:
                callback()
            except Exception:  # noqa: BLE001, S110 - exiting: a session that cannot close is dropped with the server
                pass
        if _SERVER is not None:
            try:
                _SERVER.stop()
            finally:
                _SERVER = None


atexit.register(stop_server)
