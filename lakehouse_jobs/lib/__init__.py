"""lakehouse_jobs.lib: the reusable plugin (what another team imports).

The small public API: declare medallion Delta assets, get a Spark runtime and a
lakehouse root as Dagster resources, read landing files and typed columns.
"""

from lakehouse_jobs.lib.tables.delta_io import DeltaCommit, WriteSpec, read_delta, write_delta
from lakehouse_jobs.lib.errors import LakehouseError, SetupError, SpecError
from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource
from lakehouse_jobs.lib.ingest.landing import read_landing
from lakehouse_jobs.lib.tables.medallion import TableOutput, medallion_asset, read_table
from lakehouse_jobs.lib.tables.schema import cast_columns, split_invalid, table_schema
from lakehouse_jobs.lib.runtime.spark import SparkResource

__all__ = [
    "DeltaCommit",
    "LakehouseError",
    "LakehouseResource",
    "SetupError",
    "SparkResource",
    "SpecError",
    "TableOutput",
    "WriteSpec",
    "cast_columns",
    "medallion_asset",
    "read_delta",
    "read_landing",
    "read_table",
    "split_invalid",
    "table_schema",
    "write_delta",
]
