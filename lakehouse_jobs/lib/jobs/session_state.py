"""Each task finds the session as the previous task found it: what a task changes in it ends with the task.

Databricks gives every task of a job a Spark session of its own (a notebook, a Python script, a SQL
file): its current catalog and schema (`USE ...`), the SQL settings it makes (`SET`,
`spark.conf.set`) and its temporary views end with it, so the next task starts clean. Here the
tasks of a run share the process's session (no second JVM), so the state a task leaves is put
back when it ends, failed or not: the catalog and schema current before it, its settings as they
were (changed ones set back, new ones unset), the temporary views it created dropped.
A session the task itself starts is put back to the state it was created with.

Not restored: a temporary view that existed before the task and that it replaced, and global
temporary views (`global_temp`, shared by design on Databricks too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SessionState:
    catalog: str | None
    schema: str
    conf: Any  # the SQL settings: a dict over Spark Connect, the JVM's immutable map on a classic session (see _settings)
    views: frozenset[str]


def _views(spark: Any) -> frozenset[str]:
    """The temporary views. A classic session asks its catalog directly (no SQL: this runs twice per task).
    Over Spark Connect `SHOW VIEWS` lists them with any schema's views, but a catalog without views (the
    project's Unity Catalog plugin) refuses it: then the session catalog's `default` is asked. The name column
    is `viewName` on Spark, `tableName` on Sail."""
    session = getattr(spark, "_jsparkSession", None)
    if session is not None:
        views = session.sessionState().catalog().listLocalTempViews("*")
        return frozenset(views.apply(i).table() for i in range(views.size()))
    try:
        rows = spark.sql("SHOW VIEWS").collect()
    except Exception:  # noqa: BLE001 - MISSING_CATALOG_ABILITY.VIEWS: the session catalog lists the temporary views too
        rows = spark.sql("SHOW VIEWS IN spark_catalog.default").collect()
    return frozenset(row["viewName" if "viewName" in row else "tableName"] for row in rows if row["isTemporary"])


def capture(spark: Any) -> SessionState:
    """What a task may change in `spark` and must not leave behind."""
    try:
        catalog = spark.catalog.currentCatalog()
    except Exception:  # noqa: BLE001 - an engine without catalogs: the schema alone
        catalog = None
    return SessionState(catalog, spark.catalog.currentDatabase(), _settings(spark), _views(spark))


def _settings(spark: Any) -> Any:
    """The session's SQL settings. A classic session's come as the JVM's immutable map, compared there in one call
    and read into Python only when the task changed them (measured: `conf.getAll` 30 ms, the map 10 ms, the
    comparison 0.3 ms; this runs twice per task)."""
    session = getattr(spark, "_jsparkSession", None)
    return session.sessionState().conf().getAllConfs() if session is not None else dict(spark.conf.getAll)


def _changed_settings(spark: Any, before: Any, now: Any) -> tuple[dict[str, str], dict[str, str]] | None:
    """(before, now) as dicts when the settings changed, else None."""
    if isinstance(before, dict):
        return None if before == now else (before, now)
    if before.equals(now):
        return None
    as_dict = lambda m: dict(spark._jvm.scala.jdk.javaapi.CollectionConverters.asJava(m))  # noqa: E731
    return as_dict(before), as_dict(now)


def restore(spark: Any, before: SessionState) -> list[str]:
    """Put `spark` back to `before`; what was put back, in words (for the task's debug log)."""
    done: list[str] = []
    now = capture(spark)
    for view in sorted(now.views - before.views):
        spark.catalog.dropTempView(view)
        done.append(f"temporary view {view} dropped")
    old, new = _changed_settings(spark, before.conf, now.conf) or ({}, {})
    for key, value in new.items():
        if key not in old:
            spark.conf.unset(key)
            done.append(f"{key} unset")
        elif old[key] != value:
            spark.conf.set(key, old[key])
            done.append(f"{key} set back")
    for key in old.keys() - new.keys():
        spark.conf.set(key, old[key])
        done.append(f"{key} set again")
    if before.catalog is not None and now.catalog != before.catalog:
        spark.catalog.setCurrentCatalog(before.catalog)
        done.append(f"catalog {before.catalog} current again")
    if now.schema != before.schema or now.catalog != before.catalog:
        spark.catalog.setCurrentDatabase(before.schema)
        done.append(f"schema {before.schema} current again")
    return done


@contextlib.contextmanager
def task_scope(log: Callable[[str], None]) -> Iterator[None]:
    """Around one task: the process's session (and one the task starts) put back at the end; `log` hears what was."""
    from lakehouse_jobs.lib.runtime import spark as spark_runtime  # no Spark machinery imported before a task runs

    seen: list[tuple[Any, SessionState]] = []

    def remember(session: Any) -> None:
        try:
            seen.append((session, capture(session)))
        except Exception as exc:  # noqa: BLE001 - the task runs all the same; its state may then outlive it, said once
            log(
                f"the session's state could not be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): what the task changes in it outlives it"
            )

    existing = spark_runtime.process_session()
    if existing is not None:
        remember(existing)
    with spark_runtime.when_session_created(remember):
        try:
            yield
        finally:
            for session, before in seen:
                if spark_runtime.process_session() is not session:  # stopped or replaced by the task: nothing to put back
                    continue
                try:
                    done = restore(session, before)
                except Exception as exc:  # noqa: BLE001 - the task's own outcome stands; the next task is told in the log
                    log(f"the task's session state could not be put back ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
                    continue
                if done:
                    log("the task's session state ended with it, as on Databricks: " + "; ".join(done))
