"""INSERT and CREATE TABLE on `delta.`path``: the same tables on both engines (on Sail through sql/delta_paths.py).

These run in both passes of `make test`: on the JVM Spark runs the statements itself, on Sail
the session's `sql` runs them through the DataFrame API; the assertions are the JVM's answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs_tests.engines import ON_SAIL


def _rows(spark, path: Path) -> list[tuple]:
    return sorted(tuple(r) for r in spark.read.format("delta").load(str(path)).collect())


def test_insert_matches_columns_by_position_list_or_name_and_casts_to_the_tables_types(spark, tmp_path: Path):
    t = tmp_path / "t"
    assert spark.sql(f"CREATE TABLE delta.`{t}` (id BIGINT, name STRING, score DOUBLE) USING delta").collect() == []
    assert spark.sql(f"INSERT INTO delta.`{t}` VALUES (1, 'a', 1), (2, 'b', 2.5)").collect() == []
    spark.sql(f"INSERT INTO delta.`{t}` SELECT 3 AS x, 'c' AS y, '4.5' AS z")  # by position, cast to the table's types
    spark.sql(f"INSERT INTO delta.`{t}` (name, id) VALUES ('d', 4)")  # a column list: the rest null
    spark.sql(f"INSERT INTO delta.`{t}` BY NAME SELECT 'e' AS name, 5 AS id, 0.5 AS score")
    assert _rows(spark, t) == [(1, "a", 1.0), (2, "b", 2.5), (3, "c", 4.5), (4, "d", None), (5, "e", 0.5)]
    assert dict(spark.read.format("delta").load(str(t)).dtypes) == {"id": "bigint", "name": "string", "score": "double"}
    spark.sql(f"INSERT OVERWRITE delta.`{t}` SELECT 7, 'z', 9")
    assert _rows(spark, t) == [(7, "z", 9.0)]
    with pytest.raises(Exception, match="(?i)column|arity|NUM_COLUMNS|not enough|too many"):
        spark.sql(f"INSERT INTO delta.`{t}` SELECT 1, 2")
    assert _rows(spark, t) == [(7, "z", 9.0)]  # nothing written


def test_create_table_as_select_if_not_exists_and_or_replace(spark, tmp_path: Path):
    t = tmp_path / "c"
    spark.sql(f"CREATE TABLE delta.`{t}` USING delta AS SELECT id, id * 2 AS twice FROM range(3)")
    assert _rows(spark, t) == [(0, 0), (1, 2), (2, 4)]
    with pytest.raises(Exception, match="(?i)already exists"):
        spark.sql(f"CREATE TABLE delta.`{t}` AS SELECT 1 AS id")
    spark.sql(f"CREATE TABLE IF NOT EXISTS delta.`{t}` AS SELECT 1 AS id")  # a no-op
    assert _rows(spark, t) == [(0, 0), (1, 2), (2, 4)]
    spark.sql(f"CREATE OR REPLACE TABLE delta.`{t}` AS SELECT 'x' AS label")  # rows and schema replaced
    assert _rows(spark, t) == [("x",)] and spark.read.format("delta").load(str(t)).columns == ["label"]


def test_a_clause_without_spark_meaning_here_is_refused_on_sail_before_writing(spark, tmp_path: Path):
    t = tmp_path / "p"
    statement = f"CREATE TABLE delta.`{t}` (id BIGINT, day STRING) USING delta PARTITIONED BY (day)"
    if not ON_SAIL:
        spark.sql(statement)  # the JVM runs it
        assert (t / "_delta_log").is_dir()
        return
    with pytest.raises(
        ValueError,
        match=r"^Sail runs CREATE TABLE delta\.`\.\.\.` with the DataFrame API, which cannot give PARTITIONED BY Spark's meaning; run it on the JVM engine",
    ):
        spark.sql(statement)
    assert not t.exists()


HISTORY_COLUMNS = [
    "version", "timestamp", "userId", "userName", "operation", "operationParameters", "job", "notebook", "clusterId",
    "readVersion", "isolationLevel", "isBlindAppend", "operationMetrics", "userMetadata", "engineInfo",
]  # fmt: skip


def test_describe_history_newest_first_with_deltas_columns(spark, tmp_path: Path):
    """Sail cannot parse DESCRIBE HISTORY: its session answers it from the Delta log (tables/history.py), as Delta does."""
    import pandas as pd
    from deltalake import write_deltalake

    t = tmp_path / "h"
    write_deltalake(str(t), pd.DataFrame({"id": [0, 1]}))  # the same first commit on both engines
    spark.range(1).write.format("delta").mode("append").option("userMetadata", "run-42").save(str(t))
    history = spark.sql(f"DESCRIBE HISTORY delta.`{t}`")
    assert history.columns[: len(HISTORY_COLUMNS)] == HISTORY_COLUMNS
    rows = history.collect()
    assert [(r["version"], r["operation"], r["userMetadata"]) for r in rows] == [(1, "WRITE", "run-42"), (0, "WRITE", None)]
    assert rows[0]["operationParameters"]["mode"] == "Append" and rows[0]["operationMetrics"]["numOutputRows"] == "1"
    assert rows[0]["timestamp"] >= rows[1]["timestamp"] and rows[0]["isBlindAppend"] is True
    assert [r["version"] for r in spark.sql(f"DESCRIBE HISTORY delta.`{t}` LIMIT 1").collect()] == [1]
    with pytest.raises(Exception, match="(?i)not a Delta table|DELTA_MISSING_DELTA_TABLE|not found|doesn't exist|does not exist"):
        spark.sql(f"DESCRIBE HISTORY delta.`{tmp_path / 'none'}`").collect()


def test_alter_table_set_tblproperties(spark, tmp_path: Path):
    """Sail does not run it: its session commits the properties with delta-rs; one turning on a table feature is refused there."""
    from deltalake import DeltaTable

    t = tmp_path / "p"
    spark.range(2).write.format("delta").save(str(t))
    spark.sql(f"ALTER TABLE delta.`{t}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = true, delta.logRetentionDuration = 'interval 9 days', 'team' = 'x')")
    configuration = DeltaTable(str(t)).metadata().configuration
    assert {k: configuration.get(k) for k in ("delta.enableChangeDataFeed", "delta.logRetentionDuration", "team")} == {
        "delta.enableChangeDataFeed": "true", "delta.logRetentionDuration": "interval 9 days", "team": "x",
    }  # fmt: skip
    assert DeltaTable(str(t)).history(1)[0]["operation"] == "SET TBLPROPERTIES"
    turn_on = f"ALTER TABLE delta.`{t}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    if ON_SAIL:  # delta-rs would add table features the JVM does not: refused before anything is written
        with pytest.raises(Exception, match="delta.enableDeletionVectors: Sail's session sets only .* run it on the JVM engine"):
            spark.sql(turn_on)
        assert "delta.enableDeletionVectors" not in DeltaTable(str(t)).metadata().configuration
    else:
        spark.sql(turn_on)
        assert DeltaTable(str(t)).metadata().configuration["delta.enableDeletionVectors"] == "true"
