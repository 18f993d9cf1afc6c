"""LAKEHOUSE_ENGINE=auto: each run on Sail when all its steps can run there, else on the JVM.

A process runs one engine (docs/engines.md), so the choice is made per run, before any
session, from the run's execution plan as Dagster stored it: every step to execute must be
one of the project's table steps (medallion, AUTO CDC, ingestion: their op tag
`tags.ENGINE_NEEDS` lists the engine features they need) and Sail must have what each needs
(`sail.LACKS`). Any other step - user code, notebooks, dbt, pipeline updates, a table step
needing what Sail lacks - puts the run on the JVM, whose behaviour is the reference. So in
the example the CSV sources' file-arrival runs and the refresh runs (silver and gold) go to
Sail, the JSON source's arrival runs to the JVM. Every step process of a run reads the same plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.runtime import sail
from lakehouse_jobs.lib.tables.delta_io import change_feed_enabled
from lakehouse_jobs.lib.tags import ENGINE_NEEDS, TABLE, WRITER


@dataclass(frozen=True)
class Choice:
    engine: str  # "sail" or "spark"
    reason: str  # said in the run's log with the engine


def needs_of(tag: str | None) -> tuple[str, ...] | None:
    """The features a step's `ENGINE_NEEDS` tag names; None when the step has no tag (not a table step)."""
    if tag is None:
        return None
    return tuple(n for n in tag.split(",") if n)


def choose(steps: Sequence[tuple[str, dict[str, str]]], root: Path | None = None) -> Choice:
    """The engine for a run executing `steps` ((step key, op tags) each); `root`: the lakehouse whose tables they write.

    A table with the change data feed on (every table a JVM run wrote: `delta_io.change_feed_options`) is one
    Sail cannot write ("Unsupported table features required: [ChangeDataFeed]", pysail 0.7.2), except through
    delta-rs, which ingestion and medallion writes use there (op tag `WRITER`): a step writing one with Spark's
    writer on Sail (AUTO CDC's MERGE) puts the run on the JVM."""
    if not steps:
        return Choice("spark", "auto: the run's steps are unknown")
    for key, op_tags in steps:
        needs = needs_of(op_tags.get(ENGINE_NEEDS))
        if needs is None:
            return Choice("spark", f"auto: step {key} is not one of the project's table steps, whose Sail runs are measured")
        lacking = [n for n in needs if n in sail.LACKS]
        if lacking:
            return Choice("spark", f"auto: step {key} needs {'; '.join(sail.LACKS[n] for n in lacking)}, which Sail lacks")
        table = op_tags.get(TABLE)
        if root is not None and table and op_tags.get(WRITER) != "delta-rs" and change_feed_enabled(root / table):
            return Choice("spark", f"auto: step {key} writes {table}, a table with the change data feed (a JVM run wrote it), which Sail cannot write")
    return Choice("sail", f"auto: all {len(steps)} step(s) of the run are table steps Sail runs")


def plan_steps(instance: Any, run_id: str) -> list[tuple[str, dict[str, str]]]:
    """(step key, op tags) of the steps run `run_id` executes, from its stored execution plan ([] if none is stored)."""
    run = instance.get_run_by_id(run_id) if instance is not None and run_id else None
    if run is None or not run.execution_plan_snapshot_id:
        return []
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    wanted = set(run.step_keys_to_execute) if run.step_keys_to_execute else None
    return [(step.key, dict(step.tags or {})) for step in plan.steps if wanted is None or step.key in wanted]


def choose_for_run(instance: Any, run_id: str | None, root: Path | None = None) -> Choice:
    """`choose` over the steps of run `run_id` (the JVM when the run or its plan is unknown)."""
    return choose(plan_steps(instance, run_id or ""), root)
