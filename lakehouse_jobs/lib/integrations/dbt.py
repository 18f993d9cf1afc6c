"""dbt over the lakehouse: one lineage graph, one Spark runtime.

Three pieces:
- `LakehouseDbtTranslator` maps dbt sources named after a medallion layer
  (`source('silver', 'orders')`) to the Dagster asset `silver/orders`, and models
  to `<schema>/<model>` (`gold/customer_360`), so bronze -> silver -> gold -> marts
  is one graph.
- `dbt_project()` returns a `DbtProject` whose manifest is (re)built with
  `dbt parse` when missing or older than the project files: `make dev`,
  `make materialize`, the tests and a fresh clone all get one, not only `dagster dev`.
- `dbt_build()` runs dbt *in this process* (dbtRunner, in a worker thread) with dbt-spark's `session`
  method, so dbt shares the run's SparkSession instead of starting a second JVM
  (6+ s, and a Hive/Derby metastore that admits one JVM); dbt's events become
  the same Dagster events dagster-dbt yields for a subprocess run (outputs, asset
  checks for dbt tests).
- `run_dbt()` is that runner for any dbt arguments (`dbt_build` and the jobs' `dbt_task` use it), with
  `run_folder()` / `common_args()` for the per-run artifact folder and the flags every command gets,
  `dagster_events()` for the events of one dbt event, and `DbtCommandFailed.first_line` for dbt's own
  error in one line.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from queue import Queue
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DagsterDbtTranslator, DbtProject

from lakehouse_jobs.lib.catalog import bind_root, table_path
from lakehouse_jobs.lib.catalog.conf import enabled as catalog_enabled
from lakehouse_jobs.lib.errors import LakehouseError, SetupError
from lakehouse_jobs.lib.names import LAYERS, validate_table_name
from lakehouse_jobs.lib.tables.delta_io import is_delta_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse_jobs.lib.tables.lakehouse import LakehouseResource

PROJECT_FILES = ("*.yml", "*.sql", "*.md")
ANSI_CONF = "spark.sql.ansi.enabled"
KEEP_RUN_ARTIFACTS = 20
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
PROGRESS_LINE = re.compile(r"^\d+ of \d+ ")
HEADER_LINE = re.compile(r"^(completed with \d+ error.*$|(runtime|database|compilation|dbt|parsing) error( in |$)|failure in )", re.IGNORECASE)


class LakehouseDbtTranslator(DagsterDbtTranslator):
    """Sources `<layer>.<table>` -> asset `<layer>/<table>`; models in a layer schema -> `<schema>/<model>`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        props = dbt_resource_props
        if props["resource_type"] == "source" and props["source_name"] in LAYERS:
            return dg.AssetKey([props["source_name"], props["name"]])
        if props["resource_type"] == "model" and props.get("schema") in LAYERS:
            return dg.AssetKey([props["schema"], props.get("alias") or props["name"]])
        return super().get_asset_key(props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts" if dbt_resource_props["resource_type"] == "model" else super().get_group_name(dbt_resource_props)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id) or {}
        if props.get("resource_type") != "model":
            return spec
        layer, table = spec.key.path[0], spec.key.path[-1]
        return spec.merge_attributes(kinds={"delta"}, metadata={"dagster/table_name": f"{layer}.{table}"})


def _newest_mtime(project_dir: Path) -> float:
    files = [
        p
        for pattern in PROJECT_FILES
        for p in project_dir.rglob(pattern)
        if not p.name.startswith(".") and not {"target", "logs"} & set(p.relative_to(project_dir).parts)
    ]  # fmt: skip - dbt's own .user.yml, artifacts and logs do not make the manifest stale
    return max((p.stat().st_mtime for p in files), default=0.0)


def dbt_project(project_dir: str | Path) -> DbtProject:
    """The dbt project with an up-to-date `target/manifest.json` (parsed once per change, lock-guarded)."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise SetupError(f"no dbt project at {project_dir} (dbt_project.yml is missing).")
    project = DbtProject(project_dir=project_dir)
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_mtime(project_dir):
        run_with_concurrent_update_guard(manifest, _parse, project=project)
    if not manifest.exists():
        raise SetupError(f"dbt parse did not write {manifest}; run `dbt parse --project-dir {project_dir}` to see why.")
    return project


def _parse(project: DbtProject) -> None:
    """`dbt parse` in this process (dagster-dbt's preparer needs `dbt` on PATH, an unactivated venv lacks it)."""
    target = str(project.project_dir / project.target_path)
    invocation = _Invocation(
        ["parse", "--quiet", "--no-send-anonymous-usage-stats", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir), "--target-path", target, "--log-path", target]
    )  # fmt: skip
    for _ in invocation.events():
        pass
    if not invocation.success:
        raise SetupError(f"dbt parse failed: {invocation.failure()}")


def _sql_location(path: Path) -> str:
    text = str(path)
    if "'" in text or "\\" in text:
        raise LakehouseError(f"a table location may not contain quotes or backslashes: {text}")
    return text


def register_tables(spark: SparkSession, lakehouse: LakehouseResource, manifest: Mapping[str, Any]) -> list[str]:
    """Make dbt's relations resolve to the lakehouse's Delta tables in Spark's (in-memory) catalog.

    Sources and existing marts become external tables over `<root>/<layer>/<table>`
    (re-created each run, so a session that served another root never writes to the
    old location; dropping an external table keeps its data). A registered mart is
    replaced in place by dbt (`CREATE OR REPLACE`: same Delta table, new version).
    Returns the registered sources.
    """
    registered = []
    schemas = {s["schema"] for s in manifest["sources"].values()} | {n["schema"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    if catalog_enabled(spark):  # the catalog resolves <schema>.<table> to <root>/<schema>/<table>: nothing to register
        bind_root(spark, lakehouse.root)
        for schema in sorted(schemas):
            spark.sql(f"CREATE SCHEMA IF NOT EXISTS {validate_table_name(schema, 'dbt schema')}")
        for source in manifest["sources"].values():
            layer, table = source["source_name"], source.get("identifier") or source["name"]
            if layer not in LAYERS:
                continue
            path = table_path(f"{source['schema']}.{table}", lakehouse.root)
            if not is_delta_table(path):
                raise LakehouseError(f"dbt source {layer}.{table}: no Delta table at {path}; materialize {layer}/{table} first.")
            registered.append(f"{layer}.{table}")
        return registered
    for schema in sorted(schemas):
        validate_table_name(schema, "dbt schema")
        location = _sql_location(lakehouse.system_path("spark_warehouse", schema))
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema} LOCATION '{location}'")
    for source in manifest["sources"].values():
        layer, table = source["source_name"], source.get("identifier") or source["name"]
        if layer not in LAYERS:
            continue
        path = lakehouse.table_path(layer, table)
        if not _register(spark, validate_table_name(source["schema"], "dbt source schema"), table, path):
            raise LakehouseError(f"dbt source {layer}.{table}: no Delta table at {path}; materialize {layer}/{table} first.")
        registered.append(f"{layer}.{table}")
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["schema"] in LAYERS:
            alias = validate_table_name(node.get("alias") or node["name"], "dbt model")
            _register(spark, node["schema"], alias, lakehouse.table_path(node["schema"], alias))
    return registered


def _register(spark: SparkSession, schema: str, table: str, path: Path) -> bool:
    """(Re)point `schema.table` at the Delta table at `path`; drop the entry when there is none yet."""
    spark.sql(f"DROP TABLE IF EXISTS {schema}.{table}")
    if not is_delta_table(path):
        return False
    spark.sql(f"CREATE TABLE {schema}.{table} USING DELTA LOCATION '{_sql_location(path)}'")
    return True


def _prune(folder: Path, keep: int) -> None:
    """Keep the artifacts (run_results.json, dbt.log) of the `keep` most recent dbt runs."""
    runs = sorted((p for p in folder.glob("run_*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


class _Invocation:
    """`dbtRunner.invoke` in a worker thread; its structured events (the dicts dagster-dbt reads from
    `dbt --log-format json`) stream out while dbt runs, so the UI sees each model as it finishes."""

    def __init__(self, args: list[str]):
        self.args = args
        self.success = False
        self.exception: BaseException | None = None
        self.errors: list[str] = []

    def events(self) -> Iterator[dict[str, Any]]:
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        queue: Queue[dict[str, Any] | None] = Queue()

        def work() -> None:
            try:
                result = dbtRunner(callbacks=[lambda msg: queue.put(msg_to_dict(msg))]).invoke(self.args)
                self.success, self.exception = bool(result.success), result.exception
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                self.exception = exc
            finally:
                queue.put(None)

        thread = threading.Thread(target=work, name="dbt", daemon=True)
        thread.start()
        while (event := queue.get()) is not None:
            if event.get("info", {}).get("level") == "error":
                self.errors.append(event["info"]["msg"])
            yield event
        thread.join()

    def failure(self) -> str:
        return "\n".join(self.errors) or (f"{type(self.exception).__name__}: {self.exception}" if self.exception else "see the dbt log")


class DbtCommandFailed(LakehouseError):
    """A dbt invocation that did not succeed: `errors` are dbt's own error lines, `log` its dbt.log."""

    def __init__(self, args: list[str], errors: list[str], exception: BaseException | None, log: Path | None):
        self.args_run, self.errors, self.exception, self.log = args, errors, exception, log
        detail = "\n".join(errors) or (f"{type(exception).__name__}: {exception}" if exception else "see the dbt log")
        super().__init__(detail)

    @property
    def first_line(self) -> str:
        """dbt's first error line that says what went wrong, prefixed with the node it names (`model broken
        (models/broken.sql): [UNRESOLVED_COLUMN...] ...`): not a progress line (`1 of 2 ERROR creating ...`)
        nor a header (`Runtime Error in model ...`, `Runtime Error`), without terminal colours."""
        lines = [ANSI_ESCAPE.sub("", line).strip() for error in self.errors for line in error.splitlines()]
        where = ""
        for line in filter(None, lines):
            if PROGRESS_LINE.match(line):
                continue
            header = HEADER_LINE.match(line)
            if header:
                where = line[header.end() :].strip() or where
                continue
            return f"{where}: {line}" if where else line
        return next(filter(None, lines), str(self))


def run_folder(lakehouse: LakehouseResource, name: str, project_dir: Path, project_target: str = "target") -> Path:
    """A fresh artifact folder `<root>/_system/dbt/<name>` (the most recent KEEP_RUN_ARTIFACTS kept),
    seeded with the project's partial-parse file so dbt re-parses only what changed."""
    target = lakehouse.system_path("dbt", name)
    target.mkdir(parents=True, exist_ok=True)
    _prune(target.parent, KEEP_RUN_ARTIFACTS)
    partial = project_dir / project_target / "partial_parse.msgpack"
    if partial.exists() and not (target / partial.name).exists():
        shutil.copy(partial, target / partial.name)
    return target


def common_args(project_dir: Path, profiles_dir: Path, target: Path, lakehouse: LakehouseResource, user_vars: Mapping[str, Any] | None = None) -> list[str]:
    """The flags every in-process dbt command gets: project, profiles, artifacts, the lakehouse root as a var."""
    variables = {**(user_vars or {}), "lakehouse_root": str(lakehouse.root_path)}
    return [
        "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
        "--target-path", str(target), "--log-path", str(target),
        "--vars", json.dumps(variables), "--no-send-anonymous-usage-stats",
    ]  # fmt: skip


def run_dbt(spark: SparkSession, args: list[str], log: Path | None = None) -> Iterator[dict[str, Any]]:
    """`dbt <args>` in this process on `spark` (dbt-spark `session` method): yield dbt's structured events
    as they come; raise DbtCommandFailed when dbt did not succeed. The session's log level and ANSI
    setting are given back afterwards."""
    from lakehouse_jobs.lib.runtime.python_main import session_bound

    connect = type(spark).__module__.startswith("pyspark.sql.connect")
    ansi = spark.conf.get(ANSI_CONF, None)
    # dbt-spark's session cursor re-enters SparkSession.builder for every statement (a WARN each) and
    # Delta logs a whole snapshot when dbt's CREATE OR REPLACE gives a mart a new table id: quiet both.
    if not connect:
        spark.sparkContext.setLogLevel("ERROR")
    invocation = _Invocation(args)
    try:
        with session_bound(spark):  # on Spark Connect (Sail), dbt-spark's SparkSession.builder returns the run's session
            yield from invocation.events()
    finally:  # dbt-spark forces ANSI mode off on the shared session: give the run its setting back
        if not connect:
            spark.sparkContext.setLogLevel("WARN")
        if ansi is None:
            spark.conf.unset(ANSI_CONF)
        else:
            spark.conf.set(ANSI_CONF, ansi)
    if not invocation.success:
        raise DbtCommandFailed(args, invocation.errors, invocation.exception, log)


def dagster_events(raw: Mapping[str, Any], manifest: Mapping[str, Any], context: Any = None, project: DbtProject | None = None) -> Iterator[Any]:
    """The Dagster events of one dbt event, keyed by LakehouseDbtTranslator: Output/AssetCheckResult in an
    asset step, AssetMaterialization/AssetCheckEvaluation elsewhere (an op, or `context=None`)."""
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    event = DbtCoreCliEventMessage(raw_event=dict(raw), event_history_metadata={})
    yield from event.to_default_asset_events(manifest=manifest, dagster_dbt_translator=LakehouseDbtTranslator(), context=context, project=project)


def dbt_build(
    context: dg.AssetExecutionContext,
    project: DbtProject,
    spark: SparkSession,
    lakehouse: LakehouseResource,
    command: str = "build",
) -> Iterator[Any]:
    """Run `dbt <command>` for the selected dbt assets/checks in this process; yield Dagster events."""
    from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    params = get_updated_cli_invocation_params_for_context(context=context, manifest={}, dagster_dbt_translator=LakehouseDbtTranslator())
    manifest, translator = params.manifest, params.dagster_dbt_translator
    target = run_folder(lakehouse, "run_" + context.run_id.replace("-", "_"), Path(project.project_dir), str(project.target_path))
    register_tables(spark, lakehouse, manifest)
    args = [
        command,
        *common_args(Path(project.project_dir), Path(project.profiles_dir), target, lakehouse),
        *(["--indirect-selection", params.indirect_selection] if params.indirect_selection else []),
        *params.selection_args,
    ]
    context.log.info(f"dbt {' '.join(args)}")
    try:
        for raw in run_dbt(spark, args, target / "dbt.log"):
            event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
            yield from event.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator, context=context, project=project)
    except DbtCommandFailed as exc:
        raise dg.Failure(description=f"dbt {command} failed (log: {target / 'dbt.log'}):\n{exc}") from None
