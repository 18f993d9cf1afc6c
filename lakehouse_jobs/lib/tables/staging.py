"""Intermediate results staged as Parquet for Sail, which would otherwise recompute or resend them.

Two measured costs on Sail (pysail 0.7.2, 2 cores), each paid by an incremental refresh:
- a DataFrame made from Arrow (the change feed read by delta-rs) carries its rows inline in
  every request naming it, since Sail has no artifact cache: ~0.5-1 s per schema lookup or
  action for 375k rows, 16.7 s of a 20 s silver refresh;
- `MERGE INTO` evaluates its source more than once: 375k rows through casts and a window,
  merged into 225k: 5 s; the same source written once and merged from the file: 1.1 + 0.5 s.
Staged, both become a file scan. Files go to one private temporary folder (0700) per process,
removed at exit: the DataFrames read them lazily until the step ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

_FOLDER: list[str] = []


def _new_path(suffix: str = "") -> str:
    if not _FOLDER:
        _FOLDER.append(tempfile.mkdtemp(prefix="lakehouse_staging_"))
        atexit.register(shutil.rmtree, _FOLDER[0], True)
    return os.path.join(_FOLDER[0], uuid.uuid4().hex + suffix)


def stage_arrow(spark: SparkSession, arrow: pa.Table) -> DataFrame:
    """`arrow` as a DataFrame reading a Parquet file written here (pyarrow), not an inline local relation."""
    import pyarrow.parquet as pq

    path = _new_path(".parquet")
    pq.write_table(arrow, path)
    return spark.read.parquet(path)


def stage_frame(df: DataFrame) -> DataFrame:
    """`df` computed once, written as Parquet by the session's engine, and read back with its own schema."""
    path = _new_path()
    df.write.parquet(path)
    return df.sparkSession.read.schema(df.schema).parquet(path)
