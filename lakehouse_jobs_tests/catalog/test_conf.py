"""The plugin reaches every JVM: the embedded session's conf and the job-cluster server's command line."""

from __future__ import annotations

from pathlib import Path

from lakehouse_jobs.lib.catalog import plugin
from lakehouse_jobs.lib.catalog.conf import catalog_conf
from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.runtime.spark import SparkResource


def test_catalog_conf_names_the_plugin_the_default_catalog_and_the_catalogs_on_disk(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_CATALOG", raising=False)
    (tmp_path / "catalogs" / "dev").mkdir(parents=True)
    conf = catalog_conf(tmp_path)
    jar = plugin.build()
    assert jar is not None and conf["spark.jars"] == str(jar) and jar.is_file()
    assert conf["spark.sql.defaultCatalog"] == "main" and conf["spark.lakehouse.root"] == str(tmp_path.resolve())
    for name in ("spark_catalog", "main", "dev"):
        assert conf[f"spark.sql.catalog.{name}"] == plugin.CLASS_NAME
    assert conf["spark.sql.extensions"].split(",") == ["io.delta.sql.DeltaSparkSessionExtension", plugin.EXTENSIONS_CLASS]
    assert catalog_conf(tmp_path, "prod")["spark.sql.defaultCatalog"] == "prod"


def test_the_job_cluster_server_gets_the_jar_and_the_catalog_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path))
    resource = SparkResource(job_cluster=True, catalog="main", spark_conf={"spark.jars": "/opt/extra.jar"})
    spec = resource.cluster_spec()
    jar = str(plugin.jar_path())
    assert jar in spec.jars and "/opt/extra.jar" in spec.jars  # the user's jars are kept too
    command = job_cluster.server_command("/spark", spec.conf, spec.jars, 15002)
    jars = command[command.index("--jars") + 1].split(",")
    assert jar in jars
    assert f"spark.sql.catalog.main={plugin.CLASS_NAME}" in command and f"spark.lakehouse.root={tmp_path.resolve()}" in command


def test_a_remote_spark_connect_server_keeps_its_own_catalogs():
    conf = SparkResource(remote="sc://127.0.0.1:15002").conf()
    assert "spark.sql.defaultCatalog" not in conf and conf["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")


def test_without_javac_the_plugin_is_left_out_with_one_sentence(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(plugin.DIR_ENV, str(tmp_path))  # no jar built here
    monkeypatch.setattr(plugin, "javac", lambda: None)
    assert catalog_conf(tmp_path) == {}
    assert plugin.missing_reason() == ("three-part names need the catalog plugin: install a JDK 17 (javac) and run `lakehouse-jobs prepare`.")


JOB_CLUSTER_SCRIPT = """
import sys
from pathlib import Path
from lakehouse_jobs.lib.catalog import bind_root
from lakehouse_jobs.lib.runtime.spark import SparkResource, stop_session
from lakehouse_jobs.lib.runtime import job_cluster
root, state = Path(sys.argv[1]), Path(sys.argv[2])
spark = SparkResource(job_cluster=True, cluster_state_dir=str(state)).get_session()
try:
    assert type(spark).__module__.startswith("pyspark.sql.connect")
    bind_root(spark, root)
    spark.sql("USE CATALOG main")
    spark.range(3).write.mode("overwrite").saveAsTable("main.silver.on_cluster")
    print("rows", spark.table("silver.on_cluster").count())
finally:
    stop_session()
    job_cluster.stop_all(state)
"""


def test_three_part_names_on_a_job_cluster_spark_connect_server(tmp_path: Path):
    """A fresh process (no classic JVM): the run's Spark Connect server loads the plugin from its --jars."""
    import subprocess
    import sys

    root, state = tmp_path / "lake", tmp_path / "clusters"
    root.mkdir()
    proc = subprocess.run([sys.executable, "-c", JOB_CLUSTER_SCRIPT, str(root), str(state)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "rows 3" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (root / "silver" / "on_cluster" / "_delta_log").is_dir()
