"""`lakehouse-jobs validate | list | run | repair`: job specs from the command line.

Every user mistake is one readable message (for specs: one line per problem,
`path.to.field: message`), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs.load import SpecValidationError, read_spec_file
from lakehouse_jobs.lib.jobs.result_states import JOB_RESULT_TAG, SUCCESS, task_tag
from lakehouse_jobs.lib.jobs.validate import validate_document

if TYPE_CHECKING:
    import dagster as dg


def nearest_pyproject(start: Path | None = None) -> Path | None:
    """The pyproject.toml of the project `start` (default: the current directory) is in: the nearest one upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
    return None


def pyproject_tool(name: str, start: Path | None = None) -> tuple[Path | None, dict]:
    """The nearest pyproject.toml (see nearest_pyproject) and its `[tool.<name>]` table; (None, {}) outside a project."""
    path = nearest_pyproject(start)
    if path is None:
        return None, {}
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get(name, {})
    except tomllib.TOMLDecodeError as exc:
        raise LakehouseError(f"{path}: not valid TOML ({exc})") from None
    if not isinstance(table, dict):
        raise LakehouseError(f"{path}: [tool.{name}] must be a table")
    return path, table


def project_definitions(start: Path | None = None) -> str | None:
    """'module:defs' from `[tool.dagster] module_name` of the nearest pyproject.toml (as `dg` and `dagster dev` read it), else None."""
    module = pyproject_tool("dagster", start)[1].get("module_name")
    return f"{module}:defs" if isinstance(module, str) and module else None


def _asset_definitions(job) -> str:  # noqa: ANN001 - JobSpec
    """The Definitions whose assets the job's pipeline tasks select, when --definitions is not given."""
    found = project_definitions()
    if found is None:
        raise LakehouseError(
            f"job {job.key} has pipeline tasks, which need the Definitions holding their assets: pass --definitions module:attr, "
            "or run it inside a project whose pyproject.toml sets [tool.dagster] module_name"
        )
    return found


def _validate(args: argparse.Namespace) -> int:
    try:
        problems = validate_document(read_spec_file(args.file), Path(args.file).resolve().parent)
    except SpecValidationError as exc:
        problems = exc.problems
    if problems:
        for path, message in problems:
            print(f"{path}: {message}" if path else message, file=sys.stderr)
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def _list(args: argparse.Namespace) -> int:
    from lakehouse_jobs.lib.jobs.load import load_spec_file

    document = load_spec_file(args.file)
    for key, job in document.jobs.items():
        start = next((name for name in ("schedule", "trigger", "continuous") if name in job.raw), "manual")
        print(f"{key}: {job.name!r}, {len(job.tasks)} task(s), started by {start}")
        for task in job.tasks:
            deps = ", ".join(d.task_key + (f"({d.outcome})" if d.outcome else "") for d in task.depends_on)
            print(f"  {task.task_key:<30} {task.kind:<22} {('after ' + deps) if deps else ''}{'  [disabled]' if task.disabled else ''}")
    return 0


