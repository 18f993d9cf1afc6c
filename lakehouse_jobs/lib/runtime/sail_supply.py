"""What the project supplies on its run sessions on Sail, where Sail lacks what Databricks code relies on.

- `spark.sql` runs `INSERT INTO|OVERWRITE` and `CREATE [OR REPLACE] TABLE` on `delta.`path`` with
  Spark's meaning (Sail reads `delta` there as a database: `sql/delta_paths.py`);
- named parameter markers bound to strings in a statement that is not a query (MERGE, UPDATE, ...), which Sail refuses
  ("command with parameters"), are bound here as literals, as Spark binds them (`sql/statements.inline_markers`);
- every DataFrame writer carries the session's `spark.databricks.delta.commitInfo.userMetadata` as
  its `userMetadata` option: Sail ignores the setting (probe `user_metadata_conf`) and honours the
  option, and a task's observed lineage (`jobs/lineage.py`) finds its commits by it. A writer's own
  option still wins, as on the JVM.
`SparkResource` applies both to its Sail session, once; `sail.connect()` (the probes' and the
benchmarks' session) shows Sail as it is.
"""

from __future__ import annotations

from typing import Any

from lakehouse_jobs.lib.runtime.sail import is_sail
from lakehouse_jobs.lib.sql.statements import inline_markers, is_query

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def supply(session: Any) -> Any:
    """`session` with both supplies (applied once per session)."""
    if getattr(session, "_lakehouse_supplied", False):
        return session
    original = session.sql

    def sql(sqlQuery: Any, args: Any = None, **kwargs: Any) -> Any:  # noqa: N803 - PySpark's parameter name
        from lakehouse_jobs.lib.sql import delta_paths

        if isinstance(sqlQuery, str) and delta_paths.run(session, sqlQuery, args):
            return delta_paths.result(session)
        if isinstance(sqlQuery, str) and isinstance(args, dict) and args and all(isinstance(v, str) for v in args.values()) and not is_query(sqlQuery):
            return original(inline_markers(sqlQuery, args), None, **kwargs)  # Sail binds markers in queries only
        return original(sqlQuery, args, **kwargs)

    session.sql = sql
    session._lakehouse_supplied = True
    _writers_carry_commit_metadata()
    return session


def _writers_carry_commit_metadata() -> None:
    from pyspark.sql.connect.readwriter import DataFrameWriter

    if getattr(DataFrameWriter, "_lakehouse_commit_metadata", False):
        return
    original = DataFrameWriter.__init__

    def __init__(self: Any, plan: Any, session: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - the patched constructor
        original(self, plan, session, *args, **kwargs)
        if is_sail(session):
            value = session.conf.get(USER_METADATA_CONF, None)
            if value:
                self.option("userMetadata", value)

    DataFrameWriter.__init__ = __init__
    DataFrameWriter._lakehouse_commit_metadata = True
