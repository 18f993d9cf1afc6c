"""Incremental refresh: only unprocessed upstream commits are read, exactly once, on real Delta tables.

Also run in its own process through `incremental_defs.py` (a refresh killed with -9 inside its MERGE).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import functions as F

from lakehouse_jobs.lib import SpecError, TableOutput, expect, medallion_asset
from lakehouse_jobs.lib.tables.delta_io import WriteSpec, write_delta
from lakehouse_jobs.lib.tables.incremental import key_predicate, read_record

from ..waiting import wait_for

SEEN: list[int] = []  # rows each silver refresh received, in order
FAIL_ON: set[int] = set()  # order ids that make silver's function raise (a step failing mid-stream)
HOLD_MERGE_ENV = "LJ_TEST_HOLD_MERGE"  # a file: silver's MERGE touches it, then holds (test_incremental_crash.py)


def _held(mark: str):
    """Each row of the MERGE's source announces itself in `mark`, then waits: the run is inside the MERGE when killed."""

    @F.udf("bigint")
    def hold(value):
        import pathlib
        import time

        pathlib.Path(mark).touch()
        time.sleep(600)  # never returns on its own: the test kills the run here, inside the MERGE
        return value

    return hold


@medallion_asset(
    layer="silver", name="orders", write_mode="merge", merge_keys=["order_id"], refresh="incremental", expectations=[expect("positive", "amount > 0")]
)
def silver_orders(bronze_orders):
    if FAIL_ON and bronze_orders.filter(F.col("order_id").isin(list(FAIL_ON))).count():
        raise RuntimeError("boom")
    SEEN.append(bronze_orders.count())
    latest = bronze_orders.groupBy("order_id").agg(F.max_by("amount", "seq").alias("amount"), F.max_by("day", "seq").alias("day"))
    if os.environ.get(HOLD_MERGE_ENV):
        latest = latest.withColumn("amount", _held(os.environ[HOLD_MERGE_ENV])("amount"))
    return TableOutput(latest, {"rows_in": bronze_orders.count()})


@medallion_asset(layer="gold", name="daily", refresh="affected_keys", refresh_keys=["day"])
def gold_daily(silver_orders):
    return TableOutput(silver_orders.groupBy("day").agg(F.sum("amount").alias("revenue"), F.count("*").alias("orders")), {"rows_in": silver_orders.count()})


ASSETS = [silver_orders, gold_daily]


def _bronze(lakehouse):
    return str(lakehouse.table_path("bronze", "orders"))


def _land(spark, lakehouse, rows):
    """Append (order_id, amount, day, seq) rows to bronze as one commit, like an ingestion run."""
    df = spark.createDataFrame(rows, "order_id bigint, amount bigint, day date, seq bigint")
    write_delta(spark, df, _bronze(lakehouse), WriteSpec("append"))


def _run(resources, selection=None, config=None):
    with dg.instance_for_test() as instance:
        return dg.materialize(ASSETS, resources=resources, instance=instance, selection=selection, run_config=config or {}, raise_on_error=False)


def _meta(result, node):
    (event,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in event.metadata.items()}


def _table(spark, lakehouse, layer, table, order):
    return [tuple(r) for r in spark.read.format("delta").load(str(lakehouse.table_path(layer, table))).orderBy(order).collect()]


def _oracle(rows):
    """What a full recompute gives: latest (by seq) amount/day per order, then revenue per day."""
    latest: dict[int, tuple] = {}
    for order_id, amount, day, _seq in sorted(rows, key=lambda r: r[3]):
        latest[order_id] = (amount, day)
    daily: dict[dt.date, list[int]] = {}
    for amount, day in latest.values():
        daily.setdefault(day, []).append(amount)
    return sorted((k, *v) for k, v in latest.items()), sorted((d, sum(a), len(a)) for d, a in daily.items())


HERE = Path(__file__).resolve().parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))
D1, D2, D3 = dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 3)


@pytest.fixture
def resources(spark_resource, lakehouse):
    SEEN.clear()
    FAIL_ON.clear()
    return {"spark": spark_resource, "lakehouse": lakehouse}


