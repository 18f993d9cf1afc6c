"""Write modes commit real Delta transactions; user mistakes come back as one readable error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from deltalake import DeltaTable

from lakehouse_jobs.lib import LakehouseError, SetupError, SpecError, WriteSpec, write_delta
from lakehouse_jobs.lib.tables.delta_io import last_commit, read_delta
from lakehouse_jobs_tests.engines import ON_SAIL


def _rows(path) -> list[tuple]:
    return sorted(DeltaTable(str(path)).to_pandas().itertuples(index=False, name=None))


def test_overwrite_replaces_rows_and_schema(spark, tmp_path):
    path = tmp_path / "t"
    write_delta(spark, spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"), path, WriteSpec())
    commit = write_delta(spark, spark.createDataFrame([(3, Decimal("1.50"))], "id long, price decimal(10,2)"), path, WriteSpec())
    assert commit.version == 1 and commit.operation == "WRITE"
    assert _rows(path) == [(3, Decimal("1.50"))]


def test_append_adds_and_refuses_silent_schema_drift(spark, tmp_path):
    path = tmp_path / "t"
    write_delta(spark, spark.createDataFrame([(1,)], "id long"), path, WriteSpec("append"))
    commit = write_delta(spark, spark.createDataFrame([(2,)], "id long"), path, WriteSpec("append"))
    assert commit.metrics["numOutputRows"] == 1
    assert _rows(path) == [(1,), (2,)]
    with pytest.raises(LakehouseError, match="schema does not match"):
        write_delta(spark, spark.createDataFrame([(3, "x")], "id long, extra string"), path, WriteSpec("append"))
    write_delta(spark, spark.createDataFrame([(3, "x")], "id long, extra string"), path, WriteSpec("append", merge_schema=True))
    assert _rows(path)[-1] == (3, "x")


def test_merge_upserts_on_keys_and_reports_metrics(spark, tmp_path):
    path = tmp_path / "t"
    spec = WriteSpec("merge", merge_keys=("id",))
    write_delta(spark, spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"), path, spec)
    commit = write_delta(spark, spark.createDataFrame([(2, "B"), (3, "c")], "id long, v string"), path, spec)
    assert commit.operation == "MERGE"
    assert commit.metrics["numTargetRowsUpdated"] == 1 and commit.metrics["numTargetRowsInserted"] == 1
    assert _rows(path) == [(1, "a"), (2, "B"), (3, "c")]


def test_merge_delete_unmatched_syncs_the_table(spark, tmp_path):
    path = tmp_path / "t"
    spec = WriteSpec("merge", merge_keys=("id",), delete_unmatched=True)
    write_delta(spark, spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"), path, spec)
    commit = write_delta(spark, spark.createDataFrame([(2, "b")], "id long, v string"), path, spec)
    assert commit.metrics["numTargetRowsDeleted"] == 1
    assert _rows(path) == [(2, "b")]


def test_merge_with_duplicate_source_keys_is_explained_and_changes_nothing(spark, tmp_path):
    path = tmp_path / "t"
    spec = WriteSpec("merge", merge_keys=("id",))
    write_delta(spark, spark.createDataFrame([(1, "a")], "id long, v string"), path, spec)
    with pytest.raises(LakehouseError, match=r"several result rows share the merge key \['id'\]"):
        write_delta(spark, spark.createDataFrame([(1, "x"), (1, "y")], "id long, v string"), path, spec)
    assert _rows(path) == [(1, "a")] and last_commit(spark, str(path)).version == 0


def test_partitioned_write_lays_out_partition_folders(spark, tmp_path):
    path = tmp_path / "t"
    df = spark.createDataFrame([(1, "2026-01-01"), (2, "2026-01-02")], "id long, day string")
    write_delta(spark, df, path, WriteSpec(partition_by=("day",)))
    assert sorted(p.name for p in path.glob("day=*")) == ["day=2026-01-01", "day=2026-01-02"]
    assert DeltaTable(str(path)).metadata().partition_columns == ["day"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "upsert"}, "write_mode: unknown write mode 'upsert'"),
        ({"mode": "merge"}, "merge_keys: write_mode 'merge' needs at least one merge key"),
        ({"mode": "append", "merge_keys": ("id",)}, "only apply to write_mode 'merge'"),
        ({"partition_by": ("day;drop",)}, r"partition_by\[0\]: invalid column name"),
    ],
)
def test_bad_write_specs_are_refused_with_field_path(kwargs, message):
    with pytest.raises(SpecError, match=message):
        WriteSpec(**kwargs)


def test_keys_missing_from_the_result_are_named(spark, tmp_path):
    with pytest.raises(SpecError, match=r"merge_keys\[0\]: column 'order_id' is not in the result"):
        write_delta(spark, spark.createDataFrame([(1,)], "id long"), tmp_path / "t", WriteSpec("merge", merge_keys=("order_id",)))


def test_reading_a_missing_table_says_what_to_do(spark, tmp_path):
    with pytest.raises(LakehouseError, match="materialize its asset first"):
        read_delta(spark, tmp_path / "nope")


def test_row_count_from_log_statistics_matches_spark_even_with_deletion_vectors(spark, tmp_path):
    from lakehouse_jobs.lib.tables.delta_io import _log_row_count, sql_path, table_row_count

    plain = tmp_path / "plain"
    spec = WriteSpec("merge", merge_keys=("id",), delete_unmatched=True)
    write_delta(spark, spark.range(100), plain, spec)
    write_delta(spark, spark.range(30, 80), plain, spec)
    assert _log_row_count(plain) == 50 == table_row_count(spark, plain)

    dv = tmp_path / "dv"
    write_delta(spark, spark.range(100), dv, WriteSpec())
    spark.sql(f"ALTER TABLE {sql_path(dv)} SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    spark.sql(f"DELETE FROM {sql_path(dv)} WHERE id < 10")
    assert _log_row_count(dv) is None  # file statistics would still say 100
    assert table_row_count(spark, dv) == 90


def test_a_commit_is_found_at_its_own_version_while_other_writers_commit(spark, tmp_path):
    """delta-rs numbers history from the version it loaded but lists the log afresh: a commit landing in
    between shifted every number (measured on CI: a fresh commit read as version -1)."""
    import threading

    import pyarrow as pa
    from deltalake import CommitProperties, write_deltalake

    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": [0]}))
    tagged, looked_up = threading.Semaphore(0), threading.Semaphore(0)

    def writer() -> None:
        for n in range(40):  # a tagged commit, then another one racing the lookup of the first
            meta = CommitProperties(custom_metadata={"userMetadata": f"tag-{n}"})
            write_deltalake(path, pa.table({"id": [n]}), mode="append", commit_properties=meta)
            tagged.release()
            write_deltalake(path, pa.table({"id": [n]}), mode="append")
            looked_up.acquire(timeout=60)

    thread = threading.Thread(target=writer)
    thread.start()
    wrong = []
    for n in range(40):
        tagged.acquire(timeout=60)
        if last_commit(spark, path, f"tag-{n}").version != 1 + 2 * n:
            wrong.append(n)
        looked_up.release()
    thread.join()
    assert wrong == []


def test_a_table_with_the_change_data_feed_is_written_in_every_mode_on_either_engine_with_its_change_data(spark, tmp_path):
    """Every table a JVM run wrote has the change data feed, which Sail cannot write: there delta-rs commits the same
    writes (tables/delta_rs_write.py). Same rows, the write's tag in each commit, and the change data a consumer reads
    (delta-rs' reader, as on Sail) on both engines; a MERGE whose source matches a target row twice is refused."""
    import pandas as pd
    from deltalake import write_deltalake

    path = tmp_path / "cdf"
    write_deltalake(str(path), pd.DataFrame({"id": [1, 2], "v": ["a", "b"]}), configuration={"delta.enableChangeDataFeed": "true"})
    frame = lambda rows: spark.createDataFrame(rows, "id long, v string")  # noqa: E731
    merge = WriteSpec("merge", merge_keys=("id",), delete_unmatched=True)
    steps = [
        (WriteSpec("append"), {}, [(3, "c")], [(1, "a"), (2, "b"), (3, "c")]),
        (WriteSpec(), {"replace_where": "id IN (2, 3)"}, [(2, "B")], [(1, "a"), (2, "B")]),
        (merge, {}, [(2, "b2"), (4, "d")], [(2, "b2"), (4, "d")]),
        (WriteSpec(), {}, [(9, "z")], [(9, "z")]),
    ]
    for version, (spec, options, rows, expected) in enumerate(steps, start=1):
        commit = write_delta(spark, frame(rows), path, spec, table="silver.cdf", record=f"#{version}", **options)
        assert (commit.version, commit.committed, commit.tagged) == (version, True, True)
        assert last_commit(spark, str(path), None).version == version and _rows(path) == expected
        assert DeltaTable(str(path)).history(1)[0]["userMetadata"].endswith(f"#{version}")
    changes = DeltaTable(str(path)).load_cdf(starting_version=1).read_all()
    changes = sorted(zip(*[changes.column(c).to_pylist() for c in ("_commit_version", "_change_type", "id", "v")], strict=True))
    assert [c for c in changes if c[0] == 3] == [
        (3, "delete", 1, "a"), (3, "insert", 4, "d"), (3, "update_postimage", 2, "b2"), (3, "update_preimage", 2, "B")
    ]  # fmt: skip
    assert {c[1] for c in changes if c[0] == 2} == {"delete", "insert"} and (4, "insert", 9, "z") in changes
    with pytest.raises(LakehouseError, match=r"several result rows share the merge key \['id'\]"):
        write_delta(spark, frame([(9, "x"), (9, "y")]), path, merge)
    assert DeltaTable(str(path)).version() == 4


def test_auto_cdc_into_a_table_with_the_change_data_feed_runs_on_the_jvm_and_is_refused_on_sail_before_writing(spark, tmp_path):
    """AUTO CDC's MERGE is Spark's (tables/cdc.py), not committed by delta-rs: on Sail it is refused in one sentence."""
    import pandas as pd
    from deltalake import write_deltalake

    from lakehouse_jobs.lib.tables.cdc import apply_changes

    path = tmp_path / "cdf"
    write_deltalake(str(path), pd.DataFrame({"id": [1], "seq": [1]}), configuration={"delta.enableChangeDataFeed": "true"})
    events = spark.createDataFrame([(1, 2)], "id long, seq long")
    if not ON_SAIL:
        apply_changes(spark, events, str(path), keys=["id"], sequence_by="seq", table="silver.cdf")
        assert DeltaTable(str(path)).version() == 1
        return
    with pytest.raises(SetupError, match=r"^silver\.cdf has the change data feed \(a run on the JVM engine wrote it\), which pysail .* cannot write"):
        apply_changes(spark, events, str(path), keys=["id"], sequence_by="seq", table="silver.cdf")
    assert DeltaTable(str(path)).version() == 0


def test_a_delta_rs_creation_that_loses_to_another_creator_is_a_retried_conflict(spark, tmp_path):
    """Two steps creating one table at once: the loser's delta-rs commit fails as a lost commit (`CommitFailedError`),
    which `write_delta` runs again, appending to the winner's table, as Spark's loser does (ProtocolChangedException;
    two real racers: test_conflicts.py::test_two_threads_appending_to_one_fresh_table_both_commit, on both engines)."""
    from deltalake.exceptions import CommitFailedError

    from lakehouse_jobs.lib.tables import delta_rs_write
    from lakehouse_jobs.lib.tables.conflicts import classify

    path = tmp_path / "raced"
    write_delta(spark, spark.createDataFrame([(0,)], "id long"), path, WriteSpec("append"))
    with pytest.raises(CommitFailedError) as lost:
        delta_rs_write.write(spark.createDataFrame([(1,)], "id long"), str(path), "append", "t", create_with={"delta.enableChangeDataFeed": "true"})
    assert classify(lost.value).retryable and _rows(path) == [(0,)]


def test_user_code_writes_a_table_with_the_change_data_feed_with_sparks_meaning_on_either_engine(spark, tmp_path):
    """A notebook's own `df.write...save(path)` to a table the project made (it has the change data feed, which Sail cannot
    write): on Sail `sail_supply` commits it with delta-rs, with the writer's mode and options as Spark means them."""
    from pyspark.errors import AnalysisException

    path = str(tmp_path / "t")
    frame = lambda rows: spark.createDataFrame(rows, "id long, v string")  # noqa: E731
    write_delta(spark, frame([(1, "a")]), path, WriteSpec())
    frame([(2, "b")]).write.format("delta").mode("append").option("userMetadata", "task-7").save(path)
    assert _rows(path) == [(1, "a"), (2, "b")] and DeltaTable(path).history(1)[0]["userMetadata"] == "task-7"
    frame([(1, "A")]).write.format("delta").mode("overwrite").option("replaceWhere", "id = 1").save(path)
    assert _rows(path) == [(1, "A"), (2, "b")]
    with pytest.raises(Exception, match="DELTA_REPLACE_WHERE_MISMATCH|does not conform"):
        frame([(5, "x")]).write.format("delta").mode("overwrite").option("replaceWhere", "id = 1").save(path)
    with pytest.raises(AnalysisException, match="already exist"):
        frame([(5, "x")]).write.format("delta").save(path)
    frame([(5, "x")]).write.format("delta").mode("ignore").save(path)
    frame([(3, "c")]).write.format("delta").mode("overwrite").save(path)
    assert _rows(path) == [(3, "c")] and DeltaTable(path).version() == 3  # the refused and ignored writes committed nothing
    assert DeltaTable(path).metadata().configuration.get("delta.enableChangeDataFeed") == "true"
