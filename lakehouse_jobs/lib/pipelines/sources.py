"""Loading a pipeline's libraries into its graph: Python files and notebooks run (their decorators
register datasets), SQL files and `%sql` cells are translated (sql.py).

While they load, `import dlt` and `from pyspark import pipelines as dp` both give api.py, and the
global `spark` is the run's session with Auto Loader on `readStream` (files.PipelineSpark). The
query functions are not called here: the runner calls them during an update, so loading is cheap
enough to build the Dagster assets from when a code location starts.
"""

from __future__ import annotations

import contextlib
import linecache
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.notebooks.source import NotebookSourceError, parse_file
from lakehouse_jobs.lib.pipelines import api, context
from lakehouse_jobs.lib.pipelines.files import PipelineSpark
from lakehouse_jobs.lib.pipelines.graph import PipelineError, PipelineGraph
from lakehouse_jobs.lib.pipelines.spec import PipelineSpec
from lakehouse_jobs.lib.pipelines.sql import load_sql

_LOCK = threading.RLock()  # the `dlt` / `pyspark.pipelines` modules are process-wide while a graph loads
_MODULES = ("dlt", "pyspark.pipelines")
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


@contextlib.contextmanager
def api_modules() -> Iterator[None]:
    """`dlt` and `pyspark.pipelines` are api.py for the duration (both restored afterwards)."""
    import pyspark

    with _LOCK:
        saved = {name: sys.modules.get(name) for name in _MODULES}
        had_attr, old_attr = hasattr(pyspark, "pipelines"), getattr(pyspark, "pipelines", None)
        for name in _MODULES:
            sys.modules[name] = api
        pyspark.pipelines = api
        try:
            yield
        finally:
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
            if had_attr:
                pyspark.pipelines = old_attr
            else:
                del pyspark.pipelines


@contextlib.contextmanager
def graph_context(graph: PipelineGraph, reading: context.Reading | None = None) -> Iterator[None]:
    """The graph (and, during an update, the reads) that api.py's functions use."""
    with api_modules():
        loading = context.loading_var.set(context.Loading(graph))
        read = context.reading_var.set(reading)
        try:
            yield
        finally:
            context.reading_var.reset(read)
            context.loading_var.reset(loading)


class LazySpark:
    """A session made on first use (building assets at code-location start needs no JVM)."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory, self._session = factory, None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._factory()
        return getattr(self._session, name)


def _user_line(exc: BaseException, files: set[str]) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in files or f.filename.split(" cell ")[0] in files]
    where = f"{frames[-1].filename}, line {frames[-1].lineno}: " if frames else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{where}{type(exc).__name__}{': ' + message if message else ''}"


def _run_python(source: str, filename: str, first_line: int, namespace: dict[str, Any], files: set[str]) -> None:
    code = compile("\n" * (first_line - 1) + source, filename, "exec")
    try:
        exec(code, namespace)  # noqa: S102 - the pipeline's own source code, as Databricks runs it
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's error, in one line
        raise PipelineError(f"pipeline source {_user_line(exc, files)}") from None


def substitute(text: str, configuration: dict[str, str]) -> str:
    """`${key}` of the pipeline's configuration in SQL text (Databricks substitutes them; others stay)."""
    return _VARIABLE.sub(lambda m: configuration.get(m.group(1), m.group(0)), text)


def _load_file(path: Path, graph: PipelineGraph, spark: Any, root: str | Path, configuration: dict[str, str]) -> None:
    if path.suffix == ".sql":
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("-- Databricks notebook source"):
            for cell in parse_file(path).cells:
                if cell.kind == "sql":
                    load_sql(substitute("\n" * (cell.line - 1) + cell.source, configuration), path, graph)
            return
        load_sql(substitute(text, configuration), path, graph)
        return
    try:
        notebook = parse_file(path)
    except NotebookSourceError as exc:
        raise PipelineError(str(exc)) from None
    namespace: dict[str, Any] = {"__name__": "__pipeline__", "__file__": str(path), "spark": PipelineSpark(spark, root, configuration)}
    files = {str(path)}
    for cell in notebook.cells:
        if cell.kind == "python":
            filename = str(path)
            if path.suffix == ".ipynb":  # cell lines are not file lines: give tracebacks and inspect their own text
                filename = f"{path} cell {cell.number}"
                lines = cell.source.splitlines(keepends=True)
                linecache.cache[filename] = (len(cell.source), None, lines, filename)
                files.add(filename)
                _run_python(cell.source, filename, 1, namespace, files)
            else:
                _run_python(cell.source, filename, cell.line, namespace, files)
        elif cell.kind == "sql":
            load_sql(substitute("\n" * (cell.line - 1) + cell.source, configuration), path, graph)
        elif cell.kind not in ("md", "pip"):
            raise PipelineError(f"{notebook.where(cell)}: %{cell.kind} cells do not run in a pipeline (Python and SQL cells do)")


def load_graph(spec: PipelineSpec, spark: Any = None, root: str | Path = ".") -> PipelineGraph:
    """The pipeline's graph from its libraries, checked (a dataset defined twice, a flow into nothing).

    Without `spark`, a session is started only if the sources need one: code that touches `spark`
    or builds a Column (`F.col`) at the top level; classic PySpark needs a SparkContext for that."""
    from lakehouse_jobs.lib.runtime.spark import SparkResource

    if spark is None:
        try:
            return _load(spec, LazySpark(lambda: SparkResource().get_session()), root)
        except PipelineError:
            from pyspark import SparkContext

            if SparkContext._active_spark_context is not None:
                raise
        spark = SparkResource().get_session()
    return _load(spec, spark, root)


def _load(spec: PipelineSpec, session: Any, root: str | Path) -> PipelineGraph:
    graph = PipelineGraph(spec.key, spec.catalog, spec.schema)
    added = str(spec.root_path) if spec.root_path and str(spec.root_path) not in sys.path else None
    if added:
        sys.path.insert(0, added)
    try:
        with graph_context(graph):
            for path in spec.sources:
                _load_file(path, graph, session, root, spec.configuration)
    finally:
        if added and added in sys.path:
            sys.path.remove(added)
    graph.finish()
    return graph
