"""What the project supplies on its run sessions on Sail, where Sail lacks what Databricks code relies on.

- `spark.sql` runs `INSERT INTO|OVERWRITE` and `CREATE [OR REPLACE] TABLE` on `delta.`path`` with
  Spark's meaning (Sail reads `delta` there as a database: `sql/delta_paths.py`);
- named parameter markers bound to strings in a statement that is not a query (MERGE, UPDATE, ...), which Sail refuses
  ("command with parameters"), are bound here as literals, as Spark binds them (`sql/statements.inline_markers`);
- every DataFrame writer carries the session's `spark.databricks.delta.commitInfo.userMetadata` as
  its `userMetadata` option: Sail ignores the setting (probe `user_metadata_conf`) and honours the
  option, and a task's observed lineage (`jobs/lineage.py`) finds its commits by it. A writer's own
  option still wins, as on the JVM;
- table names: Sail resolves them through the root served as a Unity Catalog API (`catalog/unity_rest.py`,
  set up when the embedded server starts); what its catalog cannot do is done here by the naming rule:
  `CREATE [OR REPLACE] TABLE <name>` (as on `delta.`path``, on the name's folder) and `saveAsTable`
  (Spark's modes), each marking the table as created through the catalog; `DROP TABLE` of a table
  written by path is refused in the JVM plugin's sentence.
- writes to a table with the change data feed (every table the project makes), which Sail cannot write: a DataFrame
  writer's `save(path)` (so `saveAsTable` and `INSERT` run here too) is committed by delta-rs with Spark's meaning of
  its mode and options (`tables/delta_rs_write.save_by_writer`); SQL `MERGE`/`UPDATE`/`DELETE` on one is refused in
  one sentence (`sql/delta_paths.py`).
- `OPTIMIZE`, `VACUUM` and `RESTORE`, which Sail cannot parse, are run by delta-rs with delta-spark's meaning and
  answer (`sql/maintenance.py`); `DESCRIBE HISTORY` is answered from the Delta log (`tables/history.py`).
`SparkResource` applies these to its Sail session, once; `sail.connect()` (the probes' and the
benchmarks' session) shows Sail as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.runtime.sail import is_sail
from lakehouse_jobs.lib.sql.statements import inline_markers, is_query

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def supply(session: Any) -> Any:
    """`session` with both supplies (applied once per session)."""
    if getattr(session, "_lakehouse_supplied", False):
        return session
    original = session.sql

    def sql(sqlQuery: Any, args: Any = None, **kwargs: Any) -> Any:  # noqa: N803 - PySpark's parameter name
        from lakehouse_jobs.lib.catalog import sail_statements, unity_rest
        from lakehouse_jobs.lib.sql import delta_paths, maintenance

        if isinstance(sqlQuery, str) and (answer := delta_paths.history(session, sqlQuery, _named_path())) is not None:
            return answer
        if isinstance(sqlQuery, str) and (answer := maintenance.run(session, sqlQuery, _named_path())) is not None:
            return answer
        if isinstance(sqlQuery, str) and delta_paths.run(session, sqlQuery, args, named_path=_named_path()):
            return delta_paths.result(session)
        if isinstance(sqlQuery, str) and sail_statements.run(session, sqlQuery):
            return delta_paths.result(session)
        query = sqlQuery
        if isinstance(query, str) and isinstance(args, dict) and args and all(isinstance(v, str) for v in args.values()) and not is_query(query):
            query, args = inline_markers(query, args), None  # Sail binds markers in queries only
        mark = unity_rest.refusal_mark()
        try:
            answer = original(query, args, **kwargs)
            return sail_statements.reshape(query, answer) if isinstance(query, str) else answer
        except Exception as error:
            refusal = unity_rest.refusal_since(mark, error)
            if refusal is None:
                raise
            raise LakehouseError(f"the lakehouse catalog refused the statement: {refusal}") from None

    session.sql = sql
    session._lakehouse_supplied = True
    _writers_carry_commit_metadata()
    _datediff_as_int()
    return session


def _datediff_as_int() -> None:
    """`F.datediff`/`F.date_diff` answer an int, as on the JVM: Sail's is a 64-bit bigint (probes `datediff_type`,
    `datediff_python`), which would change the type of a table's column. The Python API only: `datediff` in SQL text
    stays Sail's, and a task's code using it there is read as needing the JVM (jobs/source_needs.py). A process runs
    one engine, so every Connect column here is for Sail (on a JVM Connect server the cast changes nothing)."""
    import functools

    from pyspark.sql.connect import functions

    if _SAIL_FUNCTIONS:
        return
    for name in ("datediff", "date_diff"):
        original = _SAIL_FUNCTIONS[name] = getattr(functions, name)

        def as_int(end: Any, start: Any, _original: Any = original) -> Any:
            return _original(end, start).cast("int")

        setattr(functions, name, functools.update_wrapper(as_int, original))


_SAIL_FUNCTIONS: dict[str, Any] = {}  # PySpark's Connect functions this module replaced, by name


@contextlib.contextmanager
def functions_as_sail() -> Iterator[None]:
    """PySpark's own Connect functions inside the block (engine_probe.py's `sail` column shows Sail as it is)."""
    from pyspark.sql.connect import functions

    supplied = {name: getattr(functions, name) for name in _SAIL_FUNCTIONS}
    for name, original in _SAIL_FUNCTIONS.items():
        setattr(functions, name, original)
    try:
        yield
    finally:
        for name, replaced in supplied.items():
            setattr(functions, name, replaced)


def _named_path() -> Any:
    """`unity_rest.table_folder` when this process serves the lakehouse's names to Sail, else None."""
    from lakehouse_jobs.lib.catalog import unity_rest

    return unity_rest.table_folder if unity_rest.served_root() is not None else None