def instance() -> dg.DagsterInstance:
    """The Dagster instance: $DAGSTER_HOME, else ./.dagster_home seeded from ./dagster.yaml."""
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        home = Path.cwd() / ".dagster_home"
        home.mkdir(exist_ok=True)
        if not (home / "dagster.yaml").exists() and Path("dagster.yaml").is_file():
            shutil.copy("dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def print_run(inst: dg.DagsterInstance, run_id: str, task_keys: list[str]) -> int:
    run = inst.get_run_by_id(run_id)
    width = max([len(k) for k in task_keys] + [8])
    for key in task_keys:
        print(f"{key:<{width}}  {run.tags.get(task_tag(key), 'NOT_RUN')}")
    result = run.tags.get(JOB_RESULT_TAG, run.status.value)
    print(f"{'job':<{width}}  {result}  (run {run_id}, Dagster status {run.status.value})")
    return 0 if result == SUCCESS else 1


def _parse_params(pairs: list[str], declared: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LakehouseError(f"--param expects name=value, got {pair!r}")
        if name not in declared:
            raise LakehouseError(f"--param {name}: the job declares no such parameter (it has: {', '.join(declared) or 'none'})")
        values[name] = value
    return values


def _admit(inst, job) -> str | None:  # noqa: ANN001 - DagsterInstance, JobSpec
    """Apply max_concurrent_runs to a run started from the CLI, as Databricks' "run now" does.

    Queue disabled and the limit reached: the reason to skip. Queue enabled: wait (polling)
    until a slot frees up, then None.
    """
    import time

    from lakehouse_jobs.lib.jobs.compile import dagster_job_name
    from lakehouse_jobs.lib.jobs.concurrency import ACTIVE_STATUSES, RunsFilter, compile_concurrency

    name = dagster_job_name(job.key)
    policy = compile_concurrency(name, job.raw, job_key=job.key)
    reason = policy.skip_reason(inst, name)
    if reason or not policy.queue_enabled:
        return reason
    announced = False
    while len(inst.get_runs(RunsFilter(job_name=name, statuses=ACTIVE_STATUSES))) >= policy.max_concurrent_runs:
        if not announced:
            print(f"{job.key}: queued, max_concurrent_runs={policy.max_concurrent_runs} reached; waiting for a run to finish", flush=True)
            announced = True
        time.sleep(2)
    return None


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from lakehouse_jobs.lib.jobs.compile import reconstructable_job
    from lakehouse_jobs.lib.jobs.execution import PARAMETERS_KEY
    from lakehouse_jobs.lib.jobs.load import load_spec_file

    document = load_spec_file(args.file)
    job = document.job(args.job)
    params = _parse_params(args.param or [], job.parameters)
    uses_assets = any(t.kind == "pipeline_task" or (t.nested and t.nested.kind == "pipeline_task") for t in job.tasks)
    definitions = args.definitions or (_asset_definitions(job) if uses_assets else None)
    recon = reconstructable_job(path=str(Path(args.file).resolve()), job_key=job.key, definitions=definitions)
    inst = instance()
    skipped = _admit(inst, job)
    if skipped:
        print(f"job  SKIPPED  ({skipped})")
        return 1
    run_config = {
        "resources": {PARAMETERS_KEY: {"config": {"values": params}}},
        "loggers": {"console": {"config": {"log_level": "DEBUG" if args.verbose else "INFO"}}},
    }
    with dg.execute_job(recon, inst, run_config=run_config, tags={lakehouse_tags.TRIGGER_TYPE: "manual"}, raise_on_error=False) as result:
        return print_run(inst, result.run_id, [t.task_key for t in job.tasks])


def _repair(args: argparse.Namespace) -> int:
    from lakehouse_jobs.lib.jobs.repair import repair_run

    inst = instance()
    plan, run_id = repair_run(inst, args.run_id)
    print(f"repairing {args.run_id}: re-running {', '.join(plan.rerun)} and their dependents")
    return print_run(inst, run_id, list(plan.tasks))


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the job subcommands on the `lakehouse-jobs` parser."""
    validate = commands.add_parser("validate", help="check a job spec file; print every problem as path: message")
    validate.add_argument("file")
    validate.set_defaults(func=_validate)

    listing = commands.add_parser("list", help="list the jobs and tasks of a job spec file")
    listing.add_argument("file")
    listing.set_defaults(func=_list)

    run = commands.add_parser("run", help="run a job of a spec file on the Dagster instance; print each task's result state")
    run.add_argument("file")
    run.add_argument("--job", help="job key (required when the file declares several jobs)")
    run.add_argument("--param", action="append", metavar="NAME=VALUE", help="job parameter value for this run (repeatable)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's debug events (step starts, outputs...) too")
    run.add_argument(
        "--definitions",
        help="module:attr of the Definitions whose assets pipeline tasks select (default: [tool.dagster] module_name of the nearest pyproject.toml, attribute defs)",
    )
    run.set_defaults(func=_run)

    repair = commands.add_parser("repair", help="re-run the failed tasks of a run and their dependents, reusing the rest")
    repair.add_argument("run_id")
    repair.set_defaults(func=_repair)
