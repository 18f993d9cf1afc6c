"""`dbt_task`: run a dbt project's commands, in order, in this process on the run's SparkSession.

Fields (Databricks' names): `commands` (1 to 10 strings, each starting with `dbt `; `{{...}}`
references resolved at run time), `project_directory` (the folder holding `dbt_project.yml`, relative
to the job file's folder; `/Workspace/...` under the workspace root as for notebooks),
`profiles_directory` (the folder holding `profiles.yml`, relative to the job file's folder too;
default: the project directory; not with `warehouse_id`), `warehouse_id`,
`catalog`, `schema`, `source` (WORKSPACE, or GIT - the default when the job declares git_source: the
project comes from its checkout at the run's commit, `project_directory` and `profiles_directory`
relative to the repository root, the root itself when unset; lib/git_source.py).

Each command runs through lib/integrations/dbt.py's in-process runner (dbtRunner in a worker thread,
dbt-spark's `session` method, no second JVM), with the project's sources and layer models registered
in Spark's catalog over the lakehouse's Delta tables first. Models, seeds and snapshots built become
AssetMaterializations, dbt tests AssetCheckEvaluations, under the LakehouseDbtTranslator keys
(`gold/customer_360`), logged from the task's step. A failing command fails the task with dbt's first
error line; the commands after it do not run.

With `warehouse_id`, Databricks generates the profile (target on the SQL warehouse, `catalog`,
`schema` default `default`). Here the SQL runs on the run's session whatever the warehouse: with
`warehouse_id` a profile is generated too (dbt-spark `session` method, `schema`), without it the
project's own profiles.yml is used, as on Databricks. `catalog` is recorded and ignored: Spark's
session catalog is the only one.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lakehouse_jobs.lib import git_source, workspace
from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs import fields, source_needs
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.source_needs import Reading
from lakehouse_jobs.lib.jobs.task_run import TaskFailure, TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType
from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout

if TYPE_CHECKING:
    from lakehouse_jobs.lib.jobs.spec import TaskSpec

FIELDS = ("commands", "project_directory", "profiles_directory", "catalog", "schema", "warehouse_id", "source")
MAX_COMMANDS = 10
NO_MANIFEST = ("deps", "clean", "debug", "init")  # subcommands that neither need nor may parse the project first
OWNED_FLAGS = ("--project-dir", "--profiles-dir", "--target-path", "--log-path")
PACKAGE_FILES = ("packages.yml", "dependencies.yml")
GENERATED_TARGET = "lakehouse_jobs"


def project_directory(path: str, base_dir: Path | None, root: Path | None = None) -> Path:
    """The dbt project folder `path` names (ValueError with one sentence naming the path tried); `root`: a git_source checkout."""
    try:
        folder = workspace.find(path, base_dir, "dbt project", folder=True, root=root)
    except workspace.WorkspacePathError as exc:
        if "not found" not in str(exc):
            raise
        folder = None
    if folder is None or not (folder / "dbt_project.yml").is_file():
        tried = (folder or workspace.target(path, base_dir, root or workspace.workspace_root(base_dir), "dbt project")[0]) / "dbt_project.yml"
        raise ValueError(f"no dbt project at {path!r} (tried {tried})")
    return folder


def profiles_directory(path: str | None, project: Path, base_dir: Path | None) -> Path:
    """The profiles folder: `path` relative to the job file's folder (like project_directory), else the project."""
    target = (Path(base_dir or Path.cwd()) / path).resolve() if path else project
    if not (target / "profiles.yml").is_file():
        where = f"profiles_directory {path!r}" if path else "the project directory (profiles_directory unset)"
        raise ValueError(f"no profiles.yml in {where} (tried {target / 'profiles.yml'})")
    return target


