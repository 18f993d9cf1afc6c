"""Probes of what the project's own table steps, ingestion and SQL ask of Spark (engine_probe.py runs them).

Each takes a session and a fresh folder and returns a plain, comparable value; the
JVM's value is the reference. The probes of what a Databricks task's own code may use
are in engine_probe_statements.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Probe = Callable[[Any, Path], Any]  # (session, a fresh folder) -> a comparable value


def _rows(df: Any) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


def _delta(spark: Any, path: Path) -> Any:
    return spark.read.format("delta").load(str(path))


def _last_commit(path: Path) -> dict:
    """The commitInfo of a Delta table's newest commit, read from its log file."""
    newest = max((path / "_delta_log").glob("*.json"))
    actions = [json.loads(line) for line in newest.read_text().splitlines() if line.strip()]
    return next(a["commitInfo"] for a in actions if "commitInfo" in a)


def p_delta_write_read(spark: Any, d: Path) -> Any:
    spark.range(5).selectExpr("id", "id * 2 AS v").write.format("delta").save(str(d / "t"))
    return _rows(_delta(spark, d / "t"))


def p_default_format_delta(spark: Any, d: Path) -> Any:
    spark.range(3).write.save(str(d / "t"))  # spark.sql.sources.default = delta, as on Databricks
    return (d / "t" / "_delta_log").is_dir()


def p_partitioned_write(spark: Any, d: Path) -> Any:
    spark.range(6).selectExpr("id", "id % 2 AS p").write.format("delta").partitionBy("p").save(str(d / "t"))
    return _rows(_delta(spark, d / "t")), sorted(x.name for x in (d / "t").iterdir() if x.name.startswith("p="))


def p_merge_schema(spark: Any, d: Path) -> Any:
    spark.range(2).write.format("delta").save(str(d / "t"))
    spark.range(2, 4).selectExpr("id", "'x' AS extra").write.format("delta").mode("append").option("mergeSchema", "true").save(str(d / "t"))
    df = _delta(spark, d / "t")
    return df.columns, _rows(df)


def p_overwrite_schema(spark: Any, d: Path) -> Any:
    spark.range(2).write.format("delta").save(str(d / "t"))
    spark.range(1).selectExpr("'a' AS name").write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(d / "t"))
    df = _delta(spark, d / "t")
    return df.columns, _rows(df)


def p_replace_where(spark: Any, d: Path) -> Any:
    spark.range(4).selectExpr("id", "id % 2 AS p").write.format("delta").save(str(d / "t"))
    spark.range(10, 11).selectExpr("id", "id % 2 AS p").write.format("delta").mode("overwrite").option("replaceWhere", "p = 0").save(str(d / "t"))
    return _rows(_delta(spark, d / "t"))


def p_replace_where_outside(spark: Any, d: Path) -> Any:
    spark.range(4).selectExpr("id", "id % 2 AS p").write.format("delta").save(str(d / "t"))
    spark.range(11, 12).selectExpr("id", "id % 2 AS p").write.format("delta").mode("overwrite").option("replaceWhere", "p = 0").save(str(d / "t"))
    return _rows(_delta(spark, d / "t"))


def p_empty_append_commits(spark: Any, d: Path) -> Any:
    from deltalake import DeltaTable

    spark.range(2).write.format("delta").save(str(d / "t"))
    spark.range(0).write.format("delta").mode("append").save(str(d / "t"))  # an empty query
    spark.createDataFrame([], "id bigint").write.format("delta").mode("append").save(str(d / "t"))  # an empty local relation
    return DeltaTable(str(d / "t")).version()


def p_time_travel(spark: Any, d: Path) -> Any:
    spark.range(3).write.format("delta").save(str(d / "t"))
    spark.range(10, 11).write.format("delta").mode("overwrite").save(str(d / "t"))
    return _rows(spark.read.format("delta").option("versionAsOf", 0).load(str(d / "t")))


