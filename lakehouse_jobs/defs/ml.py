"""The churn model: trained on gold/customer_features, gated, then used to score customers.

    gold/customer_features -> ml/churn_model -[champion_gate]-> gold/churn_predictions

scikit-learn on the collected features (one row per customer: small) rather than
Spark ML: a Spark ML model needs a JVM to load and serve and a heavier MLflow
flavor, while sklearn + signature + input example is MLflow's common path. The
gate is a blocking asset check: it moves the `champion` alias to the new version
only when its cross-validated AUC clears MIN_AUC and is not below the current
champion's; otherwise the alias stays and scoring does not run.
"""

from typing import TYPE_CHECKING

import dagster as dg

from lakehouse_jobs.lib import LakehouseError, LakehouseResource, MLflowResource, SparkResource, TableOutput, last_commit, medallion_asset, read_table

if TYPE_CHECKING:  # pandas is imported where used: loading the definitions (every run, the UI) need not pay ~0.5 s
    import pandas as pd

CUSTOMER_FEATURES = dg.AssetKey(["gold", "customer_features"])
CHURN_MODEL = dg.AssetKey(["ml", "churn_model"])
PREDICTIONS = dg.AssetKey(["gold", "churn_predictions"])
MODEL_NAME = "lakehouse_churn"
CHAMPION = "champion"
GATE_METRIC = "cv_auc"
MIN_AUC = 0.75
FEATURES = [
    "recency_days", "frequency", "monetary", "avg_order_value", "events",
    "page_views", "add_to_carts", "sessions", "days_since_last_event",
]  # fmt: skip
LABEL = "churned"
RANDOM_STATE = 42
CV_FOLDS = 5
THRESHOLD = 0.5


def feature_frame(features) -> "pd.DataFrame":  # noqa: ANN001 - a Spark DataFrame
    """Collect id, float features, label and cutoff, ordered by customer (stable for training)."""
    from pyspark.sql import functions as F

    columns = [F.col(c).cast("double").alias(c) for c in FEATURES]
    rows = features.select("customer_id", *columns, F.col(LABEL).cast("int").alias(LABEL), "feature_cutoff_date")
    return rows.orderBy("customer_id").toPandas()


