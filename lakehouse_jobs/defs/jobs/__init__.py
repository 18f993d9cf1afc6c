"""The example lakehouse's jobs, compiled to Dagster jobs, schedules and sensors.

- `lakehouse.yml`: the lakehouse's own jobs over its declared assets (pipeline tasks);
- `examples/databricks_etl/databricks_etl.job.yml`: a Databricks job written as a Databricks
  user writes it (notebooks, a script, a wheel, a SQL file, run-job), shown in `make dev`'s UI
  next to them; the tables its tasks write appear in the lineage as they are committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import build_definitions, load_spec_file

from ..paths import REPO_ROOT

SPEC = Path(__file__).with_name("lakehouse.yml")
DATABRICKS_ETL = REPO_ROOT / "examples" / "databricks_etl" / "databricks_etl.job.yml"


def job_definitions(assets: Sequence[Any], resources: Mapping[str, Any]) -> dg.Definitions:
    """The jobs, schedules and sensors of both specs (assets and resources stay with the caller)."""
    built = [build_definitions(load_spec_file(path), assets=assets, resources=resources) for path in (SPEC, DATABRICKS_ETL)]
    return dg.Definitions(
        jobs=[job for defs in built for job in defs.jobs],
        schedules=[schedule for defs in built for schedule in defs.schedules],
        sensors=[sensor for defs in built for sensor in defs.sensors],
    )
