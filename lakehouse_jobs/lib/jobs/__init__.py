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

__all__ = [
    "JOB_RESULT_TAG",
    "JobSpec",
    "JobsDocument",
    "SpecValidationError",
    "TaskSpec",
    "build_definitions",
    "compile_job",
    "dagster_job_name",
    "load_spec",
    "load_spec_file",
    "reconstructable_job",
    "task_tag",
    "task_values",
    "validate_document",
]
