"""LAKEHOUSE_ENGINE=auto: each run on Sail when all its steps can run there, else on the JVM.

A process runs one engine (docs/engines.md), so the choice is made per run, before any
session, from the run's execution plan as Dagster stored it: every step to execute must be
one of the project's table steps (medallion, AUTO CDC, ingestion) or a job task whose code was
read when the job was compiled (notebooks, Python scripts, SQL files, dbt projects, conditions:
jobs/source_needs.py); their op tag `tags.ENGINE_NEEDS` lists the engine features they need,
and Sail must have them all. Any other step - user code, wheels, pipeline updates, a task
whose code cannot be read before the run, one using what Sail lacks (said by its op tag
`tags.ENGINE_USES`, cell and line) - puts the run on the JVM, whose behaviour is the reference.
So in the example the file-arrival and refresh runs go to Sail. Every step process of a run
reads the same plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.runtime import sail
from lakehouse_jobs.lib.tables.delta_io import change_feed_enabled
from lakehouse_jobs.lib.tags import ENGINE_NEEDS, ENGINE_USES, TABLE, WRITER


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
        said = op_tags.get(ENGINE_USES)  # a task's reading: where its code uses what Sail lacks, or why it is unread
        if needs is None:
            return Choice(
                "spark", f"auto: step {key}: {said}" if said else f"auto: step {key} is neither a table step nor a task whose code is read before the run"
            )
        lacking = [n for n in needs if n in sail.LACKS]
        if lacking:
            return Choice(
                "spark", f"auto: step {key}: {said}" if said else f"auto: step {key} needs {'; '.join(sail.LACKS[n] for n in lacking)}, which Sail lacks"
            )
        table = op_tags.get(TABLE)
        if root is not None and table and op_tags.get(WRITER) != "delta-rs" and change_feed_enabled(root / table):
            return Choice("spark", f"auto: step {key} writes {table}, a table with the change data feed (a JVM run wrote it), which Sail cannot write")
    return Choice("sail", f"auto: all {len(steps)} step(s) of the run are table steps or tasks whose code uses nothing Sail lacks")


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
