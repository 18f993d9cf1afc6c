"""Typed casts null out bad values and say which columns failed; schemas show in Dagster."""

from __future__ import annotations

from lakehouse_jobs.lib import cast_columns, split_invalid, table_schema
from lakehouse_jobs.lib.tables.schema import INVALID_FLAG


def test_cast_columns_flags_only_unparsable_non_empty_values(spark):
    raw = spark.createDataFrame(
        [(0, "1", "2026-01-02T03:04:05", "1.50"), (1, "x", "not-a-date", "1,5"), (2, None, " ", "2")], "n int, id string, ts string, price string"
    )
    typed = cast_columns(raw, {"id": "bigint", "ts": "timestamp", "price": "decimal(10,2)"})
    rows = typed.orderBy("n").collect()
    assert [r["id"] for r in rows] == [1, None, None]
    assert [sorted(r[INVALID_FLAG]) for r in rows] == [[], ["id", "price", "ts"], []]
    valid, invalid = split_invalid(typed)
    assert valid.count() == 2 and invalid.count() == 1
    assert INVALID_FLAG not in valid.columns


def test_table_schema_carries_types_and_nullability(spark):
    df = spark.createDataFrame([(1, "a")], "id long not null, v string")
    schema = table_schema(df.schema)
    assert [(c.name, c.type, c.constraints.nullable) for c in schema.columns] == [("id", "bigint", False), ("v", "string", True)]
