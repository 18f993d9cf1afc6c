"""OPTIMIZE, VACUUM and RESTORE: the same tables and answers on both engines (on Sail through sql/maintenance.py).

These run in both passes of `make test`: on the JVM delta-spark runs the statements, on Sail the
session's `sql` runs them with delta-rs; the assertions are delta-spark's answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable


def _rows(spark, path: Path) -> list[tuple]:
    return sorted(tuple(r) for r in spark.read.format("delta").load(str(path)).collect())


def _partitioned(spark, path: Path, commits: int = 3) -> None:
    for i in range(commits):
        spark.range(i * 4, i * 4 + 4).selectExpr("id", "id % 2 AS p").write.format("delta").mode("append").partitionBy("p").save(str(path))


def _files(path: Path) -> dict[str, int]:
    actions = DeltaTable(str(path)).get_add_actions(flatten=True)
    return dict(zip(actions.column("path").to_pylist(), actions.column("size_bytes").to_pylist(), strict=True))


def test_optimize_compacts_the_partitions_its_where_names_and_answers_deltas_metrics(spark, tmp_path: Path):
    t = tmp_path / "t"
    _partitioned(spark, t)
    rows, before = _rows(spark, t), _files(t)
    answer = spark.sql(f"OPTIMIZE delta.`{t}` WHERE p = 0 ZORDER BY (id)")
    assert answer.columns == ["path", "metrics"]
    [row] = answer.collect()
    assert row.path == f"file:{t}"
    removed = [f for f in before if f.startswith("p=0/")]
    assert (row.metrics.numFilesRemoved, row.metrics.numFilesAdded, row.metrics.partitionsOptimized) == (len(removed), 1, 1)
    assert row.metrics.filesRemoved.totalSize == sum(before[f] for f in removed) and row.metrics.numTableColumns == 2
    after = _files(t)
    assert len([f for f in after if f.startswith("p=0/")]) == 1
    assert {f for f in after if f.startswith("p=1/")} == {f for f in before if f.startswith("p=1/")}  # untouched
    assert _rows(spark, t) == rows
    assert DeltaTable(str(t)).history(1)[0]["operation"] == "OPTIMIZE"
    spark.sql(f"OPTIMIZE delta.`{t}`").collect()  # every partition, bin-packing
    assert len(_files(t)) == 2 and _rows(spark, t) == rows


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("OPTIMIZE delta.`{t}` WHERE id > 2", "DELTA_NON_PARTITION_COLUMN_REFERENCE"),
        ("OPTIMIZE delta.`{t}` ZORDER BY (p)", "DELTA_ZORDERING_ON_PARTITION_COLUMN"),
        ("OPTIMIZE delta.`{t}` ZORDER BY (nope)", "(?i)nope"),
        ("VACUUM delta.`{t}` RETAIN 0 HOURS", "DELTA_VACUUM_RETENTION_PERIOD_TOO_SHORT"),
        ("RESTORE TABLE delta.`{t}` TO VERSION AS OF 99", "(?i)version"),
    ],
)
def test_refusals_in_deltas_words_change_nothing(spark, tmp_path: Path, statement: str, words: str):
    t = tmp_path / "t"
    _partitioned(spark, t, commits=2)
    version = DeltaTable(str(t)).version()
    with pytest.raises(Exception, match=words):
        spark.sql(statement.format(t=t)).collect()
    assert DeltaTable(str(t)).version() == version


def test_vacuum_keeps_what_the_retention_needs_and_dry_run_lists_what_it_would_delete(spark, tmp_path: Path):
    t = tmp_path / "t"
    _partitioned(spark, t)
    rows, before = _rows(spark, t), _files(t)
    spark.sql(f"OPTIMIZE delta.`{t}`").collect()
    assert spark.sql(f"VACUUM delta.`{t}`").collect()[0].path == f"file:{t}"  # 7 days: the old files stay
    assert all((t / f).exists() for f in before)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        listed = spark.sql(f"VACUUM delta.`{t}` RETAIN 0 HOURS DRY RUN").collect()
        assert sorted(r.path for r in listed) == sorted(f"file:{t}/{f}" for f in before)
        assert all((t / f).exists() for f in before)  # a dry run deletes nothing
        spark.sql(f"VACUUM delta.`{t}` RETAIN 0 HOURS").collect()
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    assert not any((t / f).exists() for f in before)
    assert _rows(spark, t) == rows


def test_restore_to_a_version_and_its_answer(spark, tmp_path: Path):
    t = tmp_path / "t"
    _partitioned(spark, t)
    version_1 = sorted(tuple(r) for r in spark.read.format("delta").option("versionAsOf", 1).load(str(t)).collect())
    before = _files(t)
    answer = spark.sql(f"RESTORE TABLE delta.`{t}` TO VERSION AS OF 1")
    assert answer.columns == [
        "table_size_after_restore", "num_of_files_after_restore", "num_removed_files", "num_restored_files", "removed_files_size",
        "restored_files_size",
    ]  # fmt: skip
    [row] = answer.collect()
    after = _files(t)
    assert _rows(spark, t) == version_1
    removed = before.keys() - after.keys()
    assert tuple(row) == (sum(after.values()), len(after), len(removed), 0, sum(before[f] for f in removed), 0)
    assert DeltaTable(str(t)).history(1)[0]["operation"] == "RESTORE"


def test_restore_to_a_timestamp_takes_the_version_in_force_then(spark, tmp_path: Path):
    import datetime as dt
    import time

    t = tmp_path / "t"
    spark.range(2).write.format("delta").save(str(t))
    time.sleep(1.1)
    spark.range(2, 5).write.format("delta").mode("append").save(str(t))
    commits = {h["version"]: h["timestamp"] for h in DeltaTable(str(t)).history()}
    between = dt.datetime.fromtimestamp((commits[0] + commits[1]) / 2000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    spark.sql(f"RESTORE TABLE delta.`{t}` TO TIMESTAMP AS OF '{between}'").collect()
    assert _rows(spark, t) == [(0,), (1,)]
