"""One materialization of the whole example graph per test session, shared by the tests of the `example` xdist group.

landing files -> bronze -> silver -> gold -> dbt marts, and gold -> churn model
(+ champion gate) -> predictions, on a real Dagster instance, with
MLFLOW_TRACKING_URI pointing at a tmp sqlite database outside the lakehouse.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lakehouse_jobs.lib import LakehouseResource
from lakehouse_jobs.lib.integrations.mlflow import MLflowResource


@dataclass
class ExampleRun:
    lakehouse: LakehouseResource
    tracking_uri: str
    result: dg.ExecuteInProcessResult
    champion_after_run: str | None

    @property
    def root(self) -> Path:
        return self.lakehouse.root_path

    def mlflow(self) -> MLflowResource:
        return MLflowResource(root=str(self.root), tracking_uri=self.tracking_uri)


def all_example_defs():
    from lakehouse_jobs.definitions import defs

    return defs


def example_run(tmp_path_factory, sample_landing: Path) -> ExampleRun:
    """Materialize every lakehouse asset (and check) of the example's Definitions (conftest's session fixture `example`)."""
    from lakehouse_jobs.defs.ml import CHAMPION, MODEL_NAME

    base = tmp_path_factory.mktemp("example_graph")
    shutil.copytree(sample_landing, base / "lake" / "landing")
    lakehouse = LakehouseResource(root=str(base / "lake"))
    tracking_uri = f"sqlite:///{base / 'tracking' / 'mlflow.db'}"
    (base / "tracking").mkdir()
    defs = all_example_defs()
    resources = {**defs.resources, "lakehouse": lakehouse, "mlflow": MLflowResource(root=str(base / "lake"))}
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    try:
        with dg.instance_for_test() as instance:
            # the example bundle's pipeline datasets read files its job lands first: refreshed by that job (test_databricks_bundle.py)
            lakehouse_assets = [a for a in defs.assets if "pipeline" not in {k for spec in a.specs for k in spec.kinds}]
            result = dg.materialize([*lakehouse_assets, *defs.asset_checks], resources=resources, instance=instance, raise_on_error=False)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    champion = MLflowResource(root=str(base / "lake"), tracking_uri=tracking_uri).version_by_alias(MODEL_NAME, CHAMPION)
    return ExampleRun(lakehouse, tracking_uri, result, str(champion.version) if champion else None)
