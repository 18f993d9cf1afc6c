"""Python tasks of the example jobs (lakehouse.yml)."""

from __future__ import annotations

import logging

from lakehouse_jobs.defs.paths import lakehouse_root
from lakehouse_jobs.lib import LakehouseResource, SparkResource, read_table, task_values

log = logging.getLogger("lakehouse_jobs.example")


def log_refresh(run_date: str, gold_state: str, marts_state: str) -> None:
    log.warning("nightly refresh for %s: gold tables %s, marts %s", run_date, gold_state, marts_state)
    task_values.set("states", {"gold": gold_state, "marts": marts_state})


def count_rows(table: str) -> None:
    """Publish a table's row count as the task value `rows` (read by the condition downstream)."""
    spark = SparkResource().get_session()
    task_values.set("rows", read_table(spark, LakehouseResource(root=lakehouse_root()), table).count())
