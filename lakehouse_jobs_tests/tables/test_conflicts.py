"""Writers never collide: one Dagster pool per table, Delta conflicts retried, the rest one sentence.

The conflicts are real: a second writer (delta-rs, from inside the Spark job's own
Python UDF, so it lands between Spark's read and its commit) commits to the table
while the project's writer is writing it; Delta then refuses Spark's commit.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.tables.cdc import apply_changes, changes_asset
from lakehouse_jobs.lib.tables.conflicts import ATTEMPTS_ENV, WriteConflictError, classify, retry_conflicts, run_of
from lakehouse_jobs.lib.tables.delta_io import WriteSpec, read_delta, write_delta
from lakehouse_jobs.lib.tables.medallion import medallion_asset, table_pool

OTHER_RUN = "0f0e0d0c-1111-4222-8333-944445555666"


def _interferer(path: str, marker: str | None, app_id: str | None = None):
    """A UDF that, while Spark writes, commits one row to `path` with delta-rs as run OTHER_RUN.

    With `marker`, only the first execution commits (the retry then wins); without, every one does."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def interfere(x):
        import os

        if marker is not None:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return x
        import pyarrow as pa
        from deltalake import CommitProperties, Transaction, write_deltalake

        props = CommitProperties(
            custom_metadata={"userMetadata": f"lakehouse_jobs:{OTHER_RUN}:other"},
            app_transactions=[Transaction(app_id, 1)] if app_id else None,
        )
        write_deltalake(path, pa.table({"id": pa.array([1000], pa.int64())}), mode="append", commit_properties=props)
        return x

    return F.udf(interfere, T.LongType())


def _ids(spark, path) -> list[int]:
    return sorted(r.id for r in read_delta(spark, path).collect())