def test_silver_reads_only_new_commits_gold_only_affected_days_and_nothing_new_skips(spark, lakehouse, resources):
    first = [(1, 10, D1, 1), (2, 20, D1, 2), (3, 30, D2, 3)]
    _land(spark, lakehouse, first)
    result = _run(resources)
    assert result.success
    assert _meta(result, "silver__orders")["refresh"] == "full"  # no bookmark yet
    assert "no earlier refresh" in _meta(result, "silver__orders")["refresh_reason"]

    second = [(4, 40, D3, 4), (2, 25, D1, 5)]  # a new day, and order 2 updated on D1; D2 untouched
    _land(spark, lakehouse, second)
    result = _run(resources)
    silver, gold = _meta(result, "silver__orders"), _meta(result, "gold__daily")
    assert silver["refresh"] == "incremental" and silver["rows_in"] == 2  # only the new commit's rows
    assert silver["upstream_versions"] == {"bronze/orders": "0 -> 1"}
    assert gold["refresh"] == "affected_keys" and gold["affected_keys"] == 2  # D1 and D3, not D2
    assert gold["rows_in"] == 3  # orders 1, 2 (D1) and 4 (D3)
    expected_silver, expected_gold = _oracle(first + second)
    assert _table(spark, lakehouse, "silver", "orders", "order_id") == expected_silver
    assert _table(spark, lakehouse, "gold", "daily", "day") == expected_gold
    assert read_record(lakehouse.table_path("silver", "orders"))["bronze/orders"]["version"] == 1

    again = _run(resources)  # nothing new: no commit, no materialization, gold skipped
    assert again.success
    assert again.asset_materializations_for_node("silver__orders") == []
    assert [e.step_key for e in again.all_events if e.event_type_value == "STEP_SKIPPED"] == ["gold__daily"]
    assert SEEN == [3, 2]  # the third run never called the function


def test_a_failed_refresh_leaves_the_bookmark_and_the_next_one_takes_the_commits_exactly_once(spark, lakehouse, resources):
    _land(spark, lakehouse, [(1, 10, D1, 1)])
    assert _run(resources).success
    _land(spark, lakehouse, [(2, 20, D2, 2)])
    FAIL_ON.add(2)
    assert not _run(resources).success  # fails mid-stream: nothing committed, bookmark unchanged
    assert read_record(lakehouse.table_path("silver", "orders"))["bronze/orders"]["version"] == 0
    FAIL_ON.clear()
    _land(spark, lakehouse, [(3, 30, D2, 3), (1, 11, D1, 4)])
    result = _run(resources)
    assert _meta(result, "silver__orders")["rows_in"] == 3  # versions 1 and 2, each once
    expected_silver, expected_gold = _oracle([(1, 10, D1, 1), (2, 20, D2, 2), (3, 30, D2, 3), (1, 11, D1, 4)])
    assert _table(spark, lakehouse, "silver", "orders", "order_id") == expected_silver
    assert _table(spark, lakehouse, "gold", "daily", "day") == expected_gold


def test_a_commit_without_rows_advances_the_bookmark_without_a_materialization(spark, lakehouse, resources):
    _land(spark, lakehouse, [(1, 10, D1, 1)])
    assert _run(resources).success
    # What an ingestion whose every record went to the quarantine commits: its batch's manifest, no row
    # (written by delta-rs: Sail makes no commit for an empty append even with txnAppId, where the JVM commits its transaction).
    write_deltalake(_bronze(lakehouse), pa.schema(DeltaTable(_bronze(lakehouse)).schema().to_arrow()).empty_table(), mode="append")
    quiet = _run(resources)
    assert quiet.success and quiet.asset_materializations_for_node("silver__orders") == []
    assert read_record(lakehouse.table_path("silver", "orders"))["bronze/orders"]["version"] == 1  # not read again
    _land(spark, lakehouse, [(2, 20, D1, 2)])
    result = _run(resources)
    assert _meta(result, "silver__orders")["upstream_versions"] == {"bronze/orders": "1 -> 2"}
    assert _table(spark, lakehouse, "gold", "daily", "day") == [(D1, 30, 2)]


