"""The class archive's build workload: a short Delta job in a JVM that writes its classes at exit.

Run by `class_archive.build` as `python -m lakehouse_jobs.lib.runtime.archive_workload TARGET`
(its own module so the archive's bookkeeping does not import the Spark runtime).
Changing `workload` means bumping `class_archive.WORKLOAD_VERSION`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from lakehouse_jobs.lib.runtime import spark as runtime
from lakehouse_jobs.lib.runtime.class_archive import QUIET


def workload(spark, root: Path) -> None:  # noqa: ANN001 - a SparkSession
    """What every lakehouse run does: parse CSV and JSON lines, write, append, MERGE and read Delta."""
    from delta.tables import DeltaTable
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    (root / "in.csv").write_text("id,name,amount\n1,a,1.5\n2,b,2.5\n")
    (root / "in.json").write_text('{"id": 1, "kind": "view", "props": {"k": "v"}}\n{"id": 2, "kind": "buy"}\n')
    csv = spark.read.option("header", True).schema("id BIGINT, name STRING, amount DOUBLE").csv(str(root / "in.csv"))
    lines = spark.read.text(str(root / "in.json"))
    parsed = lines.select(F.from_json("value", "map<string,string>").alias("m")).select(
        F.col("m")["id"].cast("bigint").alias("id"),
        F.col("m")["kind"].alias("name"),
        F.lit(0.0).alias("amount"),
        F.map_filter("m", lambda k, v: ~k.isin("id", "kind")).alias("rest"),
    )
    observed = Observation("rows")
    table = str(root / "t")
    csv.observe(observed, F.count(F.lit(1)).alias("n")).write.format("delta").save(table)
    observed.get  # noqa: B018 - reading the metrics loads their classes too
    parsed.drop("rest").write.format("delta").mode("append").save(table)
    merge = DeltaTable.forPath(spark, table).alias("t").merge(csv.alias("s"), "t.id = s.id")
    merge.whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    stored = spark.read.format("delta").load(table)
    window = Window.partitionBy("id").orderBy(F.col("amount").desc())
    ranked = stored.withColumn("rank", F.row_number().over(window)).filter("rank = 1")
    joined = ranked.join(csv.select("id", F.col("name").alias("source")), "id", "left")
    joined.groupBy(F.to_date(F.current_timestamp())).agg(F.sum("amount"), F.countDistinct("id")).collect()
    ranked.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(root / "gold"))
    DeltaTable.forPath(spark, table).history().collect()


def dump(target: str) -> int:
    """Run the workload in a JVM that writes its loaded classes to `target` when it exits."""
    conf = runtime.SparkResource().conf()  # the settings every default driver starts with
    conf["spark.driver.extraJavaOptions"] += f" -XX:ArchiveClassesAtExit={target} " + " ".join(QUIET)
    session = runtime.get_or_create_session(conf)
    gateway = session.sparkContext._gateway
    try:
        with tempfile.TemporaryDirectory() as root:
            workload(session, Path(root))
    finally:  # also after a failure: the caller removes what the JVM leaves, so it must have left
        runtime.stop_session()
        jvm = getattr(gateway, "proc", None)
        if jvm is not None:  # the JVM exits on EOF and writes the archive on its way out
            jvm.stdin.close()
            jvm.wait(timeout=300)
    return 0 if os.path.isfile(target) else 1


if __name__ == "__main__":
    sys.exit(dump(sys.argv[1]))
