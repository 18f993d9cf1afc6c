"""Repair a run: re-run its failed tasks and everything downstream, reuse the rest.

Databricks' "repair run" on Dagster re-execution: the new run is a child of the
failed one (same lineage in the UI, like "re-execute from failure"); steps of
tasks that succeeded are not run again — their `result` outputs (states and
task values) are loaded from the parent run by the job's persistent IO manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._utils.hosted_user_process import recon_job_from_origin

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs.compile import RESULT_OP
from lakehouse_jobs.lib.jobs.result_states import FAILURES, JOB_RESULT_TAG, REPAIR_COUNT_TAG, task_tag


@dataclass
class RepairPlan:
    parent_run_id: str
    tasks: dict[str, str]  # task_key -> op name, in job order
    rerun: list[str]  # task keys whose state was a failure (their dependents follow)

    @property
    def step_selection(self) -> list[str]:
        """Dagster selection: each failed task's op and all its descendants (`op*`), plus the job result."""
        return [*(f"{self.tasks[key]}*" for key in self.rerun), RESULT_OP]


def job_tasks(job_def: dg.JobDefinition) -> dict[str, str]:
    """task_key -> op name, in the spec's order (recorded in the compiled job's metadata)."""
    recorded = job_def.metadata.get(lakehouse_tags.TASKS_METADATA)
    if recorded is not None:
        return dict(recorded.value)
    tasks: dict[str, str] = {}
    for node in job_def.graph.nodes:
        key = node.tags.get(lakehouse_tags.TASK_KEY)
        if key is not None:
            tasks[key] = node.name
    return tasks


def plan_repair(instance: dg.DagsterInstance, run_id: str) -> tuple[RepairPlan, object]:
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise LakehouseError(f"no run {run_id!r} in the Dagster instance at {instance.root_directory}")
    if run.status not in FINISHED_STATUSES:
        raise LakehouseError(f"run {run_id} is {run.status.value}; only a finished run can be repaired")
    if run.job_code_origin is None:
        raise LakehouseError(f"run {run_id} has no code origin to rebuild its job from")
    recon = recon_job_from_origin(run.job_code_origin)
    tasks = job_tasks(recon.get_definition())
    if not tasks:
        raise LakehouseError(f"run {run_id} is not a run of a lakehouse_jobs job spec")
    rerun = [key for key in tasks if run.tags.get(task_tag(key)) in FAILURES or task_tag(key) not in run.tags]
    if not rerun:
        raise LakehouseError(f"run {run_id} has no failed task to repair")
    return RepairPlan(run_id, tasks, rerun), recon


def repair_tags(parent_tags: Mapping[str, str]) -> dict[str, str]:
    """The parent's tags (its task states included: reused tasks keep theirs), one more repair."""
    tags = {k: v for k, v in parent_tags.items() if not k.startswith("dagster/") and k != JOB_RESULT_TAG}
    tags[REPAIR_COUNT_TAG] = str(int(parent_tags.get(REPAIR_COUNT_TAG, "0")) + 1)
    return tags


def repair_run(instance: dg.DagsterInstance, run_id: str) -> tuple[RepairPlan, str]:
    """Launch (in this process) the repair of `run_id`; returns the plan and the new run's id."""
    plan, recon = plan_repair(instance, run_id)
    parent = instance.get_run_by_id(run_id)
    options = dg.ReexecutionOptions(parent_run_id=run_id, step_selection=plan.step_selection)
    with dg.execute_job(
        recon, instance, run_config=parent.run_config, tags=repair_tags(parent.tags), reexecution_options=options, raise_on_error=False
    ) as result:
        return plan, result.run_id
