"""Compile job specs into Dagster: one op job per job, plus its schedules and sensors.

Each task is an op; `depends_on` edges carry the upstream tasks' results. The
jobs run on the in-process executor (one shared SparkSession) configured with
`require_upstream_step_success: false`, so a task whose upstream failed still
runs and applies Databricks' run_if (see execution.py). A last op,
`lakehouse_job_result`, computes the job's result state from its leaf tasks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.automation.notifications import compile_notifications
from lakehouse_jobs.lib.jobs.automation.schedules import compile_schedule
from lakehouse_jobs.lib.jobs.automation.triggers import compile_continuous, compile_trigger
from lakehouse_jobs.lib.jobs.concurrency import concurrency_tags
from lakehouse_jobs.lib.jobs.console import compact_console
from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY, JobParameters, execute_task, merge_states, run_start
from lakehouse_jobs.lib.jobs.load import load_spec, load_spec_file
from lakehouse_jobs.lib.jobs.result_states import FAILED, FAILURES, JOB_KEY_TAG, JOB_RESULT_TAG, TIMEDOUT, job_result_state
from lakehouse_jobs.lib.jobs.source_needs import Reading
from lakehouse_jobs.lib.jobs.spec import JobsDocument, JobSpec, TaskSpec
from lakehouse_jobs.lib.jobs.task_run import JobRuntime
from lakehouse_jobs.lib.jobs.tasks import registry

RESULT_OP = "lakehouse_job_result"
STEP_CONFIG = {"step_dependency_config": {"require_upstream_step_success": False}}
EXECUTOR = dg.in_process_executor.configured(STEP_CONFIG, name="lakehouse_jobs_in_process")


def dagster_job_name(job_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", job_key)


def op_names(job: JobSpec) -> dict[str, str]:
    """task_key -> a unique Dagster op name (letters, digits and _ only)."""
    names: dict[str, str] = {}
    used = {RESULT_OP}
    for task in job.tasks:
        base = re.sub(r"[^A-Za-z0-9_]", "_", task.task_key)
        name, n = base, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        names[task.task_key] = name
    return names


def prepare_tasks(job: JobSpec, assets: Sequence[Any]) -> dict[str, Any]:
    """What each task type prepares at compile time (e.g. a pipeline_task's asset selection), by task key.

    Raises SpecError at the task's field path when a task cannot be compiled.
    """
    tasks: list[tuple[str, TaskSpec]] = []
    for index, task in enumerate(job.tasks):
        tasks.append((f"{job.key}.tasks[{index}].{task.kind}", task))
        if task.nested is not None:
            field = registry.get(task.kind).nested_field
            tasks.append((f"{job.key}.tasks[{index}].{task.kind}.{field}.{task.nested.kind}", task.nested))
    prepared: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    for path, task in tasks:
        task_type = registry.get(task.kind)
        if task_type.prepare is not None:
            prepared[task.task_key] = task_type.prepare(task, registry.PrepareContext(path, tuple(assets), cache))
    return prepared


def read_tasks(job: JobSpec) -> dict[str, Reading]:
    """What each task's own code uses that Sail lacks (`TaskType.reading`), by task key; a for-each task
    answers for its nested task. Tasks whose type reads no code are absent (auto keeps them on the JVM)."""
    readings: dict[str, Reading] = {}
    ctx = registry.CheckContext(path=job.key, base_dir=job.base_dir, jobs={job.key: job.raw}, job_key=job.key)
    for task in job.tasks:
        code = task.nested if task.nested is not None else task
        task_type = registry.get(code.kind)
        if task_type.reading is not None:
            readings[task.task_key] = task_type.reading(code, ctx)
    return readings


def engine_tags(reading: Reading | None) -> dict[str, str]:
    """A task node's op tags for LAKEHOUSE_ENGINE=auto: the needs its code shows (none: it fits Sail) and why."""
    if reading is None:
        return {}
    if reading.unread:
        return {lakehouse_tags.ENGINE_USES: reading.reason()}
    return {lakehouse_tags.ENGINE_NEEDS: ",".join(reading.needs), lakehouse_tags.ENGINE_USES: reading.reason()}


def _task_ops(runtime: JobRuntime, job_name: str, tasks_by_node: Mapping[str, TaskSpec]) -> tuple[dg.OpDefinition, dg.OpDefinition]:
    """Two op definitions serve every task of the job (with and without upstream tasks).

    Each task is a node aliased by its name; the node's name picks the task. One
    definition per task would cost Dagster's decorator work 500 times on a
    500-task job (several seconds); aliases of shared definitions cost nothing.
    """

    def run(context: dg.OpExecutionContext, results: Sequence[Any]) -> Iterator[Any]:
        yield from execute_task(context, runtime, tasks_by_node[context.op_handle.name], list(results))

    out = {"result": dg.Out(dg.Any, description="This task's result state and values, and those of its upstream tasks.")}

    @dg.op(name=f"{job_name}__task", out=out, required_resource_keys={PARAMETERS_KEY}, description="A task with no upstream task.")
    def root_task(context):  # noqa: ANN001 - Dagster reads this annotation itself: leave it out
        yield from run(context, [])

    @dg.op(
        name=f"{job_name}__dependent_task",
        ins={"upstream": dg.In(list)},
        out=out,
        required_resource_keys={PARAMETERS_KEY},
        description="A task after its depends_on tasks.",
    )
    def dependent_task(context, upstream: list):  # noqa: ANN001 - see root_task
        yield from run(context, upstream)

    return root_task, dependent_task


def _result_op(job: JobSpec, def_name: str) -> dg.OpDefinition:
    @dg.op(
        name=def_name, ins={"leaves": dg.In(list)}, description="The job's result state, decided by its leaf tasks.",
        tags={lakehouse_tags.ENGINE_NEEDS: ""},  # no Spark: LAKEHOUSE_ENGINE=auto need not keep the run on the JVM for it
    )  # fmt: skip
    def _op(context, leaves: list) -> dict:  # noqa: ANN001 - see root_task
        results = leaves
        states = {key: record["result_state"] for key, record in merge_states(list(results)).items()}
        timed_out = bool(job.timeout_seconds) and time.time() >= run_start(context) + job.timeout_seconds
        result = job_result_state(states, job.leaves, timed_out=timed_out)
        context.instance.add_run_tags(context.run_id, {JOB_RESULT_TAG: result})
        context.add_output_metadata({"result_state": result, "task_states": dg.MetadataValue.json(states)})
        if result in (FAILED, TIMEDOUT):
            failed = ", ".join(f"{key}={state}" for key, state in states.items() if key in job.leaves and state in FAILURES)
            raise dg.Failure(description=f"job {job.name!r} {result}: {failed}", metadata={"result_state": result}, allow_retries=False)
        return {"result_state": result, "tasks": states}

    return _op


def _job_tags(job: JobSpec) -> dict[str, str]:
    tags = {**job.tags, JOB_KEY_TAG: job.key}
    if job.timeout_seconds:
        tags["dagster/max_runtime"] = str(job.timeout_seconds)  # the run monitor also stops a stuck run
    tags.update(concurrency_tags(job.raw, job_key=job.key))
    return tags


def compile_job(
    job: JobSpec,
    *,
    assets: Sequence[Any] = (),
    resources: Mapping[str, Any] | None = None,
    executor_def: dg.ExecutorDefinition | None = None,
    document: JobsDocument | None = None,
) -> dg.JobDefinition:
    """The Dagster job for one job spec (schedules and sensors: see `build_definitions`).

    `document`: the jobs declared with it (a run_job_task runs one of them as a child run).
    """
    names = op_names(job)
    name = dagster_job_name(job.key)
    readings = read_tasks(job)
    runtime = JobRuntime(job, tuple(assets), resources, prepare_tasks(job, assets), document, readings)
    root_task, dependent_task = _task_ops(runtime, name, {names[t.task_key]: t for t in job.tasks})
    result_op = _result_op(job, f"{name}__{RESULT_OP}")
    deps: dict[dg.NodeInvocation, dict[str, Any]] = {}
    for task in job.tasks:
        node_tags = {lakehouse_tags.TASK_KEY: task.task_key, lakehouse_tags.TASK_TYPE: task.kind, **engine_tags(readings.get(task.task_key))}
        upstream = [dg.DependencyDefinition(names[d.task_key], "result") for d in task.depends_on]
        op = dependent_task if upstream else root_task
        deps[dg.NodeInvocation(op.name, alias=names[task.task_key], tags=node_tags)] = {"upstream": dg.MultiDependencyDefinition(upstream)} if upstream else {}
    deps[dg.NodeInvocation(result_op.name, alias=RESULT_OP)] = {
        "leaves": dg.MultiDependencyDefinition([dg.DependencyDefinition(names[leaf], "result") for leaf in job.leaves])
    }
    used = {invocation.name for invocation in deps}
    node_defs = [op for op in (root_task, dependent_task, result_op) if op.name in used]
    graph = dg.GraphDefinition(name=name, node_defs=node_defs, dependencies=deps, description=job.description)
    return graph.to_job(
        name=name,
        description=job.description or f"Lakeflow job {job.name!r} ({len(job.tasks)} tasks)",
        resource_defs={PARAMETERS_KEY: JobParameters()},
        logger_defs={"console": compact_console},
        executor_def=executor_def or EXECUTOR,
        tags=_job_tags(job),
        metadata={
            lakehouse_tags.JOB_NAME_METADATA: job.name,
            lakehouse_tags.PARAMETERS_METADATA: dg.MetadataValue.json(job.parameters),
            lakehouse_tags.TASKS_METADATA: dg.MetadataValue.json({t.task_key: names[t.task_key] for t in job.tasks}),
        },
    )


def _automation(job: JobSpec, job_name: str, lakehouse_root: str) -> tuple[list[Any], list[Any]]:
    """Schedules and sensors for a job's schedule/trigger/continuous/notifications."""
    raw, schedules, sensors = job.raw, [], []
    try:
        if "schedule" in raw:
            schedules.append(compile_schedule(job_name, raw["schedule"], job_key=job.key, job=raw))
        if "trigger" in raw:
            sensors.append(compile_trigger(job_name, raw["trigger"], job_key=job.key, lakehouse_root=lakehouse_root, job=raw))
        if "continuous" in raw:
            sensors.append(compile_continuous(job_name, raw["continuous"], job_key=job.key, job=raw))
        if any(k in raw for k in ("email_notifications", "webhook_notifications", "health")):
            sensors.extend(compile_notifications(job_name, raw, job_key=job.key))
    except SpecError as exc:  # name the job in the path, as validate does
        raise SpecError(f"{job.key}.{exc.path}", exc.message) from None
    return schedules, sensors


def build_definitions(
    document: JobsDocument, *, assets: Sequence[Any] = (), resources: Mapping[str, Any] | None = None, executor_def: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """Jobs, schedules and sensors for every job of the document (assets included when given)."""
    from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource, default_root

    lakehouse = (resources or {}).get("lakehouse")
    root = lakehouse.root if isinstance(lakehouse, LakehouseResource) else default_root()
    jobs, schedules, sensors = [], [], []
    for job in document.jobs.values():
        compiled = compile_job(job, assets=assets, resources=resources, executor_def=executor_def, document=document)
        jobs.append(compiled)
        more_schedules, more_sensors = _automation(job, compiled.name, root)
        schedules += more_schedules
        sensors += more_sensors
    return dg.Definitions(assets=list(assets), jobs=jobs, schedules=schedules, sensors=sensors, resources=dict(resources or {}))


def _definitions_parts(definitions: str | None) -> tuple[Sequence[Any], Mapping[str, Any] | None]:
    """Assets and resources of a Definitions object named 'package.module:attr' (attr defaults to defs)."""
    if not definitions:
        return (), None
    import importlib

    module, _, attr = definitions.partition(":")
    defs = getattr(importlib.import_module(module), attr or "defs")
    return [*(defs.assets or ()), *(defs.asset_checks or ())], dict(defs.resources or {})


def job_from_source(
    spec: Mapping[str, Any] | None = None, path: str | None = None, job_key: str | None = None, definitions: str | None = None
) -> dg.JobDefinition:
    """Rebuild a compiled job from a spec dict or file: the reconstructor for `execute_job` and repair."""
    document = load_spec(spec, "<dict>") if spec is not None else load_spec_file(path)
    assets, resources = _definitions_parts(definitions)
    job = document.job(job_key)
    return compile_job(job, assets=assets, resources=resources, document=document)


def reconstructable_job(
    spec: Mapping[str, Any] | None = None, path: str | None = None, job_key: str | None = None, definitions: str | None = None
) -> dg.ReconstructableJob:
    """A ReconstructableJob (needed by dg.execute_job and re-execution) for a spec dict or file."""
    kwargs = {"spec": dict(spec) if spec is not None else None, "path": str(path) if path else None, "job_key": job_key, "definitions": definitions}
    return dg.build_reconstructable_job(__name__, job_from_source.__name__, reconstructable_kwargs=kwargs)
