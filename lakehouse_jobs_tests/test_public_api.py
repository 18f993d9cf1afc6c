"""The plugin's public face: `lakehouse_jobs.lib` exports exactly these names, each importable.

Adding or removing a name is a deliberate edit of PUBLIC below. Importing the
package stays cheap: Spark, dbt and MLflow load only when used.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

import lakehouse_jobs.lib

PUBLIC = [
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

# Paths users write into files (dagster.yaml, defs.yaml / the dg registry entry point, task code).
STABLE_PATHS = {
    "lakehouse_jobs.lib.jobs.concurrency": "LakehouseRunCoordinator",  # dagster.yaml run_coordinator.class
    "lakehouse_jobs.lib.jobs.run_launcher": "LakehouseRunLauncher",  # dagster.yaml run_launcher.class
    "lakehouse_jobs.lib.jobs.component": "LakehouseJobsComponent",  # [project.entry-points."dagster_dg_cli.registry_modules"]
    "lakehouse_jobs.lib.jobs.task_values": "set",  # `from lakehouse_jobs.lib.jobs import task_values`
}


def test_all_is_exactly_the_public_list_sorted():
    assert lakehouse_jobs.lib.__all__ == PUBLIC
    assert PUBLIC == sorted(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_each_name_imports_from_the_package(name):
    namespace: dict = {}
    exec(f"from lakehouse_jobs.lib import {name}", namespace)
    assert namespace[name] is getattr(lakehouse_jobs.lib, name)
    # a name equal to a subpackage's would be replaced by the module on its first import
    assert importlib.util.find_spec(f"lakehouse_jobs.lib.{name}") is None, f"{name} shadows lakehouse_jobs.lib.{name}"


def test_the_public_names_are_the_ones_the_submodules_define():
    from lakehouse_jobs.lib.integrations import dbt
    from lakehouse_jobs.lib.jobs import concurrency, task_values
    from lakehouse_jobs.lib.tables import expectations

    assert lakehouse_jobs.lib.expect_or_drop is expectations.expect_or_drop
    assert lakehouse_jobs.lib.dbt_project is dbt.dbt_project
    assert lakehouse_jobs.lib.LakehouseRunCoordinator is concurrency.LakehouseRunCoordinator
    assert lakehouse_jobs.lib.task_values is task_values
    assert set(dir(lakehouse_jobs.lib)) >= set(PUBLIC)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lakehouse_jobs.lib.nope  # noqa: B018


def test_the_jobs_namespace_and_the_paths_users_write_stay():
    import lakehouse_jobs.lib.jobs as jobs

    assert jobs.__all__ == sorted(jobs.__all__)
    for name in jobs.__all__:
        assert getattr(jobs, name) is not None
    for module, attribute in STABLE_PATHS.items():
        assert hasattr(importlib.import_module(module), attribute), f"{module}.{attribute}"
    assert jobs.LakehouseJobsComponent is lakehouse_jobs.lib.LakehouseJobsComponent


def test_importing_the_plugin_loads_no_spark_dbt_or_mlflow():
    code = (
        "import sys, lakehouse_jobs.lib\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'pyspark', 'dagster_dbt', 'dbt', 'mlflow', 'sklearn', 'deltalake', 'pandas'})\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('lakehouse_jobs.lib.jobs', 'lakehouse_jobs.defs', 'lakehouse_jobs.definitions')))\n"
        "print(heavy, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[] []"
