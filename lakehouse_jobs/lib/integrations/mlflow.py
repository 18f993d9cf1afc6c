"""MLflow tracking and model registry as a Dagster resource.

Defaults keep everything inside the lakehouse: sqlite tracking/registry at
`<root>/mlflow/mlflow.db` and artifacts under `<root>/mlflow/artifacts`, unless
`MLFLOW_TRACKING_URI` (or `tracking_uri`) points elsewhere.

Why a ConfigurableResource and not dagster-mlflow's `mlflow_tracking`: that
legacy function-style resource opens one MLflow run per Dagster run as soon as
any step requires it (the promotion check and the scoring asset would log into
the training run), configures MLflow through process-global state and env
dicts, and has no notion of a default store inside the lakehouse or of
registry aliases. We keep its convention (a `dagster_run_id` tag on every MLflow
run, so runs stay findable from either side) and scope one MLflow run to one
asset materialization instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.tables.lakehouse import default_root

if TYPE_CHECKING:
    from mlflow import ActiveRun
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

LOCAL_SCHEMES = ("sqlite", "file", "")


class MLflowResource(dg.ConfigurableResource):
    """Where MLflow runs, models and artifacts go; one experiment per code location."""

    root: str = Field(default_factory=default_root, description="Lakehouse root; the local MLflow store lives in <root>/mlflow.")
    tracking_uri: str | None = Field(default=None, description="Tracking URI; default env MLFLOW_TRACKING_URI, else sqlite under <root>/mlflow.")
    registry_uri: str | None = Field(default=None, description="Model registry URI; default: the tracking URI.")
    experiment_name: str = Field(default="lakehouse_jobs", description="MLflow experiment for the runs of this code location.")

    @property
    def store_path(self) -> Path:
        return Path(self.root).expanduser().resolve() / "mlflow"

    def resolved_tracking_uri(self) -> str:
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
        if uri:
            return uri
        self.store_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.store_path / 'mlflow.db'}"

    def resolved_registry_uri(self) -> str:
        return self.registry_uri or self.resolved_tracking_uri()

    def client(self) -> MlflowClient:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.resolved_tracking_uri(), registry_uri=self.resolved_registry_uri())

    def _activate(self) -> None:
        """Point MLflow's fluent API (log_model, load_model) at this resource's stores."""
        import mlflow

        mlflow.set_tracking_uri(self.resolved_tracking_uri())
        mlflow.set_registry_uri(self.resolved_registry_uri())

    def experiment_id(self) -> str:
        """The experiment's id; created with artifacts under <root>/mlflow/artifacts for a local store."""
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        scheme = self.resolved_tracking_uri().split(":", 1)[0] if ":" in self.resolved_tracking_uri() else ""
        location = (self.store_path / "artifacts").as_uri() if scheme in LOCAL_SCHEMES else None
        return client.create_experiment(self.experiment_name, artifact_location=location)

    @contextmanager
    def start_run(self, context: dg.AssetExecutionContext, run_name: str | None = None) -> Iterator[ActiveRun]:
        """An MLflow run for this materialization, tagged with the Dagster run id and asset key."""
        import mlflow

        self._activate()
        tags = {"dagster_run_id": context.run_id, "dagster_job": context.job_name}
        if context.has_assets_def:
            tags["dagster_asset"] = context.asset_key.to_user_string()
        with mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name or context.run_id[:8], tags=tags) as run:
            yield run

    def load_model(self, uri: str) -> Any:
        """Load a registered model (`models:/<name>@<alias>`) with its native flavor."""
        import mlflow

        self._activate()
        return mlflow.sklearn.load_model(uri)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The registered version behind `alias`, or None when the alias (or the model) does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client().get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
                return None
            raise LakehouseError(f"MLflow registry at {self.resolved_registry_uri()}: {exc.message}") from None
