"""Schemas: Spark types shown as Dagster TableSchema, and typed casts that count bad values.

Silver tables cast raw strings into types. A value that does not parse must not
fail the table: `cast_columns` nulls it (Spark's try_cast) and reports how many
rows had one, so the run's metadata says what was lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import dagster as dg

from lakehouse_jobs.lib.names import quote, validate_column

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

INVALID_FLAG = "_invalid_columns"


def table_schema(schema: StructType) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=f.name,
                type=f.dataType.simpleString(),
                description=f.metadata.get("comment"),
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in schema.fields
        ]
    )


def _typed(column: str, spark_type: str) -> Column:
    from pyspark.sql import functions as F

    col = F.trim(F.col(quote(column)))
    if spark_type == "timestamp":
        return F.expr(f"try_to_timestamp(trim({quote(column)}))")
    if spark_type == "date":
        return F.expr(f"try_to_date(trim({quote(column)}))")
    return col.try_cast(spark_type)


def cast_columns(df: DataFrame, types: Mapping[str, str]) -> DataFrame:
    """Cast string columns to Spark SQL types; unparsable values become null.

    Adds `_invalid_columns` (array of the columns whose non-empty raw value did not
    parse) so callers can drop or count bad rows without a second pass.
    """
    from pyspark.sql import functions as F

    checks = []
    for column, spark_type in types.items():
        validate_column(column)
        raw = F.col(quote(column))
        typed = _typed(column, spark_type)
        df = df.withColumn(f"__typed_{column}", typed)
        bad = raw.isNotNull() & (F.trim(raw) != F.lit("")) & F.col(f"__typed_{column}").isNull()
        checks.append(F.when(bad, F.lit(column)))
    df = df.withColumn(INVALID_FLAG, F.filter(F.array(*checks), lambda c: c.isNotNull()) if checks else F.array())
    for column in types:
        df = df.withColumn(column, F.col(f"__typed_{column}")).drop(f"__typed_{column}")
    return df


def split_invalid(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid rows, invalid rows) of a `cast_columns` result; valid ones lose the flag column."""
    from pyspark.sql import functions as F

    valid = df.filter(F.size(INVALID_FLAG) == 0).drop(INVALID_FLAG)
    invalid = df.filter(F.size(INVALID_FLAG) > 0)
    return valid, invalid
