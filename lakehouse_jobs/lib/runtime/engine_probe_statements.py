"""Probes of what a Databricks task's own code may use (engine_probe.py runs them after engine_probe_tables.py's).

Each measures one entry of `sail.LACKS` that a notebook, script or SQL file names and the
project's table steps do not: table maintenance statements, change-feed reads, streaming,
RDDs, SQL DML on a table with the change data feed. jobs/source_needs.py looks for them in
a task's source before the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _feed_table(d: Path) -> str:
    """A Delta table made by delta-rs with the change data feed on (as every table the project makes), 2 commits."""
    import pandas as pd
    from deltalake import write_deltalake

    path = str(d / "t")
    write_deltalake(path, pd.DataFrame({"id": [1, 2]}), configuration={"delta.enableChangeDataFeed": "true"})
    write_deltalake(path, pd.DataFrame({"id": [3]}), mode="append")
    return path


def p_rdd(spark: Any, d: Path) -> Any:
    return sorted(spark.range(3).rdd.map(lambda row: row.id * 2).collect())


def p_read_change_feed(spark: Any, d: Path) -> Any:
    changes = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0).load(_feed_table(d))
    return sorted((r["id"], r["_change_type"], r["_commit_version"]) for r in changes.collect())


def p_table_changes(spark: Any, d: Path) -> Any:
    rows = spark.sql(f"SELECT id, _change_type FROM table_changes_by_path('{_feed_table(d)}', 1)").collect()  # noqa: S608 - a temp path
    return sorted((r["id"], r["_change_type"]) for r in rows)


def p_feed_table_merge(spark: Any, d: Path) -> Any:
    path = _feed_table(d)
    spark.sql(f"MERGE INTO delta.`{path}` t USING (SELECT 3 AS id UNION ALL SELECT 4) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *").collect()
    return sorted(r[0] for r in spark.read.format("delta").load(path).collect())


def _statement(spark: Any, d: Path, statement: str) -> Any:
    """Run `statement` ({path}: a 3-row Delta table) and return the table's rows after it."""
    path = str(d / "t")
    spark.range(3).write.format("delta").save(path)
    spark.sql(statement.format(path=path)).collect()
    return sorted(r[0] for r in spark.read.format("delta").load(path).collect())


def p_optimize(spark: Any, d: Path) -> Any:
    return _statement(spark, d, "OPTIMIZE delta.`{path}` ZORDER BY (id)")


def p_vacuum(spark: Any, d: Path) -> Any:
    return _statement(spark, d, "VACUUM delta.`{path}`")


def p_restore(spark: Any, d: Path) -> Any:
    path = str(d / "t")
    spark.range(3).write.format("delta").save(path)
    spark.range(5).write.format("delta").mode("append").save(path)
    spark.sql(f"RESTORE TABLE delta.`{path}` TO VERSION AS OF 0").collect()
    return sorted(r[0] for r in spark.read.format("delta").load(path).collect())


def p_cache_table(spark: Any, d: Path) -> Any:
    spark.sql("CACHE TABLE probe_cached AS SELECT 1 AS a").collect()
    try:
        return [tuple(r) for r in spark.table("probe_cached").collect()]
    finally:
        spark.sql("UNCACHE TABLE IF EXISTS probe_cached").collect()


def p_structured_streaming(spark: Any, d: Path) -> Any:
    source = str(d / "t")
    spark.range(3).write.format("delta").save(source)
    out, checkpoint = str(d / "out"), str(d / "checkpoint")
    query = spark.readStream.format("delta").load(source).writeStream.format("delta").option("checkpointLocation", checkpoint)
    query.trigger(availableNow=True).start(out).awaitTermination()
    return sorted(r[0] for r in spark.read.format("delta").load(out).collect())


PROBES: dict[str, tuple[str, Any]] = {
    "rdd": ("RDDs (`df.rdd.map`)", p_rdd),
    "read_change_feed": ("`readChangeFeed` of a table with the feed (delta-rs made it): `_change_type`, `_commit_version`", p_read_change_feed),
    "table_changes": ("`table_changes_by_path(...)` in SQL", p_table_changes),
    "feed_table_merge": ("SQL `MERGE INTO` a table with the change data feed (as the project makes them)", p_feed_table_merge),
    "optimize": ("`OPTIMIZE ... ZORDER BY`", p_optimize),
    "vacuum": ("`VACUUM`", p_vacuum),
    "restore": ("`RESTORE TABLE ... TO VERSION AS OF`", p_restore),
    "cache_table": ("`CACHE TABLE ... AS SELECT`", p_cache_table),
    "structured_streaming": ("Structured Streaming, Delta to Delta (`trigger(availableNow=True)`)", p_structured_streaming),
}
