"""test_incremental.py's silver and gold as a code location, for a run in its own process (killed mid-MERGE)."""

from __future__ import annotations

import os

import dagster as dg

from lakehouse_jobs.lib import LakehouseResource, SparkResource
from lakehouse_jobs_tests.tables.test_incremental import ASSETS

defs = dg.Definitions(assets=ASSETS, resources={"spark": SparkResource(), "lakehouse": LakehouseResource(root=os.environ["LAKEHOUSE_ROOT"])})
