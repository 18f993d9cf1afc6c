"""`lakehouse-jobs validate | list | run | repair`: job specs and Databricks Asset Bundles from the command line.

Every user mistake is one readable message (for specs: one line per problem,
`path.to.field: message`; for bundles `file: path.to.field: message`), never a traceback.
A bundle is given by its folder or root file, with `--target` and repeatable `--var name=value`
as in `databricks bundle`; `validate` also compiles the jobs (as loading the code location does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_jobs.lib import tags as lakehouse_tags
from lakehouse_jobs.lib.environ import environment
from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.jobs.load import SpecValidationError, is_bundle, load_spec_file, read_spec_file
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


def _variables(pairs: list[str] | None) -> dict[str, str]:
    """`--var name=value` pairs (databricks bundle's flag) as a mapping."""
    values: dict[str, str] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise LakehouseError(f"--var expects name=value, got {pair!r}")
        values[name.strip()] = value
    return values


def _load(args: argparse.Namespace):
    return load_spec_file(args.file, getattr(args, "target", None), _variables(getattr(args, "var", None)))


def _print_warnings(args: argparse.Namespace) -> None:
    """What the bundle declares that has no effect (unknown fields), as the Databricks CLI warns about it."""
    from lakehouse_jobs.lib.bundles.bundle import load_bundle

    for where, message in load_bundle(args.file, args.target, _variables(args.var)).warnings:
        print(f"warning: {where}: {message}", file=sys.stderr)


def _print_problems(file: str, problems: list[tuple[str, str]]) -> int:
    for path, message in problems:
        print(f"{path}: {message}" if path else message, file=sys.stderr)
    print(f"{file}: {len(problems)} problem(s)", file=sys.stderr)
    return 1


def _validate(args: argparse.Namespace) -> int:
    bundle = is_bundle(args.file)
    if not bundle and (args.target or args.var):
        raise LakehouseError(f"{args.file}: --target and --var apply to bundles (a folder holding databricks.yml, or that file)")
    try:
        if bundle:
            document = _load(args)
            shape = "bundle"
            _print_warnings(args)
        else:
            raw = read_spec_file(args.file)
            problems = validate_document(raw, Path(args.file).resolve().parent)
            if problems:
                return _print_problems(args.file, problems)
            from lakehouse_jobs.lib.jobs.spec import job_entries

            shape = job_entries(raw)[0]
            document = load_spec_file(args.file)
    except SpecValidationError as exc:
        return _print_problems(args.file, exc.problems)
    problems = _compile_problems(document, args, shape)
    if problems:
        return _print_problems(args.file, problems)
    print(f"{args.file}: OK")
    return 0


def _compile_problems(document, args: argparse.Namespace, shape: str) -> list[tuple[str, str]]:  # noqa: ANN001 - JobsDocument
    """What compiling the jobs (as the code location does) refuses: trigger paths, asset selections... one problem per job."""
    from lakehouse_jobs.lib.jobs.compile import _definitions_parts, build_definitions
    from lakehouse_jobs.lib.jobs.spec import JobsDocument

    def uses_assets(job) -> bool:  # noqa: ANN001 - JobSpec
        return any(t.kind == "pipeline_task" or (t.nested and t.nested.kind == "pipeline_task") for t in job.tasks)

    jobs = dict(document.jobs)
    definitions = args.definitions or (project_definitions() if any(map(uses_assets, jobs.values())) else None)
    try:
        assets, resources = _definitions_parts(definitions)
    except (ImportError, AttributeError) as exc:
        raise LakehouseError(f"--definitions {definitions}: cannot load it ({exc})") from None
    if definitions is None:
        unchecked = [key for key, job in jobs.items() if uses_assets(job)]
        if unchecked:
            print(
                f"note: not compiled, their pipeline tasks need the Definitions holding their assets (--definitions module:attr): {', '.join(unchecked)}",
                file=sys.stderr,
            )
        jobs = {key: job for key, job in jobs.items() if key not in unchecked}
    problems: list[tuple[str, str]] = []
    while jobs:
        try:
            build_definitions(JobsDocument(jobs, document.source), assets=assets, resources=resources)
            break
        except SpecError as exc:
            key = next((k for k in jobs if exc.path == k or exc.path.startswith((f"{k}.", f"{k}["))), None)
            if key is None:
                problems.append((exc.path, exc.message))
                break
            problems.append((_field(args, key, exc.path[len(key) :].lstrip("."), shape), exc.message))
            del jobs[key]
    return problems


def _field(args: argparse.Namespace, key: str, rest: str, shape: str) -> str:
    """The path of a job's field as validate writes it (for a bundle, after the file that declared it)."""
    if shape != "bundle":
        return rest
    field = f"resources.jobs.{key}" + (f".{rest}" if rest and not rest.startswith("[") else rest)
    if not is_bundle(args.file):
        return field
    from lakehouse_jobs.lib.bundles.bundle import load_bundle
    from lakehouse_jobs.lib.bundles.problems import shown

    bundle = load_bundle(args.file, args.target, _variables(args.var))
    return f"{shown(bundle.file_of(field))}: {field}"


def _list(args: argparse.Namespace) -> int:
    document = _load(args)
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

    document = _load(args)
    job = document.job(args.job)
    if is_bundle(args.file):  # what `databricks bundle deploy` would create: the bundle's schemas and volumes
        from lakehouse_jobs.lib.bundles.bundle import load_bundle
        from lakehouse_jobs.lib.bundles.storage import create_storage

        create_storage(load_bundle(args.file, args.target, _variables(args.var)).config)
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
    run_tags = {lakehouse_tags.TRIGGER_TYPE: "manual", **_bundle_tags(args)}
    with _bundle_environment(run_tags), dg.execute_job(recon, inst, run_config=run_config, tags=run_tags, raise_on_error=False) as result:
        return print_run(inst, result.run_id, [t.task_key for t in job.tasks])


# The bundle choices of a run, so a repair rebuilds the same jobs (tags.py should own these names).
BUNDLE_TARGET_TAG = lakehouse_tags.BUNDLE_TARGET
BUNDLE_VARIABLES_TAG = lakehouse_tags.BUNDLE_VARIABLES


def _bundle_tags(args: argparse.Namespace) -> dict[str, str]:
    """The target and variables a bundle run was started with (--target/--var over DATABRICKS_BUNDLE_TARGET/BUNDLE_VAR_*)."""
    if not is_bundle(args.file):
        return {}
    from lakehouse_jobs.lib.bundles.bundle import requested_target
    from lakehouse_jobs.lib.bundles.variables import ENV_PREFIX

    variables = {name.removeprefix(ENV_PREFIX): value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    variables.update(_variables(args.var))
    target = requested_target(args.target)
    return {**({BUNDLE_TARGET_TAG: target} if target else {}), **({BUNDLE_VARIABLES_TAG: json.dumps(variables, sort_keys=True)} if variables else {})}


@contextlib.contextmanager
def _bundle_environment(run_tags: dict[str, str]) -> Iterator[None]:
    """A bundle run's target and variables as DATABRICKS_BUNDLE_TARGET / BUNDLE_VAR_<name> while a run rebuilds its job from the bundle path.

    Those are the variables the Databricks CLI reads; --var keeps its precedence over the environment
    because its values replace the environment's for the run.
    """
    from lakehouse_jobs.lib.bundles.bundle import TARGET_ENV
    from lakehouse_jobs.lib.bundles.variables import ENV_PREFIX

    wanted = {ENV_PREFIX + name: str(value) for name, value in json.loads(run_tags.get(BUNDLE_VARIABLES_TAG) or "{}").items()}
    if run_tags.get(BUNDLE_TARGET_TAG):
        wanted[TARGET_ENV[0]] = run_tags[BUNDLE_TARGET_TAG]
    with environment(wanted):
        yield


def _build(args: argparse.Namespace) -> int:
    from lakehouse_jobs.lib.bundles.artifacts import build_artifacts
    from lakehouse_jobs.lib.bundles.bundle import load_bundle
    from lakehouse_jobs.lib.bundles.problems import BundleError

    if not is_bundle(args.file):
        raise LakehouseError(f"{args.file}: build applies to a bundle (a folder holding databricks.yml, or that file)")
    try:
        bundle = load_bundle(args.file, args.target, _variables(args.var))
        built = build_artifacts(bundle, args.artifact)
    except BundleError as exc:
        return _print_problems(args.file, exc.problems)
    for name, files in built.items():
        print(f"{name}: {', '.join(str(f) for f in files)}")
    if not built:
        print(f"{args.file}: no artifacts to build")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from lakehouse_jobs.lib.jobs.repair import repair_run

    inst = instance()
    parent = inst.get_run_by_id(args.run_id)
    with _bundle_environment(dict(parent.tags) if parent else {}):
        plan, run_id = repair_run(inst, args.run_id)
    print(f"repairing {args.run_id}: re-running {', '.join(plan.rerun)} and their dependents")
    return print_run(inst, run_id, list(plan.tasks))


FILE_HELP = "a job spec file (YAML/JSON), or a bundle: its folder or its databricks.yml"


def _bundle_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--target", help="bundle target (default: the target marked default: true, or the only one; $DATABRICKS_BUNDLE_TARGET)")
    parser.add_argument("--var", action="append", metavar="NAME=VALUE", help="bundle variable value (repeatable; wins over $BUNDLE_VAR_<name>)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the job subcommands on the `lakehouse-jobs` parser."""
    validate = commands.add_parser("validate", help="check a job spec file or a bundle and compile its jobs; print every problem as path: message")
    validate.add_argument("file", help=FILE_HELP)
    _bundle_flags(validate)
    validate.add_argument(
        "--definitions", help="module:attr of the Definitions whose assets pipeline tasks select (default: the project's, when a job has pipeline tasks)"
    )
    validate.set_defaults(func=_validate)

    listing = commands.add_parser("list", help="list the jobs and tasks of a job spec file or a bundle")
    listing.add_argument("file", help=FILE_HELP)
    _bundle_flags(listing)
    listing.set_defaults(func=_list)

    run = commands.add_parser("run", help="run a job of a spec file or a bundle on the Dagster instance; print each task's result state")
    run.add_argument("file", help=FILE_HELP)
    _bundle_flags(run)
    run.add_argument("--job", help="job key (required when the file declares several jobs)")
    run.add_argument("--param", action="append", metavar="NAME=VALUE", help="job parameter value for this run (repeatable)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's debug events (step starts, outputs...) too")
    run.add_argument(
        "--definitions",
        help="module:attr of the Definitions whose assets pipeline tasks select (default: [tool.dagster] module_name of the nearest pyproject.toml, attribute defs)",
    )
    run.set_defaults(func=_run)

    build = commands.add_parser("build", help="build the artifacts (wheels, jars) a bundle declares, as `databricks bundle deploy` would")
    build.add_argument("file", help="a bundle: its folder or its databricks.yml")
    _bundle_flags(build)
    build.add_argument("--artifact", action="append", help="only this artifact (repeatable; default: all)")
    build.set_defaults(func=_build)

    repair = commands.add_parser("repair", help="re-run the failed tasks of a run and their dependents, reusing the rest")
    repair.add_argument("run_id")
    repair.set_defaults(func=_repair)
