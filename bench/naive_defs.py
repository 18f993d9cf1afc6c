"""The naive peer (N): the example's assets on dagster-pyspark's PySparkResource.

Dagster's default multiprocess executor runs each step in its own process, and
PySparkResource starts a SparkSession (a JVM) in every one of them: what a team
gets by following the dagster-pyspark docs. Same Spark/Delta settings as ours.
"""

from __future__ import annotations

import dagster as dg
from dagster_pyspark import PySparkResource

from lakehouse_jobs.definitions import medallion_assets
from lakehouse_jobs.defs.paths import lakehouse_root
from lakehouse_jobs.lib import LakehouseResource, SparkResource
from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars


class NaivePySpark(PySparkResource):
    """PySparkResource with the `get_session()` our medallion assets call."""

    def get_session(self):
        return self.spark_session


def _conf() -> dict[str, str]:
    conf = SparkResource().conf()
    conf["spark.jars"] = ",".join(resolve_delta_jars())
    return conf


defs = dg.Definitions(
    assets=medallion_assets,
    resources={"spark": NaivePySpark(spark_config=_conf()), "lakehouse": LakehouseResource(root=lakehouse_root())},
)
