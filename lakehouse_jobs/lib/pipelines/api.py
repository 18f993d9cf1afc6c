"""The Python API pipeline code imports: `import dlt`, `from pyspark import pipelines as dp`.

While a pipeline's sources load (`sources.loading`), this module stands in for both `dlt` and
`pyspark.pipelines`: its decorators record datasets and flows in the pipeline's graph (graph.py)
instead of sending them to a Spark Connect pipeline server; the runner later calls the query
functions. Apache Spark's own `pyspark.pipelines` has no expectations, no SCD type 2 and no
`read`/`read_stream`; Databricks' `dlt` has them, and both spellings work the same here.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.pipelines import context, naming
from lakehouse_jobs.lib.pipelines.context import check_name
from lakehouse_jobs.lib.pipelines.graph import MATERIALIZED_VIEW, STREAMING_TABLE, VIEW, CdcSpec, Dataset, Flow, PipelineError, PipelineGraph
from lakehouse_jobs.lib.tables.expectations import Expectation

TABLE = "table"  # `@dlt.table`: a streaming table when its query is streaming, else a materialized view
_EXPECTATIONS = "_lakehouse_pipeline_expectations"
_DATASET = "_lakehouse_pipeline_dataset"


def _graph(what: str) -> PipelineGraph:
    state = context.loading_var.get()
    if state is None:
        raise PipelineError(f"{what} declares a pipeline dataset: it only works in a pipeline's source files, loaded by a pipeline update")
    return state.graph


def _where(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else "<unknown>"


def _caller() -> str:
    frame = inspect.currentframe()
    try:
        outer = frame.f_back.f_back if frame and frame.f_back else None
        return f"{outer.f_code.co_filename}:{outer.f_lineno}" if outer else "<unknown>"
    finally:
        del frame


def _name(name: Any, what: str) -> naming.TableName:
    graph = _graph(what)
    return naming.resolve(name, graph.catalog, graph.schema, what)


def expectations_of(items: Mapping[str, str], action: str, where: str) -> list[Expectation]:
    if not isinstance(items, Mapping):
        raise SpecError(where, f"expect_all* takes a dict of names to SQL conditions, got {type(items).__name__}")
    return [Expectation(check_name(k), str(v), action) for k, v in items.items()]


# -- reads found in the code (for the graph's edges before anything runs) ---------------------------

_READERS = {"read", "read_stream", "table"}


def static_reads(fn: Callable[..., Any], graph: PipelineGraph) -> set[naming.TableName]:
    """Literal table names the query function reads: `dlt.read("x")`, `spark.read.table("s.x")`,
    `spark.readStream.table("x")`, `spark.table("x")`, and the tables of a literal `spark.sql("...")`."""
    from lakehouse_jobs.lib.pipelines.sql import query_tables

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return set()
    names: set[naming.TableName] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id if isinstance(node.func, ast.Name) else None
        text = node.args[0].value
        try:
            if called in _READERS:
                names.add(naming.resolve(text, graph.catalog, graph.schema))
            elif called == "sql":
                names |= {naming.resolve(t, graph.catalog, graph.schema) for t in query_tables(text)}
        except SpecError:
            continue
    return names


# -- datasets -----------------------------------------------------------------------------------------


def _dataset(kind: str, query_function: Any, name: Any, comment: Any, table_properties: Any, partition_cols: Any, decorator: str) -> Any:
    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        if not callable(fn):
            raise PipelineError(f"@{decorator} decorates a function returning a DataFrame, got {type(fn).__name__} ({_caller()})")
        graph = _graph(f"@{decorator}")
        target = naming.resolve(name or fn.__name__, graph.catalog, graph.schema, f"@{decorator}(name=...) at {_where(fn)}")
        dataset = Dataset(
            target, kind, _where(fn), comment or inspect.getdoc(fn),
            expectations=list(getattr(fn, _EXPECTATIONS, [])),
            table_properties={str(k): str(v) for k, v in (table_properties or {}).items()},
            partition_cols=list(partition_cols or []),
        )  # fmt: skip
        graph.add_dataset(dataset)
        graph.add_flow(Flow(target.table, target, func=fn, reads=static_reads(fn, graph), where=_where(fn)))
        setattr(fn, _DATASET, dataset)
        return fn

    return register(query_function) if query_function is not None else register


def table(
    query_function: Any = None, *, name: str | None = None, comment: str | None = None, spark_conf: Any = None, table_properties: Any = None,
    path: Any = None, partition_cols: Any = None, cluster_by: Any = None, schema: Any = None, temporary: bool = False, private: bool = False,
    row_filter: Any = None, format: Any = None,  # noqa: A002 - Databricks' argument name
) -> Any:  # fmt: skip
    """A table: streaming when its query returns a streaming DataFrame, else a materialized view."""
    return _dataset(TABLE, query_function, name, comment, table_properties, partition_cols, "table")


def materialized_view(
    query_function: Any = None, *, name: str | None = None, comment: str | None = None, spark_conf: Any = None, table_properties: Any = None,
    partition_cols: Any = None, cluster_by: Any = None, schema: Any = None, private: bool = False, row_filter: Any = None,
    format: Any = None,  # noqa: A002
) -> Any:  # fmt: skip
    return _dataset(MATERIALIZED_VIEW, query_function, name, comment, table_properties, partition_cols, "materialized_view")


def temporary_view(query_function: Any = None, *, name: str | None = None, comment: str | None = None, spark_conf: Any = None) -> Any:
    return _dataset(VIEW, query_function, name, comment, None, None, "temporary_view")


view = temporary_view


def create_streaming_table(
    name: str, *, comment: str | None = None, spark_conf: Any = None, table_properties: Any = None, partition_cols: Any = None,
    cluster_by: Any = None, path: Any = None, schema: Any = None, expect_all: Any = None, expect_all_or_drop: Any = None,
    expect_all_or_fail: Any = None, row_filter: Any = None, format: Any = None,  # noqa: A002
) -> None:  # fmt: skip
    """A streaming table that flows (`append_flow`, `apply_changes`/`create_auto_cdc_flow`) write to."""
    where = _caller()
    expectations = [
        *expectations_of(expect_all or {}, "warn", where),
        *expectations_of(expect_all_or_drop or {}, "drop", where),
        *expectations_of(expect_all_or_fail or {}, "fail", where),
    ]
    target = _name(name, "create_streaming_table(name)")
    _graph("create_streaming_table").add_dataset(
        Dataset(
            target, STREAMING_TABLE, where, comment, expectations, {str(k): str(v) for k, v in (table_properties or {}).items()}, list(partition_cols or [])
        )
    )


create_target_table = create_streaming_table


def append_flow(
    *, target: str, name: str | None = None, spark_conf: Any = None, once: bool = False, comment: str | None = None
) -> Callable[[Callable[[], Any]], Any]:
    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        graph = _graph("@append_flow")
        into = naming.resolve(target, graph.catalog, graph.schema, f"@append_flow(target=...) at {_where(fn)}")
        graph.add_flow(Flow(name or fn.__name__, into, func=fn, reads=static_reads(fn, graph), where=_where(fn), once=bool(once)))
        return fn

    return register


def _column_name(value: Any, what: str) -> str:
    """A column name given as text or as `F.col("x")` (Databricks accepts both)."""
    if isinstance(value, str):
        return value
    match = re.fullmatch(r"Column<'(.+)'>", str(value))
    if match and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", match.group(1).strip("`")):
        return match.group(1).strip("`")
    raise PipelineError(f"{what}: expected a column name or col('name'), got {value!r} (an expression needs a column computed upstream)")


def _columns(values: Any, what: str) -> list[str] | None:
    if values is None:
        return None
    return [_column_name(v, what) for v in ([values] if isinstance(values, str) else list(values))]


def apply_changes(
    target: str, source: str, keys: Sequence[Any], sequence_by: Any, where: Any = None, ignore_null_updates: bool = False,
    apply_as_deletes: Any = None, apply_as_truncates: Any = None, column_list: Any = None, except_column_list: Any = None,
    stored_as_scd_type: Any = 1, track_history_column_list: Any = None, track_history_except_column_list: Any = None,
    flow_name: str | None = None, name: str | None = None, once: bool = False,
) -> None:  # fmt: skip
    """AUTO CDC from the change feed `source` into the streaming table `target` (tables/cdc.py applies each batch)."""
    at = _caller()
    for given, label in (
        (where, "where"),
        (ignore_null_updates, "ignore_null_updates"),
        (apply_as_truncates, "apply_as_truncates"),
        (track_history_column_list, "track_history_column_list"),
        (track_history_except_column_list, "track_history_except_column_list"),
    ):
        if given:
            raise PipelineError(f"apply_changes at {at}: {label} is not supported here (see docs/bundles.md, Pipelines)")
    if str(stored_as_scd_type) not in ("1", "2"):
        raise PipelineError(f"apply_changes at {at}: stored_as_scd_type is 1 or 2, got {stored_as_scd_type!r}")
    graph = _graph("apply_changes")
    into = naming.resolve(target, graph.catalog, graph.schema, f"apply_changes(target) at {at}")
    source_name = naming.resolve(source, graph.catalog, graph.schema, f"apply_changes(source) at {at}")
    cdc = CdcSpec(
        keys=_columns(keys, f"apply_changes(keys) at {at}") or [],
        sequence_by=_column_name(sequence_by, f"apply_changes(sequence_by) at {at}"),
        apply_as_deletes=apply_as_deletes,
        stored_as_scd_type=int(stored_as_scd_type),
        column_list=_columns(column_list, f"apply_changes(column_list) at {at}"),
        except_column_list=_columns(except_column_list, f"apply_changes(except_column_list) at {at}") or [],
    )
    graph.add_flow(Flow(flow_name or name or into.table, into, source=source_name, cdc=cdc, where=at, once=bool(once)))


def create_auto_cdc_flow(
    target: str, source: str, keys: Sequence[Any], sequence_by: Any, ignore_null_updates: bool = False, apply_as_deletes: Any = None,
    apply_as_truncates: Any = None, column_list: Any = None, except_column_list: Any = None, stored_as_scd_type: Any = 1,
    track_history_column_list: Any = None, track_history_except_column_list: Any = None, name: str | None = None, once: bool = False,
) -> None:  # fmt: skip
    apply_changes(
        target, source, keys, sequence_by, ignore_null_updates=ignore_null_updates, apply_as_deletes=apply_as_deletes,
        apply_as_truncates=apply_as_truncates, column_list=column_list, except_column_list=except_column_list,
        stored_as_scd_type=stored_as_scd_type, track_history_column_list=track_history_column_list,
        track_history_except_column_list=track_history_except_column_list, name=name, once=once,
    )  # fmt: skip


def _refused(what: str, why: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise PipelineError(f"{what} at {_caller()} is not supported here: {why}")

    return refuse


apply_changes_from_snapshot = create_auto_cdc_from_snapshot_flow = _refused(
    "apply_changes_from_snapshot", "snapshot CDC is not mapped yet; use apply_changes over a change feed"
)
create_sink = _refused("create_sink", "sinks (Kafka, Event Hubs, external Delta) are not mapped; write a streaming table instead")


# -- reads ----------------------------------------------------------------------------------------------


def _read(name: Any, streaming: bool) -> Any:
    state = context.reading_var.get()
    what = "read_stream" if streaming else "read"
    if state is None:
        raise PipelineError(f"dlt.{what}({name!r}) at {_caller()} runs outside a dataset's query; call it inside the decorated function")
    loading = context.loading_var.get()
    assert loading is not None
    resolved = naming.resolve(name, loading.graph.catalog, loading.graph.schema, f"dlt.{what}")
    state.reads.add(resolved)
    return state.read(resolved, streaming)


def read(name: str) -> Any:
    return _read(name, False)


def read_stream(name: str) -> Any:
    return _read(name, True)


# -- expectations -------------------------------------------------------------------------------------


def _expecting(new: list[Expectation]) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        dataset = getattr(fn, _DATASET, None)
        if dataset is not None:  # the expectation sits above @table: the dataset exists already
            dataset.expectations[:0] = new
        else:
            setattr(fn, _EXPECTATIONS, [*new, *getattr(fn, _EXPECTATIONS, [])])
        return fn

    return decorate


def expect(name: str, constraint: str) -> Callable[[Any], Any]:
    return _expecting([Expectation(check_name(name), constraint, "warn")])


def expect_or_drop(name: str, constraint: str) -> Callable[[Any], Any]:
    return _expecting([Expectation(check_name(name), constraint, "drop")])


def expect_or_fail(name: str, constraint: str) -> Callable[[Any], Any]:
    return _expecting([Expectation(check_name(name), constraint, "fail")])


def expect_all(expectations: Mapping[str, str]) -> Callable[[Any], Any]:
    return _expecting(expectations_of(expectations, "warn", "expect_all"))


def expect_all_or_drop(expectations: Mapping[str, str]) -> Callable[[Any], Any]:
    return _expecting(expectations_of(expectations, "drop", "expect_all_or_drop"))


def expect_all_or_fail(expectations: Mapping[str, str]) -> Callable[[Any], Any]:
    return _expecting(expectations_of(expectations, "fail", "expect_all_or_fail"))