def _save_as_table(writer: Any, name: str, format: str | None = None, mode: str | None = None, partitionBy: Any = None, **options: Any) -> None:  # noqa: A002, N803 - PySpark's names
    """`DataFrameWriter.saveAsTable` on Sail: the table's folder by the naming rule, with Spark's modes (Sail's catalog
    would make the table catalog-managed, unreadable by other Delta readers: `unity_rest.table_folder`)."""
    from lakehouse_jobs.lib.catalog.unity_rest import table_folder
    from lakehouse_jobs.lib.tables.delta_io import is_delta_table

    path, marks = table_folder(writer._spark, name)
    if format is not None:
        writer.format(format)
    if partitionBy is not None:
        writer.partitionBy(partitionBy)
    writer.options(**options)
    wanted = (mode or writer._write.mode or "errorifexists").lower()
    exists = is_delta_table(path)
    if exists and wanted in ("error", "errorifexists", "default"):
        from pyspark.errors import AnalysisException

        raise AnalysisException(f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {name} because it already exists.")
    if exists and wanted == "ignore":
        return
    if wanted == "overwrite":
        writer.option("overwriteSchema", "true")
    if not exists or wanted == "overwrite":
        writer.options(**marks)
    writer.mode("overwrite" if wanted == "overwrite" else "append").save(str(path))


def _to_change_feed_table(writer: Any, path: str) -> bool:
    """Whether `writer`'s Delta save to `path` was done here: a table with the change data feed, which Sail cannot write,
    is written by delta-rs with the writer's mode and options (`delta_rs_write.save_by_writer`)."""
    from pyspark.sql.connect.dataframe import DataFrame

    from lakehouse_jobs.lib.tables.delta_io import change_feed_enabled
    from lakehouse_jobs.lib.tables.delta_rs_write import save_by_writer

    operation = writer._write
    if (operation.source or "delta").lower() != "delta" or not change_feed_enabled(path):
        return False
    save_by_writer(DataFrame(writer._df, writer._spark), path, operation.mode, dict(operation.options), list(operation.partitioning_cols))
    return True


def volume_local(path: Any) -> Any:
    """`/Volumes/<catalog>/<schema>/<volume>/...` as its folder under the lakehouse root this process serves to Sail (the JVM
    maps them in its file system, catalog/conf.py; neither reads `dbfs:` paths); any other path as it is."""
    from lakehouse_jobs.lib.catalog import unity_rest
    from lakehouse_jobs.lib.catalog.names import volume_path

    root = unity_rest.served_root()
    if root is None or not isinstance(path, str) or not path.startswith("/Volumes/"):
        return path
    return str(volume_path(path, root))


def _writers_carry_commit_metadata() -> None:
    from pyspark.sql.connect.readwriter import DataFrameReader, DataFrameWriter

    if getattr(DataFrameWriter, "_lakehouse_commit_metadata", False):
        return
    original = DataFrameWriter.__init__

    def __init__(self: Any, plan: Any, session: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - the patched constructor
        original(self, plan, session, *args, **kwargs)
        if is_sail(session):
            value = session.conf.get(USER_METADATA_CONF, None)
            if value:
                self.option("userMetadata", value)

    original_save_as_table = DataFrameWriter.saveAsTable

    def saveAsTable(self: Any, name: str, *args: Any, **kwargs: Any) -> None:  # noqa: N802 - PySpark's name
        if is_sail(self._spark) and _named_path() is not None:
            return _save_as_table(self, name, *args, **kwargs)
        return original_save_as_table(self, name, *args, **kwargs)

    original_save = DataFrameWriter.save

    def save(self: Any, path: str | None = None, format: str | None = None, mode: str | None = None, partitionBy: Any = None, **options: Any) -> None:  # noqa: A002, N803 - PySpark's names
        if is_sail(self._spark) and path is not None:
            path = volume_local(path)
            self.mode(mode).options(**options)
            if partitionBy is not None:
                self.partitionBy(partitionBy)
            if format is not None:
                self.format(format)
            if _to_change_feed_table(self, path):
                return None
            return original_save(self, path)
        return original_save(self, path, format, mode, partitionBy, **options)

    original_load = DataFrameReader.load

    def load(self: Any, path: Any = None, *args: Any, **kwargs: Any) -> Any:
        if is_sail(self._client):  # the reader's session
            path = [volume_local(p) for p in path] if isinstance(path, list | tuple) else volume_local(path)
        return original_load(self, path, *args, **kwargs)

    DataFrameReader.load = load
    DataFrameWriter.__init__ = __init__
    DataFrameWriter.saveAsTable = saveAsTable
    DataFrameWriter.save = save
    DataFrameWriter._lakehouse_commit_metadata = True
