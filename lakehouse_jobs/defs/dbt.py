"""The dbt marts of the example lakehouse (dbt_project/), as Dagster assets.

dbt runs inside the run's process on the run's SparkSession (see lib/dbt.py);
dbt tests are asset checks on the marts.
"""

from dagster import AssetExecutionContext
from dagster_dbt import dbt_assets

from lakehouse_jobs.lib import LakehouseDbtTranslator, LakehouseResource, SparkResource, dbt_build, dbt_project

from .paths import REPO_ROOT

DBT_PROJECT = dbt_project(REPO_ROOT / "dbt_project")


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=LakehouseDbtTranslator(), name="dbt_marts")
def dbt_marts(context: AssetExecutionContext, spark: SparkResource, lakehouse: LakehouseResource):  # noqa: ANN201 - Dagster reads a return annotation as the output type
    """`dbt build` of the selected marts and their tests, on the lakehouse's Delta tables."""
    yield from dbt_build(context, DBT_PROJECT, spark.get_session(), lakehouse)
