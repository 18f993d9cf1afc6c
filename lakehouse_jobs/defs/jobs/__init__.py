"""The example lakehouse's jobs (lakehouse.yml), compiled to Dagster jobs, schedules and sensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import build_definitions, load_spec_file

SPEC = Path(__file__).with_name("lakehouse.yml")


def job_definitions(assets: Sequence[Any], resources: Mapping[str, Any]) -> dg.Definitions:
    """The jobs, schedules and sensors of lakehouse.yml (assets and resources stay with the caller)."""
    built = build_definitions(load_spec_file(SPEC), assets=assets, resources=resources)
    return dg.Definitions(jobs=built.jobs, schedules=built.schedules, sensors=built.sensors)