def train(frame: "pd.DataFrame"):  # noqa: ANN201 - (sklearn Pipeline, metrics)
    """Fit a scaled logistic regression; metrics are out-of-fold (stratified CV), so tiny data stays honest."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = frame[FEATURES], frame[LABEL]
    folds = min(CV_FOLDS, int(y.value_counts().min())) if y.nunique() == 2 else 0
    if folds < 2:
        raise LakehouseError(f"{CHURN_MODEL.to_user_string()}: need at least 2 churned and 2 active customers to train, got {y.value_counts().to_dict()}")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=RANDOM_STATE))
    cv = StratifiedKFold(folds, shuffle=True, random_state=RANDOM_STATE)
    proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    predicted = (proba >= THRESHOLD).astype(int)
    model.fit(x, y)
    metrics = {
        "cv_auc": roc_auc_score(y, proba),
        "cv_accuracy": accuracy_score(y, predicted),
        "cv_precision": precision_score(y, predicted, zero_division=0),
        "cv_recall": recall_score(y, predicted, zero_division=0),
        "cv_f1": f1_score(y, predicted, zero_division=0),
        "cv_log_loss": log_loss(y, proba, labels=[0, 1]),
        "train_auc": roc_auc_score(y, model.predict_proba(x)[:, 1]),
        "churn_rate": float(y.mean()),
    }
    return model, {k: round(float(v), 6) for k, v in metrics.items()}, folds


@dg.asset(key=CHURN_MODEL, deps=[CUSTOMER_FEATURES], group_name="ml", kinds={"mlflow", "scikit-learn"}, owners=["team:ml"])
def churn_model(context: dg.AssetExecutionContext, spark: SparkResource, lakehouse: LakehouseResource, mlflow: MLflowResource) -> dg.MaterializeResult:
    """A churn classifier logged to MLflow (params, CV metrics, model + signature) and registered as a new version."""
    import mlflow as mlflow_api
    import mlflow.sklearn as mlflow_sklearn
    from mlflow.models import infer_signature

    session = spark.get_session()
    features_version = last_commit(session, str(lakehouse.table_path(*CUSTOMER_FEATURES.path))).version
    frame = feature_frame(read_table(session, lakehouse, CUSTOMER_FEATURES))
    model, metrics, folds = train(frame)
    x = frame[FEATURES]
    with mlflow.start_run(context, run_name=f"churn-{context.run_id[:8]}") as run:
        mlflow_api.log_params({
            "model": "StandardScaler+LogisticRegression", "C": 1.0, "random_state": RANDOM_STATE, "cv_folds": folds,
            "features": ",".join(FEATURES), "training_rows": len(frame), "features_delta_version": features_version,
            "feature_cutoff_date": str(frame["feature_cutoff_date"].iloc[0]),
        })  # fmt: skip
        mlflow_api.log_metrics(metrics)
        info = mlflow_sklearn.log_model(
            model, name="model", registered_model_name=MODEL_NAME,
            signature=infer_signature(x, model.predict_proba(x)[:, 1]), input_example=x.head(5),
        )  # fmt: skip
    version = int(info.registered_model_version)
    mlflow.client().set_model_version_tag(MODEL_NAME, str(version), "dagster_run_id", context.run_id)
    context.log.info(f"registered {MODEL_NAME} v{version} ({GATE_METRIC}={metrics[GATE_METRIC]:.3f}) from MLflow run {run.info.run_id}")
    return dg.MaterializeResult(
        metadata={
            "mlflow_run_id": dg.MetadataValue.text(run.info.run_id),
            "model_name": dg.MetadataValue.text(MODEL_NAME),
            "model_version": dg.MetadataValue.int(version),
            "model_uri": dg.MetadataValue.text(f"models:/{MODEL_NAME}/{version}"),
            "training_rows": dg.MetadataValue.int(len(frame)),
            "features_delta_version": dg.MetadataValue.int(features_version),
            **{name: dg.MetadataValue.float(value) for name, value in metrics.items()},
        }
    )


@dg.asset_check(asset=CHURN_MODEL, blocking=True, description=f"Promote to @{CHAMPION} only if {GATE_METRIC} >= {MIN_AUC} and not below the champion's.")
def champion_gate(context: dg.AssetCheckExecutionContext, mlflow: MLflowResource) -> dg.AssetCheckResult:
    """Move the champion alias to the version just registered, or refuse and keep the old champion."""
    event = context.instance.get_latest_materialization_event(CHURN_MODEL)
    if event is None or event.asset_materialization is None:
        raise LakehouseError(f"{CHURN_MODEL.to_user_string()} has never been materialized: nothing to promote.")
    version = str(event.asset_materialization.metadata["model_version"].value)
    client = mlflow.client()
    candidate_auc = client.get_run(client.get_model_version(MODEL_NAME, version).run_id).data.metrics[GATE_METRIC]
    previous = mlflow.version_by_alias(MODEL_NAME, CHAMPION)
    previous_auc = client.get_run(previous.run_id).data.metrics.get(GATE_METRIC) if previous else None
    reasons = []
    if candidate_auc < MIN_AUC:
        reasons.append(f"{GATE_METRIC} {candidate_auc:.3f} is below the threshold {MIN_AUC}")
    if previous is not None and str(previous.version) != version and previous_auc is not None and candidate_auc < previous_auc:
        reasons.append(f"{GATE_METRIC} {candidate_auc:.3f} is worse than champion v{previous.version}'s {previous_auc:.3f}")
    if not reasons:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    client.set_model_version_tag(MODEL_NAME, version, "promotion", "; ".join(reasons) or CHAMPION)
    champion = version if not reasons else (previous.version if previous else None)
    metadata = {
        "candidate_version": dg.MetadataValue.int(int(version)),
        f"candidate_{GATE_METRIC}": dg.MetadataValue.float(candidate_auc),
        "threshold": dg.MetadataValue.float(MIN_AUC),
        "champion_version": dg.MetadataValue.int(int(champion)) if champion else dg.MetadataValue.null(),
        "previous_champion_version": dg.MetadataValue.int(int(previous.version)) if previous else dg.MetadataValue.null(),
        f"previous_champion_{GATE_METRIC}": dg.MetadataValue.float(previous_auc) if previous_auc is not None else dg.MetadataValue.null(),
    }
    description = f"v{version} promoted to @{CHAMPION}" if not reasons else f"v{version} not promoted: {'; '.join(reasons)}"
    return dg.AssetCheckResult(passed=not reasons, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata, description=description)


@medallion_asset(layer="gold", name="churn_predictions", deps=[CHURN_MODEL], resources=["mlflow"], owners=["team:ml"])
def churn_predictions(context, spark, mlflow: MLflowResource, gold_customer_features) -> TableOutput:  # noqa: ANN001
    """Every current customer scored by the @champion model, with the model version that scored it."""
    champion = mlflow.version_by_alias(MODEL_NAME, CHAMPION)
    if champion is None:
        raise LakehouseError(f"no @{CHAMPION} version of {MODEL_NAME} yet: materialize {CHURN_MODEL.to_user_string()} and let its gate pass.")
    import pandas as pd

    model = mlflow.load_model(f"models:/{MODEL_NAME}/{champion.version}")
    frame = feature_frame(gold_customer_features)
    probability = model.predict_proba(frame[FEATURES])[:, 1] if len(frame) else []
    scored = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "churn_probability": pd.Series(probability, dtype="float64").round(6),
        "churn_predicted": (pd.Series(probability, dtype="float64") >= THRESHOLD).astype("int32"),
        "model_name": MODEL_NAME,
        "model_version": int(champion.version),
        "mlflow_run_id": champion.run_id,
        "feature_cutoff_date": frame["feature_cutoff_date"],
    })  # fmt: skip
    schema = "customer_id bigint, churn_probability double, churn_predicted int, model_name string, model_version int, mlflow_run_id string, feature_cutoff_date date"
    context.log.info(f"scored {len(scored)} customers with {MODEL_NAME} v{champion.version}")
    return TableOutput(
        spark.createDataFrame(scored, schema=schema),
        {
            "model_version": dg.MetadataValue.int(int(champion.version)),
            "mlflow_run_id": dg.MetadataValue.text(champion.run_id),
            "predicted_churners": dg.MetadataValue.int(int(scored["churn_predicted"].sum())),
            "mean_churn_probability": dg.MetadataValue.float(float(scored["churn_probability"].mean()) if len(scored) else 0.0),
        },
    )
