"""lakehouse_jobs.lib.jobs: Databricks Lakeflow Jobs specs, with their semantics, on Dagster.

    document = load_spec_file("jobs.yml")          # a job object or a bundle (resources.jobs.<key>)
    defs = build_definitions(document, assets=my_assets, resources=my_resources)

Inside a task: `from lakehouse_jobs.lib.jobs import task_values; task_values.set("n", 3)`.
"""

from lakehouse_jobs.lib.jobs import task_values
from lakehouse_jobs.lib.jobs.automation.notifications import compile_notifications
from lakehouse_jobs.lib.jobs.automation.schedules import compile_schedule, quartz_problems, quartz_to_cron
from lakehouse_jobs.lib.jobs.automation.triggers import compile_continuous, compile_trigger
from lakehouse_jobs.lib.jobs.compile import build_definitions, compile_job, dagster_job_name, reconstructable_job
from lakehouse_jobs.lib.jobs.component import LakehouseJobsComponent
from lakehouse_jobs.lib.jobs.concurrency import LakehouseRunCoordinator, compile_concurrency, concurrency_tags
from lakehouse_jobs.lib.jobs.load import SpecValidationError, load_spec, load_spec_file
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG, task_tag
from lakehouse_jobs.lib.jobs.spec import JobsDocument, JobSpec, TaskSpec
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType, register_task_type
from lakehouse_jobs.lib.jobs.validate import validate_document

__all__ = [
    "CheckContext",
    "JOB_RESULT_TAG",
    "JobSpec",
    "JobsDocument",
    "LakehouseJobsComponent",
    "LakehouseRunCoordinator",
    "SpecValidationError",
    "TaskOutcome",
    "TaskRun",
    "TaskSpec",
    "TaskType",
    "build_definitions",
    "compile_concurrency",
    "compile_continuous",
    "compile_job",
    "compile_notifications",
    "compile_schedule",
    "compile_trigger",
    "concurrency_tags",
    "dagster_job_name",
    "load_spec",
    "load_spec_file",
    "quartz_problems",
    "quartz_to_cron",
    "reconstructable_job",
    "register_task_type",
    "task_tag",
    "task_values",
    "validate_document",
]
