"""The code location is one lineage graph: landing -> bronze -> silver -> gold -> dbt marts, and
gold -> churn model -> predictions. Every dbt and ML asset descends from bronze; nothing dangles."""

from __future__ import annotations

import dagster as dg

from lakehouse_jobs.defs import ml
from lakehouse_jobs.defs.dbt import dbt_marts


def test_every_dbt_and_ml_asset_has_bronze_ancestors_and_nothing_is_orphaned():
    from lakehouse_jobs.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    bronze = {k for k in keys if k.path[0] == "bronze"}
    assert len(bronze) == 3
    ours = {*dbt_marts.keys, ml.CHURN_MODEL, ml.PREDICTIONS}
    assert ours <= keys
    for key in ours:
        ancestors = graph.get_ancestor_asset_keys(key)
        assert ancestors & bronze, f"{key.to_user_string()} has no bronze ancestor"
    # no orphans: every asset's parents are materializable assets of this location (no dangling
    # external sources, e.g. a dbt source whose key matches no table), and only ingestion roots have no parents
    assert not graph.external_asset_keys
    for key in keys:
        parents = graph.get(key).parent_keys
        assert parents <= graph.materializable_asset_keys, f"{key.to_user_string()} reads an undefined asset"
        # roots: bronze, and the example bundle's pipeline datasets that read its landing volume (Auto Loader / read_files)
        assert parents or key in bronze or "pipeline" in graph.get(key).kinds, f"{key.to_user_string()} is not connected to any upstream"
    assert graph.get(ml.PREDICTIONS).parent_keys == {ml.CHURN_MODEL, ml.CUSTOMER_FEATURES}
    assert dg.AssetCheckKey(ml.CHURN_MODEL, "champion_gate") in graph.asset_check_keys
