"""A task type defined outside lakehouse_jobs: proves a new type is one module, registered from outside.

`echo_task` writes its (resolved) `message` to a file and publishes it as a task value.
It is registered either in code (`register_task_type(TASK_TYPE)`) or through the
`lakehouse_jobs.task_types` entry point (test_registry.py builds one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import task_values
from lakehouse_jobs.lib.jobs.fields import Problems, string, unknown
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType


def check(body: Any, ctx: CheckContext) -> Problems:
    if not isinstance(body, dict):
        return [(ctx.path, "expected {message, file}")]
    problems: Problems = []
    unknown(problems, body, ctx.path, {"message", "file"})
    string(problems, body, "message", ctx.path, required=True, hint="the text to echo")
    string(problems, body, "file", ctx.path, required=True, hint="where to write it")
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    message = task_run.resolve(task_run.body["message"])
    with Path(task_run.body["file"]).open("a") as handle:
        handle.write(f"{task_run.task.task_key}:{message}\n")
    task_values.set("echoed", message)
    return TaskOutcome(SUCCESS, metadata={"echoed": message})


TASK_TYPE = TaskType(name="echo_task", check=check, run=run, description="echo a message (a test's own task type)")
