"""The example lakehouse's jobs, compiled to Dagster jobs, schedules and sensors.

- `lakehouse.yml`: the lakehouse's own jobs over its declared assets (pipeline tasks);
- `examples/databricks_etl/databricks_etl.job.yml`: a Databricks job written as a Databricks
  user writes it (notebooks, a script, a wheel, a SQL file, run-job), shown in `make dev`'s UI
  next to them; the tables its tasks write appear in the lineage as they are committed;
- `examples/databricks_bundle/`: a Databricks Asset Bundle (target `dev`): its job, and its two
  pipelines' datasets as assets (three-part names under the lakehouse root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import build_definitions, bundle_definitions, load_spec_file

from ..paths import REPO_ROOT

SPEC = Path(__file__).with_name("lakehouse.yml")
DATABRICKS_ETL = REPO_ROOT / "examples" / "databricks_etl" / "databricks_etl.job.yml"
DATABRICKS_BUNDLE = REPO_ROOT / "examples" / "databricks_bundle"


def job_definitions(assets: Sequence[Any], resources: Mapping[str, Any]) -> dg.Definitions:
    """The jobs, schedules and sensors of both specs and the bundle, and the bundle's pipeline assets (the rest stays with the caller)."""
    built = [build_definitions(load_spec_file(path), assets=assets, resources=resources) for path in (SPEC, DATABRICKS_ETL)]
    bundle = bundle_definitions(DATABRICKS_BUNDLE, target="dev", assets=assets, resources=resources)
    built.append(bundle)
    return dg.Definitions(
        assets=[asset for asset in bundle.assets or () if asset not in assets],
        jobs=[job for defs in built for job in defs.jobs],
        schedules=[schedule for defs in built for schedule in defs.schedules],
        sensors=[sensor for defs in built for sensor in defs.sensors],
    )
