"""The Spark runtime: one Delta-enabled SparkSession per process.

A classic SparkSession costs seconds of JVM start-up, so the session is a
process-wide singleton: every asset of an in-process run (and every test of a
pytest run) shares it, and it is stopped once at interpreter exit.

In job-cluster mode (`job_cluster=True`) no JVM runs in the task's process: the
first Spark task of a run starts a local Spark Connect server (job_cluster.py)
and every task of the run, in this process or in the multiprocess executor's
step processes, attaches to it as a thin client. A process holds one session;
the first mode wins (so tests that share the classic `spark` fixture keep it).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.catalog import unity_rest
from lakehouse_jobs.lib.catalog.conf import catalog_conf
from lakehouse_jobs.lib.catalog.names import CATALOG_ENV
from lakehouse_jobs.lib.engine_setting import ENGINE_ENV, ON_JVM
from lakehouse_jobs.lib.errors import SetupError
from lakehouse_jobs.lib.runtime import auto_engine, job_cluster, sail, sail_supply
from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
from lakehouse_jobs.lib.runtime.java import check_java
from lakehouse_jobs.lib.runtime.jvm_options import local_conf
from lakehouse_jobs.lib.runtime.run_process import lease_owner, run_process_pid
from lakehouse_jobs.lib.tables.lakehouse import default_root

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOCK = threading.RLock()
_SESSION: SparkSession | None = None
_SESSION_URL: str | None = None  # the Spark Connect URL of _SESSION; None for a classic session
_ON_CREATED: list[Callable[[SparkSession], None]] = []
ENGINES = ("spark", "sail", "auto")
ENGINE_TAG = tags.ENGINE  # the run tag naming the engine its Spark code ran on
_TAGGED_RUNS: set[str] = set()


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
    except Exception as exc:  # noqa: BLE001 - the JVM died: say why in one sentence, not with its stack
        raise SetupError(f"Spark could not start ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from None
    session.sparkContext.setLogLevel("WARN")
    return session


def get_or_create_session(conf: dict[str, str], remote: str | None = None) -> SparkSession:
    """The process's SparkSession, created on first call with `conf`.

    A classic session, once started, serves every later call (the JVM cannot be
    swapped in-process); a Spark Connect session is replaced when asked for
    another server (the run's job cluster was restarted).
    """
    global _SESSION, _SESSION_URL
    with _LOCK:
        if _SESSION is not None and not _is_stopped(_SESSION):
            if _SESSION_URL is None or remote is None or _SESSION_URL == remote:
                return _SESSION
            _stop_quietly(_SESSION)
        _SESSION = _build_session(dict(conf), remote)
        _SESSION_URL = remote
        for callback in list(_ON_CREATED):
            callback(_SESSION)
        return _SESSION


@contextlib.contextmanager
def when_session_created(callback: Callable[[SparkSession], None]) -> Iterator[None]:
    """Call `callback(session)` for a session this process creates inside the block.

    Lets an observer (observed lineage tags each task's Delta commits) configure a session
    that user code starts itself, without Spark being started for tasks that never use it.
    """
    with _LOCK:
        _ON_CREATED.append(callback)
    try:
        yield
    finally:
        with _LOCK:
            _ON_CREATED.remove(callback)


def _is_stopped(session: Any) -> bool:
    if type(session).__module__.startswith("pyspark.sql.connect"):
        return bool(session.is_stopped)
    context = getattr(session, "_sc", None)
    return context is not None and getattr(context, "_jsc", None) is None


def _stop_quietly(session: Any) -> None:
    try:
        session.stop()
    except Exception:  # noqa: BLE001, S110 - the server is already gone: nothing to close
        pass


def active_session() -> SparkSession | None:
    """The process's classic session (with a SparkContext), if one is running."""
    if _SESSION is None or _SESSION_URL is not None or _is_stopped(_SESSION):
        return None
    return _SESSION


def process_session() -> SparkSession | None:
    """The process's session, classic or Spark Connect, if one is running."""
    return _SESSION if _SESSION is not None and not _is_stopped(_SESSION) else None


def stop_session() -> None:
    """Stop the process's session (idempotent); registered at interpreter exit."""
    global _SESSION, _SESSION_URL
    with _LOCK:
        if _SESSION is not None:
            try:
                _stop_quietly(_SESSION) if _SESSION_URL else _SESSION.stop()
            finally:
                _SESSION, _SESSION_URL = None, None


def _skip_final_collections() -> None:
    """Freeze the heap so the interpreter's last garbage collections skip it.

    With Dagster, dbt and Spark loaded, the collections Python runs while tearing
    its modules down cost 0.7-1 s per exit (every CLI call, run worker and test
    process; multiprocess step children leave through os._exit) to free memory the
    OS takes back anyway. Explicit shutdown hooks (logging, stop_session) still run.
    """
    gc.freeze()


atexit.register(_skip_final_collections)  # handlers run last-in first-out: after stop_session
atexit.register(stop_session)


class SparkResource(dg.ConfigurableResource):
    """A Delta-enabled SparkSession: embedded `local[*]`, a `spark://` master, Spark Connect, or a job cluster.

    Set `remote` to an `sc://host:port` URL to attach to a Spark Connect server
    (Delta must be configured on the server), or `master` to a cluster URL.
    Set `job_cluster` to run the tasks of a run on one shared local Spark
    Connect server that the first task starts and that stops when the run ends
    (or `autotermination_minutes` after it, so later runs find it warm).
    Set `engine="sail"` (or LAKEHOUSE_ENGINE=sail) to run on Sail instead of the JVM
    (runtime/sail.py; what it supports: docs/engines.md): its server is embedded in the
    run's process, or with `job_cluster` a Sail server shared and kept warm like the JVM's.
    """

    master: str = Field(default="local[*]", description="Spark master URL: local[*], local[N] or spark://host:7077.")
    remote: str | None = Field(default=None, description="Spark Connect URL (sc://host:port); overrides master.")
    app_name: str = Field(default="lakehouse_jobs")
    shuffle_partitions: int = Field(default=4, description="spark.sql.shuffle.partitions; small for laptop data.")
    driver_memory: str = Field(default="2g")
    ui_enabled: bool = Field(default=False, description="Start the Spark UI (bound to 127.0.0.1).")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings, applied last.")
    job_cluster: bool = Field(default=False, description="Share one Spark Connect server between the tasks of a run.")
    num_workers: int | None = Field(default=None, ge=1, description="Job cluster cores: local[num_workers] (default: master's setting, local[*]).")
    spark_env_vars: dict[str, str] = Field(default_factory=dict, description="Environment of the job cluster's JVM.")
    autotermination_minutes: float = Field(
        default=0, ge=0, description="Keep the job cluster this long after the last run left, for reuse (0 = stop at run end)."
    )
    cluster_state_dir: str | None = Field(default=None, description="Where job clusters keep leases and logs (default: a private temp folder).")
    catalog: str | None = Field(default=None, description="The default catalog of two-part names (env LAKEHOUSE_CATALOG, default main).")
    engine: str = Field(
        default="spark",
        description=(
            "'spark' (the JVM), 'sail' (pysail, a Rust Spark Connect server: in the run's process, or the job cluster's) or 'auto'"
            " (each run on Sail when all its steps are table steps Sail runs, else the JVM); env LAKEHOUSE_ENGINE replaces the default 'spark'."
        ),
    )

    _run_id: str | None = PrivateAttr(default=None)
    _context: dg.InitResourceContext | None = PrivateAttr(default=None)
    _owner_pid: int | None = PrivateAttr(default=None)
    _leased: bool = PrivateAttr(default=False)
    _auto: auto_engine.Choice | None = PrivateAttr(default=None)  # engine "auto": this run's choice
    _task_run: tuple[Any, str, Any] | None = PrivateAttr(default=None)  # (instance, run id, log) of a job task's run: bind_run

    def conf(self) -> dict[str, str]:
        master = f"local[{self.num_workers}]" if self.job_cluster and self.num_workers else self.master
        conf = local_conf(master, self.shuffle_partitions, self.ui_enabled, self.driver_memory)
        conf["spark.app.name"] = self.app_name
        if not self.remote:  # a Spark Connect server of someone else's decides its own catalogs
            conf.update(catalog_conf(default_root(), self.catalog))
        jars = [j for j in (conf.get("spark.jars"), self.spark_conf.get("spark.jars")) if j]
        conf.update(self.spark_conf)
        if jars:
            conf["spark.jars"] = ",".join(jars)
        return conf

    def cluster_spec(self) -> job_cluster.ClusterSpec:
        """The job cluster this resource describes (same spec -> same cluster when reused)."""
        if self.resolved_engine() == "sail":  # Sail's server takes no Spark conf: each session sets its own (sail.session_conf)
            # the root (and default catalog) whose names the cluster's process serves: part of its key (runtime/sail_cluster.py)
            catalog = self.catalog or os.environ.get(CATALOG_ENV)
            names = {"LAKEHOUSE_ROOT": str(default_root()), **({CATALOG_ENV: catalog} if catalog else {})}
            env = {**self.spark_env_vars, **names}
            return job_cluster.ClusterSpec(conf={}, env=env, autotermination_s=self.autotermination_minutes * 60, engine="sail")
        conf = self.conf()
        extra = [j for j in conf.get("spark.jars", "").split(",") if j]
        return job_cluster.ClusterSpec(
            conf=conf,
            env=dict(self.spark_env_vars),
            jars=tuple([*resolve_delta_jars(), *extra]),
            autotermination_s=self.autotermination_minutes * 60,
        )

    def state_dir(self) -> Path:
        return Path(self.cluster_state_dir) if self.cluster_state_dir else job_cluster.default_state_dir()

    def cluster_directory(self) -> Path:
        """This run's job-cluster folder (state.json, leases, server.log)."""
        return self.state_dir() / self.cluster_spec().key(self._lease_name())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id
        self._context = context
        self._choose_for_run(context.instance, context.run_id)
        if self.job_cluster and not self.remote:
            self._owner_pid = lease_owner(context.instance, context.run_id)

    def bind_run(self, instance: Any, run_id: str, log: Any) -> None:
        """A job task's run (Dagster does not set up the resource objects a job's tasks use): engine "auto"
        chooses for this run, and the engine is said in its log and run tag as for a table step."""
        if self._task_run is not None and self._task_run[1] == run_id:
            return
        self._task_run = (instance, run_id, log)
        self._choose_for_run(instance, run_id)

    def _choose_for_run(self, instance: Any, run_id: str | None) -> None:
        """Engine "auto": this run's engine, from its stored execution plan (runtime/auto_engine.py)."""
        if self.configured_engine() == "auto":
            self._auto = auto_engine.choose_for_run(instance, run_id, Path(default_root()))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        # Only the run worker (the lease's owner) ends the run; a step subprocess leaves the lease to it,
        # and the watchdog drops it when that worker dies without getting here.
        if self._leased and self._lease_owner() == os.getpid():
            stop_session()
            job_cluster.release(self.state_dir(), self.cluster_spec(), self._lease_name())
            self._leased = False

    def _lease_owner(self) -> int:
        return self._owner_pid or run_process_pid()

    def _lease_name(self) -> str:
        return self._run_id or f"pid{self._lease_owner()}"

    def attach_job_cluster(self) -> job_cluster.Endpoint:
        """Lease this run's job cluster, starting it if this is the run's first Spark task."""
        import pyspark

        if self.resolved_engine() == "sail":
            sail.check_versions()
        else:
            check_java()
        try:
            endpoint = job_cluster.attach(self.cluster_spec(), self.state_dir(), self._lease_name(), self._lease_owner(), os.path.dirname(pyspark.__file__))
        except (job_cluster.ClusterStartError, PermissionError) as exc:
            raise SetupError(job_cluster.redact(str(exc))) from None
        self._leased = True
        return endpoint

    def prestart_job_cluster(self) -> bool:
        """Start this resource's reusable job cluster in the background now (`job_cluster.prestart`)."""
        import pyspark

        if not self.job_cluster or self.remote:
            return False
        return job_cluster.prestart(self.cluster_spec(), self.state_dir(), os.path.dirname(pyspark.__file__))

    def require(self, what: str, needs: Sequence[str]) -> None:
        """Refuse `what` (a step) in one sentence, before any session starts, when the run's engine lacks what it `needs`.

        `needs` are names of `sail.LACKS`; on the JVM engine everything is there. A process runs
        one engine (docs/engines.md), so the step cannot fall back to the JVM inside the run."""
        unknown = [n for n in needs if n not in sail.LACKS]
        if unknown:
            raise ValueError(f"unknown engine features {unknown}; known: {sorted(sail.LACKS)}")
        if not needs or self.resolved_engine() != "sail":
            return
        missing = "; ".join(sail.LACKS[n] for n in needs)
        raise SetupError(f"{what} cannot run on the sail engine: it needs {missing}, which pysail {sail.PYSAIL_PIN} lacks (docs/engines.md); {ON_JVM}.")

    def failure_note(self) -> str:
        """What a task's failure adds when it ran on Sail: the engine, and the setting that runs it on the JVM
        (Sail may lack what the task's statements need; docs/engines.md). Empty on the JVM."""
        try:
            engine = self.resolved_engine()
        except SetupError:
            return ""  # a bad setting: the task's own error already says it
        return f" (it ran on the sail engine, pysail {sail.PYSAIL_PIN}, which lacks some of Spark: docs/engines.md; {ON_JVM})" if engine == "sail" else ""

    def configured_engine(self) -> str:
        """`engine` as set, else LAKEHOUSE_ENGINE when set, else "spark" (the JVM); refused in one sentence when unknown.

        A config value equal to the default cannot be told from the default once a run is
        configured, so the environment wins over `engine="spark"`: unset it to go back.
        """
        engine = self.engine if self.engine != "spark" else os.environ.get(ENGINE_ENV, "").strip().lower() or "spark"
        if engine not in ENGINES:
            source = "SparkResource.engine" if self.engine != "spark" else ENGINE_ENV
            raise SetupError(f"{source} must be 'spark', 'sail' or 'auto', got {engine!r}.")
        return engine

    def resolved_engine(self) -> str:
        """The engine this process runs: "spark" or "sail" ("auto" is the run's choice, runtime/auto_engine.py;
        the JVM outside a run)."""
        engine = self.configured_engine()
        if engine == "auto":
            return self._auto.engine if self._auto is not None else "spark"
        return engine

    def _sail_session(self) -> SparkSession:
        """The run's session on Sail (no JVM): the embedded server, or the run's Sail job cluster; refused where it would mix engines."""
        if self.remote:
            raise SetupError("The sail engine runs its own server (embedded, or a job cluster): leave SparkResource.remote unset.")
        if active_session() is not None:
            raise SetupError("This process already runs the JVM engine's SparkSession, and a process runs one engine: start the sail run in its own process.")
        conf = sail.session_conf(self.app_name, self.shuffle_partitions, self.spark_conf)
        if self.job_cluster:
            url = self.attach_job_cluster().url
            unity_rest.served_remotely(default_root())  # the cluster's process serves this root's names (its key)
        else:
            url = sail.server_url(before_stop=stop_session)
        with sail.unity_env_hidden():  # the session's catalog must be the lakehouse's, not a workspace's from DATABRICKS_HOST
            return sail_supply.supply(sail.mark(get_or_create_session(conf, url)))

    def _say_engine(self, engine: str) -> None:
        """One log line and the run tag `lakehouse_jobs/engine`, once per run and process."""
        context = self._context
        instance, run_id, log = (context.instance, self._run_id or "", context.log) if context is not None else self._task_run or (None, "", None)
        if run_id in _TAGGED_RUNS:
            return
        _TAGGED_RUNS.add(run_id)
        # a job cluster's URL carries its token: never in a log line (the run's logs reach the UI)
        where = job_cluster.redact(f"pysail {sail.check_versions()}, {_SESSION_URL}" if engine == "sail" else (_SESSION_URL or self.master))
        if self._auto is not None:
            where += f"; {self._auto.reason}"
        (log or dg.get_dagster_logger()).info(f"Spark engine: {engine} ({where}).")
        if instance is not None and run_id:
            instance.add_run_tags(run_id, {ENGINE_TAG: engine})

    def get_session(self) -> SparkSession:
        engine = self.resolved_engine()
        session = self._sail_session() if engine == "sail" else self._jvm_session()
        self._say_engine(engine)
        return session

    def _jvm_session(self) -> SparkSession:
        if self.remote and not self.remote.startswith("sc://"):
            raise SetupError(f"SparkResource.remote must be a Spark Connect URL like sc://127.0.0.1:15002, got {self.remote!r}.")
        if self.job_cluster and not self.remote:
            if active_session() is not None:  # a classic JVM already lives here (tests): share it
                return active_session()
            return get_or_create_session({}, self.attach_job_cluster().url)
        return get_or_create_session(self.conf(), self.remote)
