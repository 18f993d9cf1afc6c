"""The code location: the example lakehouse's assets, jobs and resources.

Runs execute in one process so every asset of a run shares one SparkSession
(a fresh JVM per step would cost seconds each).
"""

from __future__ import annotations

import dagster as dg

from lakehouse_jobs.defs import clickstream, customers, ml, orders, sensors
from lakehouse_jobs.defs import dbt as dbt_marts
from lakehouse_jobs.defs.jobs import job_definitions
from lakehouse_jobs.defs.paths import lakehouse_root
from lakehouse_jobs.lib import LakehouseResource, MLflowResource, SparkResource

medallion_assets = dg.load_assets_from_modules([orders, clickstream, customers])

# Every table but the example bundle's pipeline datasets: those read files the bundle's job lands first (its sales_job refreshes them).
refresh_all = dg.define_asset_job(
    "lakehouse_refresh", selection=dg.AssetSelection.from_string("not kind:pipeline"), description="Rebuild every lakehouse table."
)

resources = {"spark": SparkResource(), "lakehouse": LakehouseResource(root=lakehouse_root())}

defs = dg.Definitions.merge(
    dg.Definitions(
        assets=medallion_assets,
        jobs=[refresh_all, *sensors.jobs],
        sensors=sensors.sensors,  # one file-arrival sensor per landing source (on by default)
        resources=resources,
        executor=dg.in_process_executor,
    ),
    # Lakeflow-style jobs declared in lakehouse_jobs/defs/jobs/lakehouse.yml
    job_definitions(
        [*medallion_assets, ml.churn_model, ml.churn_predictions, dbt_marts.dbt_marts, ml.champion_gate],
        {**resources, "mlflow": MLflowResource(root=lakehouse_root())},
    ),
    # gold -> churn model (MLflow, gated by a blocking check) -> predictions; silver/gold -> dbt marts
    dg.Definitions(
        assets=[ml.churn_model, ml.churn_predictions, dbt_marts.dbt_marts],
        asset_checks=[ml.champion_gate],
        resources={"mlflow": MLflowResource(root=lakehouse_root())},
    ),
)