def test_full_refresh_config_recomputes_everything(spark, lakehouse, resources):
    _land(spark, lakehouse, [(1, 10, D1, 1)])
    assert _run(resources).success
    _land(spark, lakehouse, [(2, 20, D2, 2)])
    result = _run(resources, config={"ops": {"silver__orders": {"config": {"full_refresh": True}}}})
    silver = _meta(result, "silver__orders")
    assert silver["refresh"] == "full" and silver["refresh_reason"] == "full_refresh was asked" and silver["rows_in"] == 2
    # silver's overwrite: every day deleted and re-inserted in its change feed (on Sail too: delta-rs commits it with the feed)
    assert _meta(result, "gold__daily")["refresh"] == "affected_keys"
    assert _table(spark, lakehouse, "gold", "daily", "day") == _oracle([(1, 10, D1, 1), (2, 20, D2, 2)])[1]


def test_an_update_in_the_stream_source_or_a_recreated_source_falls_back_to_a_full_refresh(spark, lakehouse, resources):
    _land(spark, lakehouse, [(1, 10, D1, 1), (2, 20, D1, 2)])
    assert _run(resources).success
    _delete(_bronze(lakehouse), "order_id = 2")
    result = _run(resources)
    silver = _meta(result, "silver__orders")
    assert silver["refresh"] == "full" and "changed or removed rows" in silver["refresh_reason"]
    assert _table(spark, lakehouse, "silver", "orders", "order_id") == [(1, 10, D1)]  # order 2 is gone, as recomputed
    assert _table(spark, lakehouse, "gold", "daily", "day") == [(D1, 10, 1)]

    shutil.rmtree(_bronze(lakehouse))
    _land(spark, lakehouse, [(5, 50, D2, 1)])
    result = _run(resources)
    silver = _meta(result, "silver__orders")
    assert silver["refresh"] == "full" and "recreated" in silver["refresh_reason"]
    assert _table(spark, lakehouse, "silver", "orders", "order_id") == [(5, 50, D2)]
    assert _table(spark, lakehouse, "gold", "daily", "day") == [(D2, 50, 1)]  # D1's row went with its orders


def _delete(path, predicate: str) -> None:
    """Someone else's DELETE on a table the project made (by delta-rs: Sail cannot write the change data feed it has)."""
    from deltalake import DeltaTable

    DeltaTable(str(path)).delete(predicate)


def test_a_day_whose_orders_all_vanish_leaves_gold(spark, lakehouse, resources):
    _land(spark, lakehouse, [(1, 10, D1, 1), (2, 20, D2, 2)])
    assert _run(resources).success
    _delete(lakehouse.table_path("silver", "orders"), "day = DATE'2026-01-02'")
    result = _run(resources, selection=[gold_daily.key])
    assert _meta(result, "gold__daily")["affected_keys"] == 1
    assert _table(spark, lakehouse, "gold", "daily", "day") == [(D1, 10, 1)]


def test_rows_outside_the_affected_keys_are_refused_in_one_sentence(spark, lakehouse, resources):
    @medallion_asset(layer="gold", name="daily", refresh="affected_keys", refresh_keys=["day"])
    def leaky(spark, silver_orders):
        return spark.createDataFrame([(D3, 1, 1)], "day date, revenue bigint, orders bigint").unionByName(
            silver_orders.groupBy("day").agg(F.sum("amount").alias("revenue"), F.count("*").alias("orders"))
        )

    _land(spark, lakehouse, [(1, 10, D1, 1)])
    with dg.instance_for_test() as instance:
        assert dg.materialize([silver_orders, gold_daily], resources=resources, instance=instance).success
        _land(spark, lakehouse, [(2, 20, D1, 2)])
        result = dg.materialize([silver_orders, leaky], resources=resources, instance=instance, raise_on_error=False)
    message = result.failure_data_for_node("gold__daily").error.cause.message
    assert "rows outside the affected refresh keys" in message and "\n" not in message.strip()
    assert _table(spark, lakehouse, "gold", "daily", "day") == [(D1, 10, 1)]  # nothing half-written


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"refresh": "incremental"}, "write_mode"),  # overwrite would replace the table with the new rows only
        ({"refresh": "sometimes"}, "refresh"),
        ({"refresh": "affected_keys"}, "refresh_keys"),
        ({"refresh": "affected_keys", "refresh_keys": ["day"], "write_mode": "merge", "merge_keys": ["day"]}, "write_mode"),
        ({"refresh": "full", "refresh_keys": ["day"]}, "refresh_keys"),
        ({"refresh": "affected_keys", "refresh_keys": ["bad name"]}, "refresh_keys"),
    ],
)
def test_bad_refresh_declarations_are_refused_at_the_field(kwargs, path):
    with pytest.raises(SpecError) as error:

        @medallion_asset(layer="gold", name="x", **kwargs)
        def x(silver_orders):
            return silver_orders

    assert error.value.path.startswith(path)


