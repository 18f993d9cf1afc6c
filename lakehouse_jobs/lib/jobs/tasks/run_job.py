"""`run_job_task`: run another job of the same spec document as a child run on the same Dagster instance.

Fields: `job_id` (the job's key in the document, its `name`, or the bundle form
`${resources.jobs.<key>.id}`, resolved here to the key), `job_parameters` (name -> string; `{{...}}`
references resolved at run time). The legacy per-task-type fields (`notebook_params`,
`python_params`...) are refused: Databricks deprecates them for job_parameters.

The child is compiled from the same source as the parent (spec dict or file, same Definitions for
its assets) and run with `dagster.execute_job`, tagged with the parent's run id and task key. Its
parameters: `job_parameters`, then the parent's job parameters the child declares (pushed down,
they win, as Databricks documents for every key-value task). The task's state is the child's:
SUCCESS / SUCCESS_WITH_FAILURES succeed, anything else fails with the child run and failed tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.task_run import TaskFailure, TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType

FIELDS = ("job_id", "job_parameters")
LEGACY = ("notebook_params", "python_params", "python_named_params", "jar_params", "spark_submit_params", "sql_params", "dbt_commands", "pipeline_params")
_BUNDLE_REF = re.compile(r"^\$\{resources\.jobs\.([A-Za-z0-9_\-]+)\.id\}$")
SUCCEEDED = ("SUCCESS", "SUCCESS_WITH_FAILURES")


def target_key(job_id: Any, jobs: Mapping[str, Any]) -> str | None:
    """The key of the job `job_id` names in `jobs` (raw jobs by key): key, `${resources.jobs.<key>.id}` or unique name."""
    if not isinstance(job_id, str):
        return None
    text = job_id.strip()
    bundle = _BUNDLE_REF.fullmatch(text)
    if bundle:
        return bundle.group(1) if bundle.group(1) in jobs else None
    if text in jobs:
        return text
    named = [key for key, job in jobs.items() if isinstance(job, Mapping) and job.get("name") == text]
    return named[0] if len(named) == 1 else None


def _run_job_bodies(task: Any) -> Iterator[Mapping[str, Any]]:
    """The run_job_task bodies of a raw task (and of a for_each_task's nested task)."""
    if not isinstance(task, Mapping):
        return
    for name, body in task.items():
        if name == "run_job_task" and isinstance(body, Mapping):
            yield body
        elif isinstance(body, Mapping) and isinstance(body.get("task"), Mapping):
            yield from _run_job_bodies(body["task"])


def _graph(jobs: Mapping[str, Any]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for key, job in jobs.items():
        tasks = job.get("tasks") if isinstance(job, Mapping) else None
        targets = [target_key(body.get("job_id"), jobs) for task in (tasks if isinstance(tasks, list) else []) for body in _run_job_bodies(task)]
        graph[key] = [t for t in targets if t is not None]
    return graph


def _cycle(start: str, target: str, graph: Mapping[str, list[str]]) -> list[str] | None:
    """start -> target -> ... -> start, when target leads back to start."""
    stack, seen = [(target, [start, target])], set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((child, [*path, child]) for child in graph.get(node, ()))
    return None


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{job_id, job_parameters}"):
        return problems
    for name in LEGACY:
        if name in body:
            problems.append((ctx.at(name), f"{name} is a legacy field Databricks deprecates; pass the child job's parameters in job_parameters"))
    fields.unknown(problems, body, ctx.path, (*FIELDS, *LEGACY))
    params = body.get("job_parameters")
    if params is not None and not (
        isinstance(params, Mapping) and all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool) for k, v in params.items())
    ):
        problems.append((ctx.at("job_parameters"), "expected a mapping of parameter names to string values"))
        params = None
    job_id = body.get("job_id")
    if job_id is None:
        problems.append((ctx.at("job_id"), "missing: the job to run (its key in this document, its name, or ${resources.jobs.<key>.id})"))
        return problems
    if not isinstance(job_id, str) or not job_id.strip():
        problems.append((ctx.at("job_id"), f"expected the key or name of a job of this document, got {job_id!r} (numeric ids name workspace jobs)"))
        return problems
    jobs = ctx.jobs or {}
    key = target_key(job_id, jobs)
    if key is None:
        problems.append((ctx.at("job_id"), f"no job {job_id!r} in this document; its jobs: {', '.join(map(str, jobs)) or 'none'}"))
        return problems
    if ctx.job_key is not None:
        cycle = _cycle(ctx.job_key, key, _graph(jobs))
        if cycle:
            problems.append((ctx.at("job_id"), f"run_job_task cycle: {' -> '.join(cycle)}"))
    declared = {p.get("name") for p in (jobs[key].get("parameters") or []) if isinstance(p, Mapping)} if isinstance(jobs[key], Mapping) else set()
    for name in params or {}:
        if name not in declared:
            problems.append(
                (f"{ctx.at('job_parameters')}.{name}", f"job {key!r} declares no parameter {name!r} (it has: {', '.join(sorted(declared)) or 'none'})")
            )
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    import dagster as dg

    from lakehouse_jobs.lib import tags
    from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY
    from lakehouse_jobs.lib.jobs.load import load_spec, load_spec_file
    from lakehouse_jobs.lib.jobs.result_states import FAILURES, JOB_RESULT_TAG, task_tag

    source = task_run.job_source()
    if source is not None and (source.spec is not None or source.path is not None):
        document = load_spec(source.spec) if source.spec is not None else load_spec_file(source.path)
    else:  # a run of a code location (the UI, a schedule, the daemon): the child is a job of the same location
        document = task_run.runtime.document
    if document is None:
        raise TaskFailure("run_job_task: this job was compiled without its document (build_definitions(document) or a spec file), so the child job is unknown")
    raw_jobs = {key: job.raw for key, job in document.jobs.items()}
    job_id = str(task_run.resolve(task_run.body["job_id"]))
    key = target_key(job_id, raw_jobs)
    if key is None:
        raise TaskFailure(f"run_job_task.job_id: no job {job_id!r} in {document.source}")
    child = document.jobs[key]
    given = task_run.resolve({str(k): str(v) for k, v in (task_run.body.get("job_parameters") or {}).items()})
    pushed = {k: str(v) for k, v in task_run.references.parameters.items() if k in child.parameters}
    values = {**given, **pushed}
    context = task_run.context
    recon = _child_job(task_run, source, key)
    run_tags = {tags.PARENT_RUN_ID: context.run_id, tags.TASK_KEY: task_run.task.task_key, tags.TRIGGER_TYPE: "run_job_task"}
    run_config = {"resources": {PARAMETERS_KEY: {"config": {"values": values}}}}
    context.log.info(f"{task_run.task.task_key}: starting job {key!r} as a child run")
    with dg.execute_job(recon, context.instance, run_config=run_config, tags=run_tags, raise_on_error=False) as result:
        child_run_id = result.run_id
    child_run = context.instance.get_run_by_id(child_run_id)
    state = child_run.tags.get(JOB_RESULT_TAG) or child_run.status.value
    metadata = {"child_run": dg.MetadataValue.dagster_run(child_run_id), "child_job": key, "child_result_state": state}
    if state not in SUCCEEDED:
        failed = [t.task_key for t in child.tasks if child_run.tags.get(task_tag(t.task_key)) in FAILURES]
        raise TaskFailure(f"child run {child_run_id} of job {key!r} ended {state}" + (f"; failed tasks: {', '.join(failed)}" if failed else ""))
    context.log.info(f"{task_run.task.task_key}: child run {child_run_id} of job {key!r} ended {state}")
    return TaskOutcome(SUCCESS, metadata=metadata)


def _child_job(task_run: TaskRun, source: Any, key: str) -> Any:
    """A ReconstructableJob for the child: rebuilt from the parent's spec source, else taken from the parent's code location."""
    from dagster._core.definitions.reconstruct import ReconstructableJob

    from lakehouse_jobs.lib.jobs.compile import dagster_job_name, reconstructable_job

    if source is not None and (source.spec is not None or source.path is not None):
        return reconstructable_job(spec=source.spec, path=source.path, job_key=key, definitions=source.definitions)
    parent = task_run.context.get_step_execution_context().job
    if not isinstance(parent, ReconstructableJob):
        raise TaskFailure(
            "run_job_task: this run is not reconstructable (execute_in_process); start it from a code location, lakehouse-jobs run or execute_job"
        )
    return parent.get_reconstructable_repository().get_reconstructable_job(dagster_job_name(key))


TASK_TYPE = TaskType(name="run_job_task", check=check, run=run, description="run another job of the same document as a child run")
