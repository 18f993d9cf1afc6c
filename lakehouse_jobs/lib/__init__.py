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

Importing this package costs nothing: every name is imported from its module on first use
(dbt-core, Dagster and the jobs API take seconds between them), so a process that needs one
submodule (a Sail job cluster's catalog server, the CLI) does not pay for the rest.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from lakehouse_jobs.lib.bundles import Bundle, BundleError, bundle_definitions, load_bundle
    from lakehouse_jobs.lib.catalog.names import table_path, volume_path
    from lakehouse_jobs.lib.errors import LakehouseError, SetupError, SpecError
    from lakehouse_jobs.lib.ingest.asset import ingestion_asset
    from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor
    from lakehouse_jobs.lib.ingest.ingest import files_run_config, ingested_files
    from lakehouse_jobs.lib.ingest.landing import read_landing
    from lakehouse_jobs.lib.ingest.refresh import refresh_sensor
    from lakehouse_jobs.lib.ingest.spec import IngestSpec
    from lakehouse_jobs.lib.integrations.dbt import LakehouseDbtTranslator, dbt_build, dbt_project
    from lakehouse_jobs.lib.integrations.mlflow import MLflowResource
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
    from lakehouse_jobs.lib.runtime.spark import SparkResource
    from lakehouse_jobs.lib.tables.cdc import apply_changes, changes_asset
    from lakehouse_jobs.lib.tables.delta_io import DeltaCommit, WriteSpec, last_commit, read_delta, write_delta
    from lakehouse_jobs.lib.tables.expectations import expect, expect_or_drop, expect_or_fail
    from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource
    from lakehouse_jobs.lib.tables.medallion import TableOutput, medallion_asset, read_table
    from lakehouse_jobs.lib.tables.schema import INVALID_FLAG, cast_columns, split_invalid, table_schema

# Every public name -> the module defining it, imported on first use of the name: importing a submodule
# (`lakehouse_jobs.lib.catalog.unity_rest` in a Sail job cluster's server, the CLI) then costs no Dagster.
_MODULES = {
    "lakehouse_jobs.lib.errors": ("LakehouseError", "SetupError", "SpecError"),
    "lakehouse_jobs.lib.ingest.asset": ("ingestion_asset",),
    "lakehouse_jobs.lib.ingest.file_arrival": ("file_arrival_sensor",),
    "lakehouse_jobs.lib.ingest.ingest": ("files_run_config", "ingested_files"),
    "lakehouse_jobs.lib.ingest.landing": ("read_landing",),
    "lakehouse_jobs.lib.ingest.refresh": ("refresh_sensor",),
    "lakehouse_jobs.lib.ingest.spec": ("IngestSpec",),
    "lakehouse_jobs.lib.integrations.mlflow": ("MLflowResource",),
    "lakehouse_jobs.lib.runtime.spark": ("SparkResource",),
    "lakehouse_jobs.lib.tables.cdc": ("apply_changes", "changes_asset"),
    "lakehouse_jobs.lib.tables.delta_io": ("DeltaCommit", "WriteSpec", "last_commit", "read_delta", "write_delta"),
    "lakehouse_jobs.lib.tables.expectations": ("expect", "expect_or_drop", "expect_or_fail"),
    "lakehouse_jobs.lib.tables.lakehouse": ("LakehouseResource",),
    "lakehouse_jobs.lib.tables.medallion": ("TableOutput", "medallion_asset", "read_table"),
    "lakehouse_jobs.lib.tables.schema": ("INVALID_FLAG", "cast_columns", "split_invalid", "table_schema"),
    "lakehouse_jobs.lib.integrations.dbt": ("LakehouseDbtTranslator", "dbt_build", "dbt_project"),
    "lakehouse_jobs.lib.jobs": (
        "LakehouseJobsComponent", "LakehouseRunCoordinator", "TaskType", "build_definitions", "load_spec", "load_spec_file",
        "reconstructable_job", "register_task_type", "task_values",
    ),
    "lakehouse_jobs.lib.bundles": ("Bundle", "BundleError", "bundle_definitions", "load_bundle"),
    "lakehouse_jobs.lib.pipelines.assets": ("pipeline_assets",),
    "lakehouse_jobs.lib.catalog.names": ("table_path", "volume_path"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}

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
    """Every public name, imported from its module on first use."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