def split_command(command: str) -> list[str]:
    """`dbt run --select x` -> ["run", "--select", "x"] (ValueError naming what is wrong)."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"cannot split {command!r}: {exc}") from None
    if len(words) < 2 or words[0] != "dbt":
        raise ValueError(f"a dbt command starts with 'dbt ' and names a subcommand (Databricks' rule), got {command!r}")
    for word in words[1:]:
        if word.split("=")[0] in OWNED_FLAGS:
            raise ValueError(f"{word.split('=')[0]} is set by the task (project_directory, profiles_directory, the run's artifact folder), not in a command")
    return words[1:]


def network_packages(project: Path) -> list[str]:
    """Packages of packages.yml/dependencies.yml that `dbt deps` would download (all but `local:` ones)."""
    found = []
    for name in PACKAGE_FILES:
        file = project / name
        if not file.is_file():
            continue
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError) as exc:
            raise ValueError(f"{file}: not readable YAML ({exc})") from None
        for entry in data.get("packages") or [] if isinstance(data, Mapping) else []:
            if isinstance(entry, Mapping) and "local" not in entry:
                found.append(f"{name}: {entry.get('package') or entry.get('git') or entry.get('tarball') or entry.get('private') or entry}")
    return found


def _deps_refusal(project: Path) -> str | None:
    remote = network_packages(project)
    if not remote:
        return None
    return (
        f"dbt deps would download {', '.join(remote)}, and this runner does not fetch packages over the network; "
        "install them into the project's dbt_packages beforehand (or list them as `local:` packages) and drop `dbt deps`"
    )


def _git_source(ctx_jobs: Mapping[str, Any] | None, job_key: str | None, raw: Mapping[str, Any] | None = None) -> bool:
    job = raw if raw is not None else (ctx_jobs or {}).get(job_key or "")
    return isinstance(job, Mapping) and bool(job.get("git_source"))


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{commands, project_directory, profiles_directory, warehouse_id, catalog, schema, source}"):
        return problems
    fields.unknown(problems, body, ctx.path, FIELDS)
    for name in ("project_directory", "profiles_directory", "catalog", "schema", "warehouse_id"):
        fields.string(problems, body, name, ctx.path)
    fields.one_of(problems, body, "source", ctx.path, ("WORKSPACE", "GIT"))
    source = body.get("source") or ("GIT" if _git_source(ctx.jobs, ctx.job_key) else "WORKSPACE")
    if source == "GIT" and ctx.jobs is not None and not _git_source(ctx.jobs, ctx.job_key):
        problems.append((ctx.at("source"), "source GIT reads the dbt project from the job's git_source, which this job does not declare"))
    elif source == "GIT":  # the project exists at run time, in the checkout; its paths are relative to the repository root
        for name in ("project_directory", "profiles_directory"):
            if isinstance(body.get(name), str) and (problem := workspace.repository_path_problem(body[name], name)):
                problems.append((ctx.at(name), problem))
    if body.get("warehouse_id") and body.get("profiles_directory"):
        problems.append(
            (ctx.at("profiles_directory"), "profiles_directory cannot be set with warehouse_id (Databricks generates the profile for the warehouse)")
        )
    if body.get("catalog") and not body.get("warehouse_id"):
        problems.append((ctx.at("catalog"), "catalog can only be set with warehouse_id (Databricks' rule)"))
    schema = body.get("schema")
    if isinstance(schema, str) and schema.strip() and not schema.replace("_", "a").isalnum():
        problems.append((ctx.at("schema"), f"expected a schema name (letters, digits and _), got {schema!r}"))
    project = None
    path = body.get("project_directory")
    if source != "GIT" and not (isinstance(path, str) and path.strip()):
        problems.append((ctx.at("project_directory"), "missing: the folder holding dbt_project.yml"))
    elif isinstance(path, str) and "{{" not in path and source != "GIT":
        try:
            project = project_directory(path.strip(), ctx.base_dir)
            if not body.get("warehouse_id"):
                profiles_directory(body.get("profiles_directory"), project, ctx.base_dir)
        except ValueError as exc:
            field = "profiles_directory" if project is not None else "project_directory"
            problems.append((ctx.at(field), str(exc)))
    commands = body.get("commands")
    if not isinstance(commands, list) or not commands:
        problems.append((ctx.at("commands"), "expected a non-empty list of dbt commands, e.g. ['dbt run', 'dbt test']"))
        return problems
    if len(commands) > MAX_COMMANDS:
        problems.append((ctx.at("commands"), f"at most {MAX_COMMANDS} commands (Databricks' limit), got {len(commands)}"))
    for index, command in enumerate(commands):
        where = ctx.at("commands") + f"[{index}]"
        if not isinstance(command, str):
            problems.append((where, f"expected a string starting with 'dbt ', got {command!r}"))
            continue
        try:
            words = split_command(command)
        except ValueError as exc:
            problems.append((where, str(exc)))
            continue
        if words[0] == "deps" and project is not None:
            try:
                refusal = _deps_refusal(project)
            except ValueError as exc:
                refusal = str(exc)
            if refusal:
                problems.append((where, refusal))
    return problems


def generated_profile(project: Path, folder: Path, schema: str) -> Path:
    """Databricks' generated profile, locally: the project's profile name, dbt-spark's `session` method, `schema`."""
    try:
        config = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, OSError) as exc:
        raise TaskFailure(f"{project / 'dbt_project.yml'}: not readable YAML ({exc})") from None
    name = str(config.get("profile") or "default")
    output = {"type": "spark", "method": "session", "host": "local", "schema": schema, "threads": 1}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(yaml.safe_dump({name: {"target": GENERATED_TARGET, "outputs": {GENERATED_TARGET: output}}}), encoding="utf-8")
    return folder


