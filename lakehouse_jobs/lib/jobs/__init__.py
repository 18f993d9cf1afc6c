"""lakehouse_jobs.lib.jobs: Databricks Lakeflow Jobs specs, with their semantics, on Dagster.

    document = load_spec_file("jobs.yml")          # a job object or a bundle (resources.jobs.<key>)
    defs = build_definitions(document, assets=my_assets, resources=my_resources)

Inside a task: `from lakehouse_jobs.lib.jobs import task_values; task_values.set("n", 3)`.
"""

from . import task_values
from .compile import build_definitions, compile_job, dagster_job_name, reconstructable_job
from .result_states import JOB_RESULT_TAG, task_tag
from .spec import JobsDocument, JobSpec, SpecValidationError, TaskSpec, load_spec, load_spec_file
from .validate import validate_document
from .component import LakehouseJobsComponent
from .concurrency import LakehouseRunCoordinator, compile_concurrency, concurrency_tags
from .notifications import compile_notifications
from .schedules import compile_schedule, quartz_problems, quartz_to_cron
from .triggers import compile_continuous, compile_trigger

__all__ = [
    "JOB_RESULT_TAG",
    "JobSpec",
    "JobsDocument",
    "LakehouseJobsComponent",
    "LakehouseRunCoordinator",
    "SpecValidationError",
    "TaskSpec",
    "build_definitions",
    "compile_concurrency",
    "compile_continuous",
    "compile_notifications",
    "compile_schedule",
    "compile_trigger",
    "concurrency_tags",
    "compile_job",
    "dagster_job_name",
    "load_spec",
    "load_spec_file",
    "quartz_problems",
    "quartz_to_cron",
    "reconstructable_job",
    "task_tag",
    "task_values",
    "validate_document",
]