def test_two_threads_appending_to_one_fresh_table_both_commit(spark, tmp_path):
    path = str(tmp_path / "fresh")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def append(start: int) -> None:
        barrier.wait(timeout=60)
        try:
            results.append(write_delta(spark, spark.range(start, start + 3), path, WriteSpec("append")))
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(s,)) for s in (0, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert _ids(spark, path) == [0, 1, 2, 10, 11, 12]
    assert sorted(c.version for c in results) == [0, 1]


def test_racing_the_creation_of_a_table_is_retried(spark, tmp_path):
    """The other writer creates the table mid-write: ProtocolChangedException (on Sail, delta-rs' creation finds the table:
    a lost commit), retried once, then appended."""
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    df = spark.range(3).select(_interferer(path, str(tmp_path / "once"))(F.col("id")).alias("id"))
    commit = write_delta(spark, df, path, WriteSpec("append"))
    assert commit.attempts == 2
    assert _ids(spark, path) == [0, 1, 2, 1000]


def test_a_conflict_outlasting_the_attempts_is_one_sentence_naming_table_and_run(spark, tmp_path, monkeypatch):
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    write_delta(spark, spark.range(3), path, WriteSpec("overwrite"))
    monkeypatch.setenv(ATTEMPTS_ENV, "2")
    source = spark.range(2, 5).select(_interferer(path, None)(F.col("id")).alias("id"))
    with pytest.raises(WriteConflictError) as caught:
        write_delta(spark, source, path, WriteSpec("merge", merge_keys=("id",)), table="silver/t")
    message = str(caught.value)
    assert "\n" not in message and "\tat " not in message and "org.apache" not in message
    assert "silver/t" in message and path in message
    assert f"run {OTHER_RUN}" in message and "2 attempts" in message and "ConcurrentAppendException" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert set(_ids(spark, path)) == {0, 1, 2, 1000}  # the other writer's rows are there; our 3 and 4 never committed


def test_a_twin_idempotent_writer_is_not_retried(spark, tmp_path):
    """Same txnAppId committed concurrently: ConcurrentTransactionException, failed at once."""
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    write_delta(spark, spark.range(1), path, WriteSpec("overwrite"))
    df = spark.range(5, 7).select(_interferer(path, str(tmp_path / "once"), app_id="ingest-x")(F.col("id")).alias("id"))
    with pytest.raises(WriteConflictError) as caught:
        retry_conflicts(
            lambda: df.write.format("delta").mode("append").option("txnAppId", "ingest-x").option("txnVersion", 1).save(path), path, table="bronze/t"
        )
    message = str(caught.value)
    assert "bronze/t" in message and f"run {OTHER_RUN}" in message and "ConcurrentTransactionException" in message and "idempotent" in message
    assert _ids(spark, path) == [0, 1000]


def test_cdc_apply_changes_retries_a_conflicting_merge(spark, tmp_path):
    from pyspark.sql import functions as F

    path = str(tmp_path / "customers")
    first = spark.createDataFrame([(1, "a", 1), (2, "b", 1)], "id long, name string, seq int")
    apply_changes(spark, first, path, keys=["id"], sequence_by="seq")
    events = spark.createDataFrame([(1, "a2", 2), (3, "c", 1)], "id long, name string, seq int")
    noisy = events.withColumn("seq", (F.col("seq") + 0 * _interferer_merge(path, str(tmp_path / "once"))(F.col("id"))).cast("int"))
    commit = apply_changes(spark, noisy, path, keys=["id"], sequence_by="seq", table="silver/customers")
    assert commit.attempts == 2
    rows = {(r.id, r.name) for r in read_delta(spark, path).collect()}
    assert rows == {(1, "a2"), (2, "b"), (3, "c"), (1000, None)}


def _interferer_merge(path: str, marker: str):
    """Like `_interferer`, for a table of (id, name, seq): the other writer adds id 1000 once."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def interfere(x):
        import os

        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return 0
        import pyarrow as pa
        from deltalake import CommitProperties, write_deltalake

        table = pa.table({"id": pa.array([1000], pa.int64()), "name": pa.array([None], pa.string()), "seq": pa.array([1], pa.int32())})
        write_deltalake(path, table, mode="append", commit_properties=CommitProperties(custom_metadata={"userMetadata": f"lakehouse_jobs:{OTHER_RUN}:x"}))
        return 0

    return F.udf(interfere, T.LongType())


def test_conflict_classification_and_run_names():
    assert classify(ValueError("nothing to see")) is None
    text = (
        "io.delta.exceptions.ConcurrentAppendException: [DELTA_CONCURRENT_APPEND.WITHOUT_HINT] ... committed at version 7. Please retry.\n\tat org.x(Y.scala:1)"
    )
    conflict = classify(RuntimeError(text))
    assert (conflict.kind, conflict.retryable, conflict.version) == ("ConcurrentAppendException", True, 7)
    assert classify(RuntimeError("[DELTA_CONCURRENT_TRANSACTION] x")).retryable is False
    assert run_of(f"lakehouse_jobs:{OTHER_RUN}:silver_t:1") == OTHER_RUN
    assert run_of('{"lakehouse_jobs.ingest": {"tag": "' + OTHER_RUN + '"}}') == OTHER_RUN
    assert run_of("lakehouse_jobs:" + "a" * 32) is None and run_of(None) is None


def test_every_table_asset_gets_its_own_pool():
    @medallion_asset(layer="silver")
    def orders(spark):
        return spark.range(1)

    @changes_asset(layer="silver", name="customers", source="bronze/customers", keys=["id"], sequence_by="seq")
    def customers(df):
        return df

    @medallion_asset(layer="gold", pool="shared")
    def totals(spark):
        return spark.range(1)

    from lakehouse_jobs.lib.ingest.asset import ingestion_asset
    from lakehouse_jobs.lib.ingest.spec import IngestSpec

    ingested = ingestion_asset(IngestSpec(source="src", table="events", format="csv", columns=["id", "name"]))
    assert ingested.op.pool == table_pool(ingested.key) == "delta/" + "/".join(ingested.key.path)
    assert orders.op.pool == "delta/silver/orders" == table_pool("silver/orders")
    assert customers.op.pool == "delta/silver/customers"
    assert totals.op.pool == "shared"


def _waiting_asset(name: str, entered: threading.Event, release: threading.Event, spans: list):
    """A medallion asset whose function signals `entered`, then holds its step until `release`."""

    @medallion_asset(layer="silver", name=name)
    def _asset(spark):
        start = time.monotonic()
        entered.set()
        assert release.wait(timeout=300), "never released"
        spans.append((name, start, time.monotonic()))
        return spark.range(1)

    return _asset


def _in_thread(asset, spark_resource, lakehouse, instance, outcomes: list) -> threading.Thread:
    def run() -> None:
        result = dg.materialize([asset], resources={"spark": spark_resource, "lakehouse": lakehouse}, instance=instance, raise_on_error=False)
        outcomes.append(result.success)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _blocked_on(instance, pool: str, timeout: float = 300) -> bool:
    """Whether some step logged Dagster's 'Step blocked by limit for pool <pool>' within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.ENGINE_EVENT), limit=200)
        if any(f"blocked by limit for pool {pool}" in (r.event_log_entry.dagster_event.message or "") for r in records):
            return True
        time.sleep(0.2)
    return False


def test_pools_serialise_writers_of_one_table_and_let_other_tables_overlap(spark_resource, lakehouse):
    # The second run starts once the first is inside its step: Dagster's log set-up
    # (logging.config.dictConfig) is not thread-safe, so two in-process runs never start at the same instant.
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        spans: list = []
        outcomes: list = []
        first_in, second_in, release = threading.Event(), threading.Event(), threading.Event()
        first = _in_thread(_waiting_asset("orders", first_in, release, spans), spark_resource, lakehouse, instance, outcomes)
        assert first_in.wait(timeout=300)
        second = _in_thread(_waiting_asset("orders", second_in, release, spans), spark_resource, lakehouse, instance, outcomes)
        assert _blocked_on(instance, "delta/silver/orders"), "the second writer of silver/orders was not held back by its pool"
        assert not second_in.is_set()
        release.set()
        for thread in (first, second):
            thread.join(timeout=600)
        assert outcomes == [True, True]
        (_, _, first_end), (_, second_start, _) = sorted(spans, key=lambda s: s[1])
        assert second_start >= first_end, "two runs wrote silver/orders at the same time"

        spans.clear()
        outcomes.clear()
        left_in, right_in = threading.Event(), threading.Event()
        left = _in_thread(_waiting_asset("left", left_in, right_in, spans), spark_resource, lakehouse, instance, outcomes)
        assert left_in.wait(timeout=300)
        # `left` holds its step until `right` is inside its own: they run at the same time or this times out.
        right = _in_thread(_waiting_asset("right", right_in, left_in, spans), spark_resource, lakehouse, instance, outcomes)
        for thread in (left, right):
            thread.join(timeout=600)
        assert outcomes == [True, True] and len(spans) == 2
    assert [_ids_of(spark_resource, Path(lakehouse.root) / "silver" / t) for t in ("orders", "left", "right")] == [[0], [0], [0]]


def _ids_of(spark_resource, path: Path) -> list[int]:
    return [r.id for r in read_delta(spark_resource.get_session(), path).collect()]


def test_a_medallion_asset_retries_logs_and_stamps_its_run(spark_resource, lakehouse, tmp_path):
    """Through Dagster: the retry is a warning in the step's log, `delta_write_attempts` is metadata,
    and the commit's userMetadata names the run (what a losing writer would quote)."""
    from pyspark.sql import functions as F

    from lakehouse_jobs.lib.tables.conflicts import commit_info

    path = str(Path(lakehouse.root) / "silver" / "events")

    @medallion_asset(layer="silver", name="events", write_mode="append")
    def events(spark):
        return spark.range(2).select(_interferer(path, str(tmp_path / "once"))(F.col("id")).alias("id"))

    with dg.instance_for_test() as instance:
        result = dg.materialize([events], resources={"spark": spark_resource, "lakehouse": lakehouse}, instance=instance)
        metadata = result.asset_materializations_for_node(events.op.name)[0].metadata
        assert metadata["delta_write_attempts"].value == 2
        logs = [r.user_message for r in instance.all_logs(result.run_id)]
        assert any("ProtocolChangedException" in m and "attempt 2 of 5" in m for m in logs)
    assert commit_info(path, metadata["delta_version"].value)["userMetadata"].startswith(f"lakehouse_jobs:{result.run_id}:")
    assert _ids(spark_resource.get_session(), path) == [0, 1, 1000]
