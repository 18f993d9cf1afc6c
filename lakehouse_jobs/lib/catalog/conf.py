"""Spark settings that put the catalog plugin in front of every name, and binding a session to a root.

The plugin replaces the session catalog (`spark_catalog`, still a delegating extension of
Delta's catalog, so temp views, functions and `delta.`/path`` keep working) and is the default
catalog (`main`, or `$LAKEHOUSE_CATALOG`) plus one named catalog per folder under
`$ROOT/catalogs/`. The root is a session setting (`spark.lakehouse.root`): a process that
serves several lakehouses binds each run's root with `bind_root`. A session extension adds the
Databricks statement Spark's parser lacks (`USE CATALOG c`, run as Spark's `SET CATALOG c`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.catalog import plugin
from lakehouse_jobs.lib.catalog.names import SESSION_CATALOG, catalogs_on_disk, check_part, default_catalog

ROOT_CONF = "spark.lakehouse.root"
CATALOG_CONF = "spark.lakehouse.catalog"


def catalog_conf(root: str | Path, catalog: str | None = None) -> dict[str, str]:
    """The settings of a session whose names resolve under `root` (empty when the plugin jar cannot be had)."""
    jar = plugin.available_jar()
    if jar is None:
        _warn_once(plugin.missing_reason() or "the catalog plugin could not be built; three-part names are not available.")
        return {}
    catalog = check_part(catalog or default_catalog(), "catalog", "LAKEHOUSE_CATALOG")
    root_text = str(Path(root).expanduser().resolve())
    conf = {
        "spark.jars": str(jar),
        "spark.sql.extensions": f"io.delta.sql.DeltaSparkSessionExtension,{plugin.EXTENSIONS_CLASS}",
        f"spark.sql.catalog.{SESSION_CATALOG}": plugin.CLASS_NAME,
        "spark.sql.defaultCatalog": catalog,
        CATALOG_CONF: catalog,
        ROOT_CONF: root_text,
        # /Volumes/<c>/<s>/<v>/... read and written by Spark itself (spark.read, read_files, save): the local
        # file system with volumes mapped under the root (java/.../VolumeFileSystem.java)
        "spark.hadoop.fs.file.impl": plugin.VOLUME_FS_CLASS,
        "spark.hadoop.fs.AbstractFileSystem.file.impl": plugin.VOLUME_FS_CLASS + "$Context",
        "spark.driver.extraClassPath": str(plugin.fs_jar_path(jar)),  # needed before spark.jars load
        "spark.hadoop.lakehouse.root": root_text,
    }
    for name in [catalog, *catalogs_on_disk(root_text)]:
        conf[f"spark.sql.catalog.{name}"] = plugin.CLASS_NAME
    return conf


@functools.cache
def _warn_once(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def enabled(spark: Any) -> bool:
    """Whether `spark` resolves names by the naming rule: with the plugin, or on Sail with the root served as its catalog."""
    from lakehouse_jobs.lib.catalog import unity_rest
    from lakehouse_jobs.lib.runtime.sail import is_sail

    if is_sail(spark):
        return unity_rest.served_root() is not None
    return spark.conf.get(f"spark.sql.catalog.{SESSION_CATALOG}", "") == plugin.CLASS_NAME


def register_catalog(spark: Any, name: str) -> str:
    """Make catalog `name` usable in `spark` (its tables live under `$ROOT/catalogs/<name>/`); returns the name."""
    from lakehouse_jobs.lib.runtime.sail import is_sail

    name = check_part(name, "catalog", name)
    if not enabled(spark):
        raise RuntimeError(plugin.missing_reason() or "this SparkSession was started without the catalog plugin.")
    if is_sail(spark):
        return name  # any catalog's names resolve there (`unity_rest.sail_catalogs`)
    if name != SESSION_CATALOG:
        spark.conf.set(f"spark.sql.catalog.{name}", plugin.CLASS_NAME)
    return name


def use(spark: Any, catalog: str, schema: str) -> None:
    """Make `<catalog>.<schema>` the session's current schema. On Sail, a catalog its server was not started with is
    used as the namespace `<catalog>.<schema>` of the default catalog, which is how Sail resolves its names."""
    from lakehouse_jobs.lib.catalog import unity_rest
    from lakehouse_jobs.lib.runtime.sail import is_sail

    if is_sail(spark) and catalog not in unity_rest.sail_catalogs():
        spark.catalog.setCurrentDatabase(f"{catalog}.{schema}")
        return
    spark.catalog.setCurrentCatalog(catalog)
    spark.catalog.setCurrentDatabase(schema)


def bind_root(spark: Any, root: str | Path) -> None:
    """Resolve `spark`'s names under `root` from now on (and register the catalogs found there); on Sail, the process's
    catalog server serves `root` from now on (catalog/unity_rest.py)."""
    from lakehouse_jobs.lib.catalog import unity_rest
    from lakehouse_jobs.lib.runtime.sail import is_sail

    if is_sail(spark):
        unity_rest.bind(root)
        spark.conf.set(ROOT_CONF, str(Path(root).expanduser().resolve()))  # what a caller saves and restores, as on the JVM
        return
    if not enabled(spark):
        return
    root_text = str(Path(root).expanduser().resolve())
    spark.conf.set(ROOT_CONF, root_text)
    jvm = getattr(spark, "_jvm", None)  # a classic session: volumes follow the run's root too (a Connect server keeps its own)
    if jvm is not None:
        jvm.lakehouse_jobs.catalog.VolumeFileSystem.setRoot(root_text)
    for name in catalogs_on_disk(root_text):
        spark.conf.set(f"spark.sql.catalog.{name}", plugin.CLASS_NAME)