def p_merge_into_sql(spark: Any, d: Path) -> Any:
    spark.range(3).selectExpr("id", "'old' AS v").write.format("delta").save(str(d / "t"))
    spark.range(2, 5).selectExpr("id", "'new' AS v").createOrReplaceTempView("probe_src")
    spark.sql(f"MERGE INTO delta.`{d / 't'}` AS t USING probe_src AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *").collect()
    return _rows(_delta(spark, d / "t"))


def p_txn_idempotent_append(spark: Any, d: Path) -> Any:
    for _ in range(2):  # the same app/version twice: Delta must skip the second
        spark.range(3).write.format("delta").mode("append").option("txnAppId", "probe").option("txnVersion", 1).save(str(d / "t"))
    return _delta(spark, d / "t").count()


def p_user_metadata_option(spark: Any, d: Path) -> Any:
    spark.range(1).write.format("delta").option("userMetadata", "probe-option").save(str(d / "t"))
    return _last_commit(d / "t").get("userMetadata")


def p_user_metadata_conf(spark: Any, d: Path) -> Any:
    key = "spark.databricks.delta.commitInfo.userMetadata"
    spark.conf.set(key, "probe-conf")
    try:
        spark.range(1).write.format("delta").save(str(d / "t"))
    finally:
        spark.conf.unset(key)
    return _last_commit(d / "t").get("userMetadata")


def p_describe_history(spark: Any, d: Path) -> Any:
    import pandas as pd
    from deltalake import write_deltalake

    write_deltalake(str(d / "t"), pd.DataFrame({"id": [0]}))  # the same first commit on each engine (Sail's writer says CREATE TABLE)
    spark.range(1).write.format("delta").mode("append").save(str(d / "t"))
    return sorted((r["version"], r["operation"]) for r in spark.sql(f"DESCRIBE HISTORY delta.`{d / 't'}`").collect())


def p_alter_tblproperties(spark: Any, d: Path) -> Any:
    from deltalake import DeltaTable

    spark.range(1).write.format("delta").save(str(d / "t"))
    spark.sql(f"ALTER TABLE delta.`{d / 't'}` SET TBLPROPERTIES ('delta.appendOnly' = 'true', 'team' = 'x')")
    configuration = DeltaTable(str(d / "t")).metadata().configuration
    return {k: configuration.get(k) for k in ("delta.appendOnly", "team")}


def p_change_data_feed(spark: Any, d: Path) -> Any:
    spark.range(2).selectExpr("id", "'a' AS v").write.format("delta").option("delta.enableChangeDataFeed", "true").save(str(d / "t"))
    spark.range(1, 3).selectExpr("id", "'b' AS v").createOrReplaceTempView("probe_cdf")
    spark.sql(f"MERGE INTO delta.`{d / 't'}` t USING probe_cdf s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *").collect()
    changes = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 1).load(str(d / "t"))
    return _rows(changes.select("id", "v", "_change_type", "_commit_version"))


def p_observe(spark: Any, d: Path) -> Any:
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("probe")
    spark.range(5).observe(observation, F.count(F.lit(1)).alias("rows"), F.sum("id").alias("total")).collect()
    return dict(observation.get)


def p_json_corrupt_record(spark: Any, d: Path) -> Any:
    (d / "in.json").write_text('{"a": 1}\n{"a": oops\n')
    schema = "a INT, _corrupt_record STRING"
    df = spark.read.schema(schema).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", "_corrupt_record").json(str(d / "in.json"))
    return sorted(((r["a"], r["_corrupt_record"]) for r in df.collect()), key=repr)


