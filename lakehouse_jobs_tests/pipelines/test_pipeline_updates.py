"""Python and SQL pipelines end to end on Spark + Delta: expectations, AUTO CDC SCD1/SCD2,
incremental streaming tables across updates, full refresh, FAIL UPDATE keeping the previous version."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lakehouse_jobs.lib.pipelines.naming import TableName
from lakehouse_jobs.lib.pipelines.runner import UpdateFailed, run_update
from lakehouse_jobs.lib.pipelines.spec import pipeline_spec
from lakehouse_jobs.lib.tables.delta_io import last_commit, read_delta
from lakehouse_jobs_tests.pipelines.conftest import FIXTURES, ORDERS_B, land, python_settings, sql_settings


def rows(spark, lakehouse, schema: str, table: str, *columns: str) -> list[tuple]:
    frame = read_delta(spark, Path(lakehouse.root) / schema / table)
    return sorted((tuple(r[c] for c in columns) for r in frame.collect()), key=repr)


def checks(result, schema: str, table: str) -> dict[str, tuple[bool, int]]:
    dataset = result.datasets[TableName("main", schema, table)]
    return {c.check_name: (c.passed, c.metadata["violating_rows"].value) for c in dataset.checks}


def expect_pipeline_tables(spark, lakehouse, schema: str, orders: str, *, with_b: bool = False, typed: bool = False) -> None:
    """`typed`: read_files infers column types; Auto Loader reads CSV columns as strings."""
    expected = [("1", "alice", 10), ("3", None, 7), ("4", "alice", 20)] + ([("5", "bob", 8)] if with_b else [])
    expected = [(int(i) if typed else i, c, a) for i, c, a in expected]
    assert rows(spark, lakehouse, schema, orders, "order_id", "customer", "amount") == sorted(expected, key=repr)
    revenue = [("alice", 30), (None, 7)] + ([("bob", 8)] if with_b else [])
    assert rows(spark, lakehouse, schema, "revenue", "customer", "revenue") == sorted(revenue, key=repr)
    assert rows(spark, lakehouse, schema, "customers", "customer_id", "name", "seq") == [(1, "Alice B", 2), (2, "Bob", 1)]
    history = rows(spark, lakehouse, schema, "customers_history", "customer_id", "name", "__START_AT", "__END_AT")
    assert history == sorted([(1, "Alice", 1, 2), (1, "Alice B", 2, None), (2, "Bob", 1, None), (3, "Carol", 1, 2)], key=repr)


def test_python_pipeline_updates_incrementally_and_full_refresh_rewrites(spark, landed):
    spec = pipeline_spec("orders_py", python_settings(), FIXTURES)
    assert [p.name for p in spec.sources] == ["ingest.py", "serve.py"]
    started = time.monotonic()
    first = run_update(spec, spark, landed)
    print(f"first update {time.monotonic() - started:.1f}s")
    expect_pipeline_tables(spark, landed, "silver", "orders")
    assert checks(first, "silver", "orders") == {"has_customer": (False, 1), "positive_amount": (False, 1)}
    assert checks(first, "silver", "revenue") == {"non_negative": (True, 0)}
    orders_path = Path(landed.root) / "silver" / "orders"
    version = last_commit(spark, str(orders_path)).version

    second = run_update(spec, spark, landed)  # no new file: the streaming tables add nothing
    assert second.datasets[TableName("main", "silver", "orders")].metadata["rows_added"] == 0
    assert last_commit(spark, str(orders_path)).version == version
    expect_pipeline_tables(spark, landed, "silver", "orders")

    land(landed.root, "orders", "b.csv", ORDERS_B)
    refreshed = run_update(spec, spark, landed, full_refresh=True)  # recomputed from every file: b's row once, no duplicates
    assert refreshed.datasets[TableName("main", "silver", "orders")].metadata["dagster/row_count"].value == 4
    expect_pipeline_tables(spark, landed, "silver", "orders", with_b=True)
    print(f"three updates {time.monotonic() - started:.1f}s")


def test_sql_pipeline_end_to_end(spark, landed):
    spec = pipeline_spec("orders_sql", sql_settings(), FIXTURES)
    first = run_update(spec, spark, landed)
    expect_pipeline_tables(spark, landed, "gold", "orders_silver", typed=True)
    assert checks(first, "gold", "orders_silver") == {"has_customer": (False, 1), "positive_amount": (False, 1)}
    assert checks(first, "gold", "revenue") == {"non_negative": (True, 0)}
    assert TableName("main", "gold", "orders_typed") not in first.datasets  # a temporary view is not published


def test_fail_update_names_dataset_and_constraint_and_keeps_previous_version(spark, lakehouse, tmp_path):
    source = tmp_path / "checked.sql"
    source.write_text(
        "CREATE OR REFRESH MATERIALIZED VIEW checked (\n"
        "  CONSTRAINT small_amount EXPECT (amount < 100) ON VIOLATION FAIL UPDATE\n"
        ") AS SELECT CAST(amount AS INT) AS amount FROM read_files('/Volumes/main/raw/landing/amounts', format => 'csv', header => true);\n"
    )
    land(lakehouse.root, "amounts", "a.csv", "amount\n5\n7\n")
    spec = pipeline_spec("checked", {"libraries": [{"file": {"path": str(source)}}], "catalog": "dev", "schema": "bronze"}, tmp_path)
    first = run_update(spec, spark, lakehouse)
    table = Path(lakehouse.root) / "catalogs" / "dev" / "bronze" / "checked"  # another catalog than main: under catalogs/
    assert first.datasets[TableName("dev", "bronze", "checked")].metadata["path"].value == str(table)
    version = last_commit(spark, str(table)).version
    land(lakehouse.root, "amounts", "b.csv", "amount\n500\n")
    with pytest.raises(UpdateFailed) as failed:
        run_update(spec, spark, lakehouse)
    message = str(failed.value)
    assert "dev.bronze.checked" in message and "'small_amount'" in message and "1 of 3 rows" in message and "\n" not in message
    assert last_commit(spark, str(table)).version == version
    assert sorted(r["amount"] for r in read_delta(spark, table).collect()) == [5, 7]
    failed_check = failed.value.failed.checks[0]
    assert failed_check.check_name == "small_amount" and not failed_check.passed


def test_sql_syntax_error_names_file_and_statement_before_writing(spark, lakehouse, tmp_path):
    source = tmp_path / "broken.sql"
    source.write_text("CREATE OR REFRESH MATERIALIZED VIEW ok AS SELECT 1 AS x;\n\nCREATE OR REFRESH MATERIALIZED VIEW bad AS SELEC 1 FROM;\n")
    spec = pipeline_spec("broken", {"libraries": [{"file": {"path": str(source)}}], "schema": "bronze"}, tmp_path)
    with pytest.raises(UpdateFailed) as failed:
        run_update(spec, spark, lakehouse)
    message = str(failed.value)
    assert message.startswith(f"{source}, statement 2 (line 3): syntax error") and "\n" not in message
    assert not (Path(lakehouse.root) / "bronze" / "ok").exists()


def test_append_flows_into_one_streaming_table_and_a_once_backfill(spark, lakehouse, tmp_path):
    source = tmp_path / "flows.py"
    source.write_text(
        "import dlt\n"
        "dlt.create_streaming_table('all_orders')\n\n"
        "@dlt.append_flow(target='all_orders')\n"
        "def us():\n"
        "    return spark.readStream.format('cloudFiles').option('cloudFiles.format', 'csv').option('header', 'true').load('/Volumes/main/raw/landing/us')\n\n"
        "@dlt.append_flow(target='all_orders', name='backfill', once=True)\n"
        "def old_orders():\n"
        "    return spark.createDataFrame([('0', 'old')], 'order_id string, customer string')\n"
    )
    land(lakehouse.root, "us", "a.csv", "order_id,customer\n1,ann\n")
    spec = pipeline_spec("flows", {"libraries": [{"file": {"path": str(source)}}], "schema": "silver"}, tmp_path)
    run_update(spec, spark, lakehouse)
    land(lakehouse.root, "us", "b.csv", "order_id,customer\n2,bo\n")
    second = run_update(spec, spark, lakehouse)  # the stream takes b.csv only; the once flow does not run again
    assert second.datasets[TableName("main", "silver", "all_orders")].metadata["rows_added"] == 1
    assert rows(spark, lakehouse, "silver", "all_orders", "order_id", "customer") == [("0", "old"), ("1", "ann"), ("2", "bo")]
