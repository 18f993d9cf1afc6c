"""Every `lakehouse_jobs/...` tag and metadata key, in one place.

Run tags are what the Dagster UI, the CLI, repair and the sensors read back, so a
key written in one module and read in another must be the same string: they all
take it from here. Dagster limits tag names to 63 characters (see `task_tag`).
"""

from __future__ import annotations

import hashlib

PREFIX = "lakehouse_jobs/"

# Job runs
JOB_KEY = PREFIX + "job_key"
JOB_RESULT = PREFIX + "result_state"
REPAIR_COUNT = PREFIX + "repair_count"
PARENT_RUN_ID = PREFIX + "parent_run_id"
TASK_KEY = PREFIX + "task_key"  # also an op-node tag of each task
TASK_TYPE = PREFIX + "task_type"  # op-node tag

# Dagster's own, set on every run a sensor requested (read back by our sensors)
DAGSTER_SENSOR_NAME = "dagster/sensor_name"
DAGSTER_RUN_KEY = "dagster/run_key"

# How a run was started
TRIGGER_TYPE = PREFIX + "trigger.type"
FILE_ARRIVAL_LOCATION = PREFIX + "trigger.file_arrival.location"
FILE_ARRIVAL_FILES = PREFIX + "trigger.file_arrival.files"
UPDATED_TABLES = PREFIX + "trigger.table_update.updated_tables"

# Which bundle target and variables a run was built with (repair rebuilds the same job)
BUNDLE_TARGET = PREFIX + "bundle.target"
BUNDLE_VARIABLES = PREFIX + "bundle.variables"

# Concurrency and queueing
MAX_CONCURRENT_RUNS_PREFIX = PREFIX + "max_concurrent_runs."
QUEUE = PREFIX + "queue"
SKIP_REASON = PREFIX + "skip_reason"

# The engine a run's Spark code ran on (spark | sail)
ENGINE = PREFIX + "engine"
# op tag of the project's table steps: the engine features they need (names of runtime/sail.LACKS, comma-separated);
# LAKEHOUSE_ENGINE=auto runs a run on Sail when every step carries it and Sail has them all
ENGINE_NEEDS = PREFIX + "engine_needs"
# op tag of a task whose code was read at compile time (jobs/source_needs.py): what it uses that Sail lacks, where
# (or why its code could not be read); auto's reason for putting its run on the JVM
ENGINE_USES = PREFIX + "engine_uses"
# op tag of the project's table steps: the table they write ("layer/table"; auto checks it is one Sail can write)
TABLE = PREFIX + "table"
# op tag of a table step that commits with delta-rs on Sail where Sail cannot write (ingestion: always; medallion writes: to a table
# with the change data feed): auto need not send it to the JVM for its table
WRITER = PREFIX + "writer"

# Where a run's files came from (git_source)
GIT_COMMIT = PREFIX + "git_commit"

# Notifications
DURATION_WARNING_SENT = PREFIX + "duration_warning_sent"

# Job definition metadata
JOB_NAME_METADATA = PREFIX + "job_name"
PARAMETERS_METADATA = PREFIX + "parameters"
TASKS_METADATA = PREFIX + "tasks"


def task_tag(task_key: str) -> str:
    """Run tag key holding one task's result state (Dagster tag names are <= 63 chars)."""
    name = f"task.{task_key}.result_state"
    if len(name) > 63:
        digest = hashlib.sha1(task_key.encode(), usedforsecurity=False).hexdigest()[:8]
        name = f"task.{task_key[:36]}.{digest}.result_state"
    return PREFIX + name