def test_incremental_with_several_inputs_must_name_its_stream():
    with pytest.raises(SpecError, match="name the one read as a stream"):

        @medallion_asset(layer="silver", name="x", write_mode="append", refresh="incremental")
        def x(bronze_orders, bronze_customers):
            return bronze_orders

    @medallion_asset(layer="silver", name="x", write_mode="append", refresh="incremental", incremental_source="bronze_orders")
    def ok(bronze_orders, bronze_customers):
        return bronze_orders

    assert ok.specs_by_key[ok.key].metadata["refresh_mode"] == "incremental"


def test_key_predicate_quotes_values_and_matches_nulls(spark):
    predicate = key_predicate(["k"], [("it's",), (None,), ("a\\b",)])
    df = spark.createDataFrame([("it's",), (None,), ("a\\b",), ("other",)], "k string")
    assert sorted(r.k or "" for r in df.filter(predicate).collect()) == ["", "a\\b", "it's"]
    pair = key_predicate(["d", "n"], [(D1, 1), (D2, None)])
    rows = spark.createDataFrame([(D1, 1), (D2, None), (D1, 2)], "d date, n int").filter(pair).collect()
    assert sorted((r.d, r.n) for r in rows) == [(D1, 1), (D2, None)]


@pytest.mark.timeout(600)
def test_a_refresh_killed_mid_merge_commits_nothing_and_the_next_takes_the_commits_exactly_once(spark, lakehouse, resources, tmp_path):
    first = [(1, 10, D1, 1)]
    _land(spark, lakehouse, first)
    assert _run(resources).success
    silver = lakehouse.table_path("silver", "orders")
    versions_before = sorted(p.name for p in (silver / "_delta_log").glob("*.json"))
    second = [(2, 20, D2, 2), (1, 11, D1, 3)]
    _land(spark, lakehouse, second)

    mark, log = tmp_path / "inside_merge", tmp_path / "killed_run.log"
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "LAKEHOUSE_ROOT": str(lakehouse.root), "DAGSTER_HOME": str(home), HOLD_MERGE_ENV: str(mark)}
    command = [DAGSTER, "asset", "materialize", "-f", str(HERE / "incremental_defs.py"), "--select", "silver/orders"]
    run = subprocess.Popen(command, cwd=HERE.parents[1], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: mark.exists() or run.poll() is not None, 300, "the run to enter its MERGE", log)
        assert run.poll() is None, log.read_text()[-3000:]
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the run, its JVM and its Python workers
        run.wait(30)

    assert sorted(p.name for p in (silver / "_delta_log").glob("*.json")) == versions_before  # nothing committed
    assert read_record(silver)["bronze/orders"]["version"] == 0  # the bookmark did not move
    result = _run(resources)
    assert result.success
    assert _meta(result, "silver__orders")["rows_in"] == 2  # bronze's second commit, once
    expected_silver, expected_gold = _oracle(first + second)
    assert _table(spark, lakehouse, "silver", "orders", "order_id") == expected_silver
    assert _table(spark, lakehouse, "gold", "daily", "day") == expected_gold