def _with_vars(words: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The command without its `--vars` (merged with the lakehouse root by the runner) and those vars."""
    rest, variables = [], {}
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--vars" or word.startswith("--vars="):
            text = word.split("=", 1)[1] if "=" in word else (words[index + 1] if index + 1 < len(words) else "")
            index += 1 if "=" in word else 2
            try:
                loaded = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise TaskFailure(f"--vars {text!r} is not YAML ({exc})") from None
            if not isinstance(loaded, Mapping):
                raise TaskFailure(f"--vars {text!r} is not a mapping")
            variables.update(loaded)
            continue
        rest.append(word)
        index += 1
    return rest, variables


def run(task_run: TaskRun) -> TaskOutcome:
    from lakehouse_jobs.lib.integrations import dbt

    body = task_run.body
    log = task_run.context.log
    spec = task_run.runtime.spec
    folder, root = task_run.job_folder(), None
    if (body.get("source") or ("GIT" if getattr(spec, "raw", {}).get("git_source") else "WORKSPACE")) == "GIT":
        folder = root = git_source.run_checkout(task_run, TaskFailure)
        for name in ("project_directory", "profiles_directory"):
            if isinstance(body.get(name), str) and (problem := workspace.repository_path_problem(body[name], name)):
                raise TaskFailure(f"dbt_task: {problem}")
    try:
        project = project_directory(str(task_run.resolve(body.get("project_directory") or ".")).strip(), folder, root)
        commands = [split_command(str(task_run.resolve(c))) for c in body["commands"]]
    except ValueError as exc:
        raise TaskFailure(f"dbt_task: {exc}") from None
    lakehouse, spark = task_run.lakehouse(), task_run.spark()
    run_id = task_run.context.run_id.replace("-", "_")
    target = dbt.run_folder(lakehouse, f"task_{run_id}_{task_run.task.task_key}", project)
    if body.get("warehouse_id"):
        schema = str(body.get("schema") or "default")
        profiles = generated_profile(project, target / "profiles", schema)
        log.info(f"dbt_task: warehouse_id {body['warehouse_id']} ignored, the SQL runs on the run's SparkSession; generated profile: schema {schema}")
        if body.get("catalog"):
            log.info(f"dbt_task: catalog {body['catalog']!r} ignored: Spark's session catalog is the only one")
    else:
        try:
            profiles = profiles_directory(task_run.resolve(body.get("profiles_directory")), project, folder)
        except ValueError as exc:
            raise TaskFailure(f"dbt_task: {exc}") from None
        if body.get("schema"):
            log.warning("dbt_task: schema is used with warehouse_id only (Databricks' rule); the project's profile decides")
    counts = {"models": 0, "tests": 0, "tests_failed": 0}
    manifests: dict[str, dict[str, Any]] = {}  # by --vars (they can enable or disable models)

    def execute() -> None:
        for words in commands:
            command = "dbt " + shlex.join(words)
            if words[0] == "deps" and (refusal := _deps_refusal(project)):
                raise TaskFailure(f"{command}: {refusal}")
            words, user_vars = _with_vars(words)
            args = [words[0], *dbt.common_args(project, profiles, target, lakehouse, user_vars), *words[1:]]
            manifest = None
            if words[0] not in NO_MANIFEST:
                key = json.dumps(user_vars, sort_keys=True, default=str)
                if key not in manifests:
                    manifests[key] = _parse(dbt, spark, lakehouse, project, profiles, target, user_vars)
                manifest = manifests[key]
            log.info(f"dbt_task: {command}")
            try:
                for raw in dbt.run_dbt(spark, args, target / "dbt.log"):
                    _forward(raw, log)
                    for event in dbt.dagster_events(raw, manifest) if manifest else ():
                        _count(event, counts)
                        task_run.context.log_event(event)
            except dbt.DbtCommandFailed as exc:
                raise TaskFailure(f"{command} failed: {exc.first_line}") from None

    call_with_timeout(execute, task_run.timeout, label=task_run.task.task_key)
    metadata = {"project_directory": str(project), "profiles_directory": str(profiles), "dbt_artifacts": str(target), "commands": len(commands), **counts}
    return TaskOutcome(SUCCESS, metadata=metadata)


def _parse(dbt: Any, spark: Any, lakehouse: Any, project: Path, profiles: Path, target: Path, user_vars: Mapping[str, Any]) -> dict[str, Any]:
    """`dbt parse` into the run's artifact folder, then the project's relations registered over the lakehouse."""
    args = ["parse", *dbt.common_args(project, profiles, target, lakehouse, user_vars)]
    try:
        for _ in dbt.run_dbt(spark, args, target / "dbt.log"):
            pass
    except dbt.DbtCommandFailed as exc:
        raise TaskFailure(f"dbt parse of {project} failed: {exc.first_line}") from None
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    try:
        dbt.register_tables(spark, lakehouse, manifest)
    except LakehouseError as exc:  # a missing source table or an invalid name: one sentence
        raise TaskFailure(f"dbt_task: {exc}") from None
    return manifest


def _forward(raw: Mapping[str, Any], log: Any) -> None:
    """dbt's console lines (info and above) into the step's log."""
    info = raw.get("info") or {}
    message = str(info.get("msg") or "").strip()
    if not message or info.get("level") == "debug":
        return
    (log.error if info.get("level") == "error" else log.warning if info.get("level") == "warn" else log.info)(f"dbt: {message}")


def _count(event: Any, counts: dict[str, int]) -> None:
    import dagster as dg

    if isinstance(event, dg.AssetMaterialization):
        counts["models"] += 1
    elif isinstance(event, dg.AssetCheckEvaluation):
        counts["tests"] += 1
        counts["tests_failed"] += 0 if event.passed else 1


def reading(task: TaskSpec, ctx: CheckContext) -> Reading:
    """What the dbt project's SQL and Python (packages included, Jinja as written) uses that Sail lacks."""
    body = task.body
    git = (body.get("source") or ("GIT" if _git_source(ctx.jobs, ctx.job_key) else "WORKSPACE")) == "GIT"
    return source_needs.for_task("dbt", body.get("project_directory") or ".", git, lambda p: project_directory(p, ctx.base_dir), ctx.base_dir)


# reports_lineage: dbt's own events name each model built (LakehouseDbtTranslator keys, also for models
# outside the lakehouse's layer folders), so the Delta logs are not scanned for this task's writes.
TASK_TYPE = TaskType(
    name="dbt_task", check=check, run=run, reading=reading, reports_lineage=True, description="run dbt commands in process on the run's SparkSession"
)
