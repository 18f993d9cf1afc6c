"""The churn model on the example graph: registered, gated, promoted (or not), then used for scoring."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from deltalake import DeltaTable

from lakehouse_jobs.defs import ml
from lakehouse_jobs.lib import LakehouseResource, SparkResource, WriteSpec, write_delta
from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs_tests.example_run import ExampleRun


def _materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dg.AssetMaterialization:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return event.materialization


def _gate(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "champion_gate"]
    return evaluation


def test_whole_graph_registers_a_version_and_the_gate_makes_it_champion(example: ExampleRun):
    assert example.result.success
    model = _materialization(example.result, ml.CHURN_MODEL).metadata
    version = model["model_version"].value
    assert example.champion_after_run == str(version)
    assert model["cv_auc"].value >= ml.MIN_AUC and isinstance(model["cv_auc"], dg.FloatMetadataValue)
    for name in ("cv_accuracy", "cv_precision", "cv_recall", "train_auc"):
        assert isinstance(model[name], dg.FloatMetadataValue)
    gate = _gate(example.result)
    assert gate.passed and gate.metadata["champion_version"].value == version
    # everything was logged to the store MLFLOW_TRACKING_URI names, none under the lakehouse root
    client = example.mlflow().client()
    run = client.get_run(model["mlflow_run_id"].value)
    assert run.data.metrics["cv_auc"] == pytest.approx(model["cv_auc"].value)
    assert run.data.params["features"] == ",".join(ml.FEATURES)
    assert run.data.tags["dagster_run_id"] == example.result.run_id
    registered = client.get_model_version(ml.MODEL_NAME, str(version))
    assert registered.run_id == run.info.run_id and registered.tags["promotion"] == ml.CHAMPION
    assert not (example.root / "mlflow" / "mlflow.db").exists()


def test_logged_model_has_signature_and_input_example(example: ExampleRun):
    from mlflow.models import get_model_info

    example.mlflow()._activate()
    version = _materialization(example.result, ml.CHURN_MODEL).metadata["model_version"].value
    info = get_model_info(f"models:/{ml.MODEL_NAME}/{version}")
    assert [c.name for c in info.signature.inputs.inputs] == ml.FEATURES
    assert info.saved_input_example_info is not None


def test_predictions_score_every_customer_with_the_champion_version(example: ExampleRun):
    predictions = DeltaTable(str(example.lakehouse.table_path("gold", "churn_predictions"))).to_pandas()
    features = DeltaTable(str(example.lakehouse.table_path("gold", "customer_features"))).to_pandas()
    assert sorted(predictions["customer_id"]) == sorted(features["customer_id"]) and predictions["customer_id"].is_unique
    assert set(predictions["model_version"]) == {int(example.champion_after_run)}
    assert set(predictions["model_name"]) == {ml.MODEL_NAME}
    assert predictions["churn_probability"].between(0, 1).all()
    assert (predictions["churn_predicted"] == (predictions["churn_probability"] >= ml.THRESHOLD)).all()
    meta = _materialization(example.result, ml.PREDICTIONS).metadata
    assert meta["dagster/row_count"].value == len(features)
    assert meta["model_version"].value == int(example.champion_after_run)
    # the model is a real one: predicted churners are mostly real churners
    joined = predictions.merge(features, on="customer_id")
    assert (joined["churn_predicted"] == joined["churned"]).mean() > 0.8


def _degraded_lakehouse(spark, example: ExampleRun, tmp_path, degrade) -> LakehouseResource:
    """A lakehouse whose gold/customer_features is the example's, degraded by `degrade`."""
    lakehouse = LakehouseResource(root=str(tmp_path / "degraded"))
    features = DeltaTable(str(example.lakehouse.table_path("gold", "customer_features"))).to_pandas()
    frame = degrade(features.copy())
    schema = spark.read.format("delta").load(str(example.lakehouse.table_path("gold", "customer_features"))).schema
    write_delta(spark, spark.createDataFrame(frame, schema=schema), lakehouse.table_path("gold", "customer_features"), WriteSpec())
    return lakehouse


def _retrain(example: ExampleRun, lakehouse: LakehouseResource) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [ml.churn_model, ml.champion_gate, ml.churn_predictions],
            resources={"spark": SparkResource(), "lakehouse": lakehouse, "mlflow": example.mlflow()},
            instance=instance,
            raise_on_error=False,
        )


def _constant_features(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ml.FEATURES:
        frame[column] = frame[column].iloc[0]
    return frame


def test_gate_refuses_a_degraded_model_and_the_old_champion_stays(spark, example: ExampleRun, tmp_path):
    champion = example.mlflow().version_by_alias(ml.MODEL_NAME, ml.CHAMPION)
    result = _retrain(example, _degraded_lakehouse(spark, example, tmp_path, _constant_features))
    candidate = _materialization(result, ml.CHURN_MODEL).metadata
    assert candidate["cv_auc"].value < 0.6  # no signal: only the per-fold class prior varies
    gate = _gate(result)
    assert not gate.passed and "below the threshold" in gate.description
    assert gate.metadata["champion_version"].value == int(champion.version)
    assert example.mlflow().version_by_alias(ml.MODEL_NAME, ml.CHAMPION).version == champion.version
    refused = example.mlflow().client().get_model_version(ml.MODEL_NAME, str(candidate["model_version"].value))
    assert "below the threshold" in refused.tags["promotion"]
    # the gate is blocking: nothing was scored with the refused model
    assert not result.success
    assert ml.PREDICTIONS not in {m.asset_key for m in result.get_asset_materialization_events()}


def test_gate_refuses_a_model_worse_than_the_champion(spark, example: ExampleRun, tmp_path):
    """Above the threshold is not enough: a candidate below the current champion's AUC is refused too."""
    champion = example.mlflow().version_by_alias(ml.MODEL_NAME, ml.CHAMPION)
    champion_auc = example.mlflow().client().get_run(champion.run_id).data.metrics[ml.GATE_METRIC]

    def weaker(frame: pd.DataFrame) -> pd.DataFrame:  # drop the strongest signal, keep order history
        for column in ("days_since_last_event", "events", "page_views", "add_to_carts", "sessions"):
            frame[column] = 0
        return frame

    result = _retrain(example, _degraded_lakehouse(spark, example, tmp_path, weaker))
    auc = _materialization(result, ml.CHURN_MODEL).metadata["cv_auc"].value
    assert ml.MIN_AUC <= auc < champion_auc, "the fixture must build a candidate between threshold and champion"
    gate = _gate(result)
    assert not gate.passed and "worse than champion" in gate.description
    assert example.mlflow().version_by_alias(ml.MODEL_NAME, ml.CHAMPION).version == champion.version


def test_training_needs_both_classes():
    frame = pd.DataFrame({**{c: [1.0, 2.0, 3.0] for c in ml.FEATURES}, ml.LABEL: [0, 0, 0]})
    with pytest.raises(LakehouseError, match="need at least 2 churned and 2 active"):
        ml.train(frame)