def p_csv_malformed_record(spark: Any, d: Path) -> Any:
    (d / "in.csv").write_text("a,b\n1,x\n2,y,extra\n3\n")
    schema = "a STRING, b STRING, _corrupt_record STRING"
    df = spark.read.schema(schema).options(header="true", mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt_record").csv(str(d / "in.csv"))
    return sorted(((r["a"], r["b"], r["_corrupt_record"]) for r in df.collect()), key=repr)


def p_from_json_lenient(spark: Any, d: Path) -> Any:
    lines = ["{'a': 'single'}", '{"a": NaN}', '{"a": 123456789012345678901234567890}', '{"a": 1.50}']
    df = spark.createDataFrame([(line,) for line in lines], "v STRING").selectExpr("from_json(v, 'map<string,string>') AS m")
    return [r["m"] for r in df.collect()]


def p_write_cdf_table(spark: Any, d: Path) -> Any:
    import pandas as pd
    from deltalake import write_deltalake

    write_deltalake(str(d / "t"), pd.DataFrame({"id": [0]}), configuration={"delta.enableChangeDataFeed": "true"})
    spark.range(1, 3).write.format("delta").mode("append").save(str(d / "t"))
    return sorted(r[0] for r in spark.read.format("delta").load(str(d / "t")).collect())


def p_metadata_file_path(spark: Any, d: Path) -> Any:
    (d / "in").mkdir()
    (d / "in" / "a.csv").write_text("x\n1\n")
    df = spark.read.option("header", "true").csv(str(d / "in")).select("x", "_metadata.file_path")
    return [(r[0], r[1].rsplit("/", 1)[-1]) for r in df.collect()]


def p_input_file_name(spark: Any, d: Path) -> Any:
    from pyspark.sql import functions as F

    (d / "in").mkdir()
    (d / "in" / "a.csv").write_text("x\n1\n")
    df = spark.read.option("header", "true").csv(str(d / "in")).select("x", F.input_file_name().alias("f"))
    return [(r[0], r[1].rsplit("/", 1)[-1]) for r in df.collect()]


def p_from_json(spark: Any, d: Path) -> Any:
    df = spark.createDataFrame([('{"a": 1, "b": "x"}',)], "j STRING").selectExpr("from_json(j, 'a INT, b STRING') AS s")
    return [(r.s.a, r.s.b) for r in df.collect()]


def p_window(spark: Any, d: Path) -> Any:
    df = spark.createDataFrame([("k", 1), ("k", 2), ("m", 3)], "k STRING, v INT")
    return _rows(df.selectExpr("k", "v", "row_number() OVER (PARTITION BY k ORDER BY v DESC) AS rn", "sum(v) OVER (PARTITION BY k) AS total"))


def p_using_join_qualified(spark: Any, d: Path) -> Any:
    spark.createDataFrame([("a", 1), ("b", 2)], "k STRING, v INT").createOrReplaceTempView("probe_left")
    spark.createDataFrame([("a", "x")], "k STRING, w STRING").createOrReplaceTempView("probe_right")
    return _rows(spark.sql("SELECT l.k, l.v, r.w FROM probe_left l LEFT JOIN probe_right r USING (k)"))


def p_datediff_type(spark: Any, d: Path) -> Any:
    df = spark.createDataFrame([("2026-03-01", "2026-02-01")], "a STRING, b STRING").selectExpr("datediff(to_date(a), to_date(b)) AS days")
    return (df.schema["days"].dataType.simpleString(), df.collect()[0].days)


def p_datediff_python(spark: Any, d: Path) -> Any:
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("2026-03-01", "2026-02-01")], "a STRING, b STRING").select(F.datediff(F.to_date("a"), F.to_date("b")).alias("days"))
    return (df.schema["days"].dataType.simpleString(), df.collect()[0].days)


def p_python_udf(spark: Any, d: Path) -> Any:
    from pyspark.sql import functions as F

    double = F.udf(lambda x: x * 2, "long")
    return _rows(spark.range(3).select(double("id")))


def p_to_pandas(spark: Any, d: Path) -> Any:
    return spark.range(3).selectExpr("id", "CAST(id AS STRING) AS s").toPandas().to_dict("list")


def p_temp_view(spark: Any, d: Path) -> Any:
    spark.range(3).createOrReplaceTempView("probe_view")
    return _rows(spark.sql("SELECT sum(id) FROM probe_view"))


