"""One pipeline update on the run's SparkSession: every dataset of the graph in dependency order.

Materialized views are recomputed and overwritten in one Delta commit; streaming tables take
what their streaming queries have that the flow's checkpoint has not (an `availableNow` trigger
and one idempotent Delta append per micro-batch, `txnAppId`/`txnVersion`); AUTO CDC flows apply
each micro-batch of their change feed with tables/cdc.py; expectations are tables/expectations.py
(warn counts, drop quarantines, fail stops the write before it commits). `full_refresh` empties
streaming tables and forgets their checkpoints first. Why not Spark's own SDP engine: see
docs/bundles.md (Pipelines) — it runs inside a Spark Connect server and has no expectations,
no SCD type 2 and no `read_files`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib.pipelines import context, naming
from lakehouse_jobs.lib.pipelines.files import read_files
from lakehouse_jobs.lib.pipelines.graph import MATERIALIZED_VIEW, STREAMING_TABLE, VIEW, Dataset, Flow, PipelineError, PipelineGraph
from lakehouse_jobs.lib.pipelines.sources import graph_context, load_graph
from lakehouse_jobs.lib.pipelines.spec import PipelineSpec
from lakehouse_jobs.lib.tables.cdc import apply_changes
from lakehouse_jobs.lib.tables.delta_io import WriteSpec, describe, is_delta_table, last_commit, read_delta, table_row_count, write_delta
from lakehouse_jobs.lib.tables.expectations import Expectation, apply_expectations


@dataclass
class DatasetResult:
    dataset: Dataset
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: list[dg.AssetCheckResult] = field(default_factory=list)


@dataclass
class UpdateResult:
    pipeline: str
    datasets: dict[naming.TableName, DatasetResult] = field(default_factory=dict)


class UpdateFailed(PipelineError):
    """The update stopped at one dataset; `result` holds what the datasets before it produced."""

    def __init__(self, message: str, result: UpdateResult, failed: DatasetResult | None = None):
        super().__init__(message)
        self.result, self.failed = result, failed


def asset_key(name: naming.TableName) -> dg.AssetKey:
    return dg.AssetKey(name.asset_path)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return type(exc).__name__


def check_result(key: dg.AssetKey, expectation: Expectation, violations: int, total: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=expectation.name,
        passed=violations == 0,
        severity=dg.AssetCheckSeverity.ERROR if expectation.action == "fail" else dg.AssetCheckSeverity.WARN,
        metadata={"violating_rows": violations, "total_rows": total, "condition": expectation.condition, "action": expectation.action},
    )


class _Update:
    def __init__(self, spec: PipelineSpec, graph: PipelineGraph, spark: Any, lakehouse: Any, full_refresh: bool, context: Any, log: Callable[[str], None]):
        self.spec, self.graph, self.spark, self.lakehouse = spec, graph, spark, lakehouse
        self.root = Path(lakehouse.root_path)
        self.full_refresh, self.context, self.log = full_refresh, context, log
        self.views: dict[naming.TableName, Any] = {}
        self.done: set[naming.TableName] = set()
        self.running: list[naming.TableName] = []
        self.result = UpdateResult(spec.key)
        self.checkpoints = self.root / "_system" / "pipelines" / _safe(spec.key)

    # -- reads ------------------------------------------------------------------------------------
    def read(self, name: naming.TableName, streaming: bool) -> Any:
        if name in self.graph.datasets and name not in self.done:
            if name in self.running:
                raise PipelineError(f"pipeline {self.spec.key}: datasets read each other in a cycle: {' -> '.join(n.qualified for n in [*self.running, name])}")
            self.compute(self.graph.datasets[name])
        if name in self.views:
            frame = self.views[name]
            if streaming and not frame.isStreaming:
                raise PipelineError(f"pipeline {self.spec.key}: {name.table} is read as a stream but its query is not streaming")
            return frame
        path = name.location(self.root)
        if not is_delta_table(path):
            raise PipelineError(f"pipeline {self.spec.key}: {name.qualified} has no table at {path} (no dataset of the pipeline produces it)")
        return (self.spark.readStream if streaming else self.spark.read).format("delta").load(str(path))

    def read_files(self, path: str, fmt: str | None, options: dict[str, str], streaming: bool, auto_loader: bool) -> Any:
        return read_files(self.spark, self.root, path, fmt, options, streaming, auto_loader)

    # -- one dataset ------------------------------------------------------------------------------
    def compute(self, dataset: Dataset) -> None:
        if dataset.name in self.done:
            return
        self.running.append(dataset.name)
        try:
            if dataset.kind == VIEW:
                frame = self._query(dataset, dataset.flows[0])
                frame = self._view_expectations(dataset, frame)
                self.views[dataset.name] = frame
                frame.createOrReplaceTempView(dataset.name.table)
            else:
                self._persist(dataset)
        finally:
            self.running.remove(dataset.name)
        self.done.add(dataset.name)

    def _query(self, dataset: Dataset, flow: Flow) -> Any:
        try:
            frame = flow.func()
        except PipelineError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's query failed: one line naming the dataset
            raise PipelineError(f"pipeline {self.spec.key}: dataset {dataset.name.qualified} ({flow.where}): {_first_line(exc)}") from None
        if not hasattr(frame, "isStreaming"):
            raise PipelineError(f"pipeline {self.spec.key}: dataset {dataset.name.qualified} ({flow.where}) returned {type(frame).__name__}, not a DataFrame")
        return frame

    def _view_expectations(self, dataset: Dataset, frame: Any) -> Any:
        from pyspark.sql import functions as F

        for e in dataset.expectations:
            ok = F.coalesce(F.expr(e.condition).cast("boolean"), F.lit(False))
            if e.action == "drop":
                frame = frame.filter(ok)
            elif e.action == "fail":
                message = f"pipeline {self.spec.key}: view {dataset.name.table}: expectation {e.name!r} ({e.condition}) failed (ON VIOLATION FAIL UPDATE)"
                frame = frame.filter(F.when(ok, F.lit(True)).otherwise(F.raise_error(F.lit(message))))
        return frame

    def _persist(self, dataset: Dataset) -> None:
        path = dataset.name.location(self.root)
        key = asset_key(dataset.name)
        before = table_row_count(self.spark, path) if is_delta_table(path) else 0
        counts: dict[str, list[int]] = {e.name: [0, 0] for e in dataset.expectations}
        out = DatasetResult(dataset)
        self.result.datasets[dataset.name] = out
        if self.full_refresh:
            self._reset(dataset, path)
        kind = dataset.kind
        for flow in dataset.flows:
            if flow.cdc is not None:
                self._cdc(dataset, flow, path)
                kind = STREAMING_TABLE
                continue
            if flow.once and (self._checkpoint(dataset, flow) / "once.done").exists():
                continue
            frame = self._query(dataset, flow)
            if frame.isStreaming:
                kind = STREAMING_TABLE
                self._stream(dataset, flow, frame, path, counts, out)
            elif flow.once:
                self._write(dataset, frame, path, "append", counts, out)
                (self._checkpoint(dataset, flow)).mkdir(parents=True, exist_ok=True)
                (self._checkpoint(dataset, flow) / "once.done").write_text("done\n")
            elif dataset.kind == STREAMING_TABLE or len(dataset.flows) > 1:
                raise PipelineError(
                    f"pipeline {self.spec.key}: streaming table {dataset.name.qualified} ({flow.where}) needs a streaming query (STREAM(x), read_stream, spark.readStream)"
                )
            else:
                self._write(dataset, frame, path, "overwrite", counts, out)
        out.checks = [check_result(key, e, *counts[e.name]) for e in dataset.expectations]
        naming.register(self.spark, dataset.name, self.root)
        commit = last_commit(self.spark, str(path))
        rows = table_row_count(self.spark, path)
        out.metadata = {
            **describe(self.spark, commit),
            "pipeline": self.spec.key,
            "dataset_type": "streaming_table" if kind == STREAMING_TABLE else "materialized_view",
            "table": dataset.name.qualified,
            **({"rows_added": rows - before} if kind == STREAMING_TABLE else {}),
        }
        self.log(f"pipeline {self.spec.key}: {dataset.name.qualified} -> Delta version {commit.version}, {rows} rows")

    def _checkpoint(self, dataset: Dataset, flow: Flow) -> Path:
        return self.checkpoints / _safe(dataset.name.qualified) / _safe(flow.name)

    def _reset(self, dataset: Dataset, path: Path) -> None:
        shutil.rmtree(self.checkpoints / _safe(dataset.name.qualified), ignore_errors=True)
        if dataset.kind != MATERIALIZED_VIEW and is_delta_table(path):  # streaming tables (and @table, streaming or not) start empty
            empty = read_delta(self.spark, path).limit(0)
            empty.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(path))

    def _fail(self, dataset: Dataset, evaluation: Any, out: DatasetResult) -> PipelineError:
        results = evaluation.check_results()
        out.checks = results
        failed = next((r for r in results if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR), None)
        name = failed.check_name if failed else "?"
        e = next((x for x in dataset.expectations if x.name == name), None)
        detail = f"{failed.metadata['violating_rows'].value} of {failed.metadata['total_rows'].value} rows" if failed else "some rows"
        return UpdateFailed(
            f"pipeline {self.spec.key}: dataset {dataset.name.qualified}: expectation {name!r} ({e.condition if e else ''}) failed on {detail} "
            "(ON VIOLATION FAIL UPDATE); the table keeps its previous version",
            self.result, out,
        )  # fmt: skip

    def _evaluate(self, dataset: Dataset, frame: Any) -> Any:
        run_id = getattr(self.context, "run_id", None)
        holder = type("Run", (), {"run_id": run_id})()
        return apply_expectations(holder, self.spark, self.lakehouse, asset_key(dataset.name), frame, dataset.expectations)

    def _count(self, counts: dict[str, list[int]], evaluation: Any) -> None:
        for result in evaluation.check_results():
            counts[result.check_name][0] += int(result.metadata["violating_rows"].value)
            counts[result.check_name][1] += int(result.metadata["total_rows"].value)

    def _write(self, dataset: Dataset, frame: Any, path: Path, mode: str, counts: dict[str, list[int]], out: DatasetResult, **options: str) -> None:
        evaluation = self._evaluate(dataset, frame)
        if evaluation.rows is None:
            raise self._fail(dataset, evaluation, out)
        try:
            if options:
                writer = evaluation.rows.write.format("delta").mode(mode).options(**options)
                if dataset.partition_cols:
                    writer = writer.partitionBy(*dataset.partition_cols)
                writer.save(str(path))
            else:
                write_delta(self.spark, evaluation.rows, path, WriteSpec(mode, partition_by=tuple(dataset.partition_cols), merge_schema=mode == "append"))
        except Exception as exc:  # noqa: BLE001 - a guard that stopped the write, or a write error in one line
            if evaluation.stopped_write(exc):
                raise self._fail(dataset, evaluation, out) from None
            raise PipelineError(f"pipeline {self.spec.key}: dataset {dataset.name.qualified}: writing {path} failed: {_first_line(exc)}") from None
        self._count(counts, evaluation)

    def _run_stream(self, dataset: Dataset, flow: Flow, frame: Any, batch: Callable[[Any, int], None]) -> None:
        errors: list[BaseException] = []

        def guarded(batch_frame: Any, batch_id: int) -> None:
            try:
                batch(batch_frame, batch_id)
            except BaseException as exc:
                errors.append(exc)
                raise

        checkpoint = self._checkpoint(dataset, flow)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        query = frame.writeStream.foreachBatch(guarded).option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start()
        try:
            query.awaitTermination()
        except Exception as exc:  # noqa: BLE001 - the batch's own error is the story
            if errors and isinstance(errors[0], PipelineError):
                raise errors[0] from None
            cause = errors[0] if errors else exc
            raise PipelineError(f"pipeline {self.spec.key}: dataset {dataset.name.qualified} ({flow.where}): {_first_line(cause)}") from None

    def _app_id(self, dataset: Dataset, flow: Flow) -> str:
        """The Delta app id of a flow's appends: one per checkpoint (a full refresh starts a new one, so
        its micro-batch numbers, which restart at 0, are not taken for already-committed ones)."""
        marker = self._checkpoint(dataset, flow) / "lakehouse_app_id"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"lakehouse_jobs.pipeline:{self.spec.key}:{dataset.name.qualified}:{flow.name}:{uuid.uuid4().hex}")
        return marker.read_text().strip()

    def _stream(self, dataset: Dataset, flow: Flow, frame: Any, path: Path, counts: dict[str, list[int]], out: DatasetResult) -> None:
        app_id = self._app_id(dataset, flow)
        self._run_stream(
            dataset, flow, frame,
            lambda batch, batch_id: self._write(dataset, batch, path, "append", counts, out, txnAppId=app_id, txnVersion=str(batch_id), mergeSchema="true"),
        )  # fmt: skip
        if not is_delta_table(path):  # nothing arrived yet: the table exists, empty, as on Databricks
            self.spark.createDataFrame([], frame.schema).write.format("delta").mode("append").save(str(path))

    def _cdc(self, dataset: Dataset, flow: Flow, path: Path) -> None:
        cdc = flow.cdc
        assert cdc is not None and flow.source is not None

        def apply(batch: Any, _batch_id: int = 0) -> None:
            apply_changes(
                batch.sparkSession, batch, path, keys=cdc.keys, sequence_by=cdc.sequence_by, apply_as_deletes=cdc.apply_as_deletes,
                stored_as_scd_type=cdc.stored_as_scd_type, column_list=cdc.column_list, except_column_list=cdc.except_column_list,
            )  # fmt: skip

        with graph_context(self.graph, self.reading):
            source = self.read(flow.source, True)
        try:
            self._run_stream(dataset, flow, source, apply)
            if not is_delta_table(path):
                with graph_context(self.graph, self.reading):
                    apply(self.read(flow.source, False).limit(0))
        except PipelineError:
            raise
        except Exception as exc:  # noqa: BLE001 - cdc's SpecError (a key not in the feed) and Spark's errors
            raise PipelineError(f"pipeline {self.spec.key}: AUTO CDC into {dataset.name.qualified} ({flow.where}): {_first_line(exc)}") from None

    # -- the update -------------------------------------------------------------------------------
    @property
    def reading(self) -> context.Reading:
        return context.Reading(self.read, self.spark, self.read_files)

    def run(self) -> UpdateResult:
        self.graph.check_inputs(self.root, is_delta_table)
        order = self.graph.order()
        self._check_syntax()
        with self._session():
            for dataset in [*self.graph.datasets.values()]:
                path = dataset.name.location(self.root)
                if dataset.persisted and is_delta_table(path):
                    naming.register(self.spark, dataset.name, self.root)
            for name in {n for d in self.graph.datasets.values() for n in d.reads if n not in self.graph.datasets}:
                naming.register(self.spark, name, self.root)
            with graph_context(self.graph, self.reading):
                for dataset in order:
                    try:
                        self.compute(dataset)
                    except UpdateFailed:
                        raise
                    except PipelineError as exc:
                        raise UpdateFailed(str(exc), self.result, self.result.datasets.get(dataset.name)) from None
        return self.result

    def _check_syntax(self) -> None:
        """Every SQL query parsed before anything is written: by the classic session's parser, or on Spark Connect by
        the server (its `sql` parses a query at once and analyzes it later; only a parse error counts here: a query
        may read a dataset this update has not made yet)."""
        from lakehouse_jobs.lib.runtime.sail import is_sail

        jsession = getattr(self.spark, "_jsparkSession", None)
        parse = jsession.sessionState().sqlParser().parsePlan if jsession is not None else self.spark.sql
        for dataset in self.graph.datasets.values():
            for flow in dataset.flows:
                if flow.sql is None:
                    continue
                try:
                    parse(flow.sql)
                except Exception as exc:  # noqa: BLE001 - a Py4J or Connect ParseException; Sail's IllegalArgumentException
                    if jsession is None and "ParseException" not in type(exc).__name__ and not is_sail(self.spark):
                        continue  # a Connect server that analyzes at once: left to the update, where it names its dataset
                    text = _first_line(exc).split(": ", 1)[-1] if "ParseException" in str(exc) else _first_line(exc)
                    raise UpdateFailed(f"{flow.where}: syntax error: {text}", self.result) from None

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The pipeline's configuration and current schema on the session while the update runs."""
        spark = self.spark
        conf = {**self.spec.configuration, **self.graph.conf}
        saved = {k: spark.conf.get(k, None) for k in conf}
        for k, v in conf.items():
            spark.conf.set(k, v)
        try:
            with naming.session(spark, self.root, self.graph.catalog, self.graph.schema):
                yield
        finally:
            for k, v in saved.items():
                if v is None:
                    spark.conf.unset(k)
                else:
                    spark.conf.set(k, v)
            for name in self.views:
                spark.catalog.dropTempView(name.table)


def run_update(
    spec: PipelineSpec, spark: Any, lakehouse: Any, *, full_refresh: bool = False, context: Any = None,
    log: Callable[[str], None] | None = None, graph: PipelineGraph | None = None,
) -> UpdateResult:  # fmt: skip
    """Run one update of the pipeline; UpdateFailed (one sentence, plus what was done) when it stops."""
    root = Path(lakehouse.root_path)
    try:
        graph = graph or load_graph(spec, spark, root)
    except PipelineError as exc:
        raise UpdateFailed(str(exc), UpdateResult(spec.key)) from None
    return _Update(spec, graph, spark, lakehouse, full_refresh, context, log or (lambda _m: None)).run()
