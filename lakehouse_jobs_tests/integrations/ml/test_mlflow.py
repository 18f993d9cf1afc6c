"""MLflowResource: the store defaults to the lakehouse root, MLFLOW_TRACKING_URI wins, aliases resolve."""

from __future__ import annotations

from pathlib import Path

from lakehouse_jobs.lib.integrations.mlflow import MLflowResource


def test_default_store_is_sqlite_under_the_lakehouse_root(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    resource = MLflowResource(root=str(tmp_path))
    assert resource.resolved_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow' / 'mlflow.db'}"
    assert resource.resolved_registry_uri() == resource.resolved_tracking_uri()
    experiment = resource.client().get_experiment(resource.experiment_id())
    assert experiment.artifact_location == (tmp_path.resolve() / "mlflow" / "artifacts").as_uri()
    assert (tmp_path / "mlflow" / "mlflow.db").is_file()


def test_env_tracking_uri_wins_and_an_empty_one_is_ignored(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # what `make` exports when the user sets nothing
    assert MLflowResource(root=str(tmp_path)).resolved_tracking_uri().endswith("/mlflow/mlflow.db")
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    assert MLflowResource(root=str(tmp_path)).resolved_tracking_uri() == elsewhere
    assert MLflowResource(root=str(tmp_path), tracking_uri="http://127.0.0.1:5000").resolved_tracking_uri() == "http://127.0.0.1:5000"


def test_missing_alias_or_model_is_none(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    resource = MLflowResource(root=str(tmp_path))
    assert resource.version_by_alias("no_such_model", "champion") is None
    resource.client().create_registered_model("empty_model")
    assert resource.version_by_alias("empty_model", "champion") is None
