"""lakehouse_jobs.lib: the reusable plugin (what another team imports).

Everything the README and docs/ tell a user to import comes from here:

- medallion Delta assets: `medallion_asset`, `TableOutput`, `read_table`, Delta I/O
  (`write_delta`, `read_delta`, `last_commit`), typed columns (`cast_columns`,
  `split_invalid`, `INVALID_FLAG`), DLT-style expectations (`expect`, `expect_or_drop`,
  `expect_or_fail`), CDC (`apply_changes`, `changes_asset`);
- ingestion (Auto Loader semantics): `IngestSpec`, `ingestion_asset`, `read_landing`,
  `file_arrival_sensor` + `files_run_config` + `ingested_files`, `refresh_sensor` (coalesced downstream refreshes);
- resources: `SparkResource`, `LakehouseResource`, `MLflowResource`;
- dbt: `dbt_project`, `dbt_build`, `LakehouseDbtTranslator`;
- Lakeflow job specs: `load_spec_file`, `load_spec`, `build_definitions`,
  `reconstructable_job`, `task_values`, `LakehouseJobsComponent`, `LakehouseRunCoordinator`,
  `TaskType` + `register_task_type` (a task type of your own)
  (the whole jobs API: `lakehouse_jobs.lib.jobs`);
- Databricks Asset Bundles: `load_bundle`, `Bundle`, `BundleError`, `bundle_definitions`;
  Lakeflow pipelines: `pipeline_assets`; Unity Catalog names on the root: `table_path`, `volume_path`.

Importing this package stays cheap (no Spark, dbt or MLflow): the dbt helpers
(dagster-dbt and dbt-core take seconds to import) and the jobs API are loaded
on first use of one of their names.
"""

from typing import TYPE_CHECKING

from lakehouse_jobs.lib.errors import LakehouseError, SetupError, SpecError
from lakehouse_jobs.lib.ingest.asset import ingestion_asset
from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingest.ingest import files_run_config, ingested_files
from lakehouse_jobs.lib.ingest.landing import read_landing
from lakehouse_jobs.lib.ingest.refresh import refresh_sensor
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.integrations.mlflow import MLflowResource
from lakehouse_jobs.lib.runtime.spark import SparkResource
from lakehouse_jobs.lib.tables.cdc import apply_changes, changes_asset
from lakehouse_jobs.lib.tables.delta_io import DeltaCommit, WriteSpec, last_commit, read_delta, write_delta
from lakehouse_jobs.lib.tables.expectations import expect, expect_or_drop, expect_or_fail
from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource
from lakehouse_jobs.lib.tables.medallion import TableOutput, medallion_asset, read_table
from lakehouse_jobs.lib.tables.schema import INVALID_FLAG, cast_columns, split_invalid, table_schema

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from lakehouse_jobs.lib.bundles import Bundle, BundleError, bundle_definitions, load_bundle
    from lakehouse_jobs.lib.catalog.names import table_path, volume_path
    from lakehouse_jobs.lib.integrations.dbt import LakehouseDbtTranslator, dbt_build, dbt_project
    from lakehouse_jobs.lib.jobs import (
        LakehouseJobsComponent,
        LakehouseRunCoordinator,
        TaskType,
        build_definitions,
        load_spec,
        load_spec_file,
        reconstructable_job,
        register_task_type,
        task_values,
    )
    from lakehouse_jobs.lib.pipelines.assets import pipeline_assets

_DBT = frozenset({"LakehouseDbtTranslator", "dbt_build", "dbt_project"})
_BUNDLES = frozenset({"Bundle", "BundleError", "bundle_definitions", "load_bundle"})
_LAZY_MODULES = {
    "pipeline_assets": "lakehouse_jobs.lib.pipelines.assets",
    "table_path": "lakehouse_jobs.lib.catalog.names",
    "volume_path": "lakehouse_jobs.lib.catalog.names",
}
_JOBS = frozenset(
    {
        "LakehouseJobsComponent",
        "LakehouseRunCoordinator",
        "TaskType",
        "build_definitions",
        "load_spec",
        "load_spec_file",
        "reconstructable_job",
        "register_task_type",
        "task_values",
    }
)

__all__ = [
    "Bundle",
    "BundleError",
    "DeltaCommit",
    "INVALID_FLAG",
    "IngestSpec",
    "LakehouseDbtTranslator",
    "LakehouseError",
    "LakehouseJobsComponent",
    "LakehouseResource",
    "LakehouseRunCoordinator",
    "MLflowResource",
    "SetupError",
    "SparkResource",
    "SpecError",
    "TableOutput",
    "TaskType",
    "WriteSpec",
    "apply_changes",
    "build_definitions",
    "bundle_definitions",
    "cast_columns",
    "changes_asset",
    "dbt_build",
    "dbt_project",
    "expect",
    "expect_or_drop",
    "expect_or_fail",
    "file_arrival_sensor",
    "files_run_config",
    "ingested_files",
    "ingestion_asset",
    "last_commit",
    "load_bundle",
    "load_spec",
    "load_spec_file",
    "medallion_asset",
    "pipeline_assets",
    "read_delta",
    "read_landing",
    "read_table",
    "reconstructable_job",
    "refresh_sensor",
    "register_task_type",
    "split_invalid",
    "table_path",
    "table_schema",
    "task_values",
    "volume_path",
    "write_delta",
]


def __getattr__(name: str):
    """The lazy names: the dbt helpers and the jobs API, imported on first use."""
    if name in _DBT:
        from lakehouse_jobs.lib.integrations import dbt as module
    elif name in _JOBS:
        from lakehouse_jobs.lib import jobs as module
    elif name in _BUNDLES:
        from lakehouse_jobs.lib import bundles as module
    elif name in _LAZY_MODULES:
        import importlib

        module = importlib.import_module(_LAZY_MODULES[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