def _named_table(spark: Any, prefix: str, create: str) -> Any:
    """Rows of a catalog table made by `create` (its `{name}` filled in), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    spark.sql(create.format(name=name)).collect()
    try:
        return _rows(spark.table(name))
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {name}").collect()


def p_ctas(spark: Any, d: Path) -> Any:
    return _named_table(spark, "probe_ctas", "CREATE TABLE {name} AS SELECT 1 AS a, 'x' AS b")


def p_create_table_location(spark: Any, d: Path) -> Any:
    spark.range(3).write.format("delta").save(str(d / "t"))
    return _named_table(spark, "probe_loc", f"CREATE TABLE {{name}} USING delta LOCATION '{d / 't'}'")


def p_deltatable_api(spark: Any, d: Path) -> Any:
    from delta.tables import DeltaTable

    spark.range(2).write.format("delta").save(str(d / "t"))
    return DeltaTable.forPath(spark, str(d / "t")).toDF().count()


PROBES: dict[str, tuple[str, Probe]] = {
    "delta_write_read": ("Delta write and read by path", p_delta_write_read),
    "default_format_delta": ("`spark.sql.sources.default=delta`: `save()` without a format writes Delta", p_default_format_delta),
    "partitioned_write": ("Delta partitioned write (`partitionBy`)", p_partitioned_write),
    "merge_schema": ("append with `mergeSchema`", p_merge_schema),
    "overwrite_schema": ("overwrite with `overwriteSchema`", p_overwrite_schema),
    "replace_where": ("overwrite with `replaceWhere`", p_replace_where),
    "replace_where_outside": ("`replaceWhere` overwrite with a row outside its predicate", p_replace_where_outside),
    "empty_append_commits": (
        "appends of no rows (an empty query, an empty local DataFrame): the table version after them (0: no commit)",
        p_empty_append_commits,
    ),
    "time_travel": ("time travel (`versionAsOf`)", p_time_travel),
    "merge_into_sql": ("`MERGE INTO delta.`path`` (update + insert)", p_merge_into_sql),
    "txn_idempotent_append": ("`txnAppId`/`txnVersion` append twice = once", p_txn_idempotent_append),
    "user_metadata_option": ("writer option `userMetadata` in commitInfo", p_user_metadata_option),
    "user_metadata_conf": ("`spark.databricks.delta.commitInfo.userMetadata` in commitInfo", p_user_metadata_conf),
    "describe_history": ("`DESCRIBE HISTORY delta.`path``", p_describe_history),
    "alter_tblproperties": ("`ALTER TABLE delta.`path` SET TBLPROPERTIES`", p_alter_tblproperties),
    "change_data_feed": ("change data feed (`readChangeFeed`, `startingVersion`)", p_change_data_feed),
    "observe": ("`df.observe` / `Observation`", p_observe),
    "json_corrupt_record": ("PERMISSIVE JSON with `_corrupt_record`", p_json_corrupt_record),
    "csv_malformed_record": ("PERMISSIVE CSV with `_corrupt_record` (a record with too many, one with too few fields)", p_csv_malformed_record),
    "from_json_lenient": ("`from_json` on single quotes, NaN, a 30-digit integer, 1.50 (JSON ingestion parses with it)", p_from_json_lenient),
    "write_cdf_table": ("append to a table with the change data feed on (every table a JVM run wrote)", p_write_cdf_table),
    "metadata_file_path": ("`_metadata.file_path`", p_metadata_file_path),
    "input_file_name": ("`input_file_name()`", p_input_file_name),
    "from_json": ("`from_json`", p_from_json),
    "window": ("window functions", p_window),
    "using_join_qualified": ("a `USING` join's column named through a table alias (`l.k`)", p_using_join_qualified),
    "datediff_type": ("`datediff` in SQL: its type and value", p_datediff_type),
    "datediff_python": ("`F.datediff` (the Python API): its type and value", p_datediff_python),
    "python_udf": ("Python UDF", p_python_udf),
    "to_pandas": ("`toPandas`", p_to_pandas),
    "temp_view": ("temporary views", p_temp_view),
    "ctas": ("`CREATE TABLE ... AS SELECT` (managed table)", p_ctas),
    "create_table_location": ("`CREATE TABLE ... USING delta LOCATION` over an existing table", p_create_table_location),
    "deltatable_api": ("`delta.tables.DeltaTable` (Python API)", p_deltatable_api),
}
