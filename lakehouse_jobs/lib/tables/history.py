"""`DESCRIBE HISTORY` answered from a table's Delta log (delta-rs), for an engine that cannot parse it (Sail).

Rows as Delta's own command gives them: newest first, one per commit, Spark's columns and types;
the commit's `operationParameters` and `operationMetrics` as strings (a commit delta-rs wrote
records numbers there: they are given as their JSON text, as Spark's writer records them).
`job`, `notebook`, `clusterId`, `userId` and `userName` are null locally, as on the JVM here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

SCHEMA = (
    "version BIGINT, timestamp TIMESTAMP, userId STRING, userName STRING, operation STRING, operationParameters MAP<STRING, STRING>, "
    "job STRUCT<jobId: STRING, jobName: STRING, jobRunId: STRING, runId: STRING, jobOwnerId: STRING, triggerType: STRING>, "
    "notebook STRUCT<notebookId: STRING>, clusterId STRING, readVersion BIGINT, isolationLevel STRING, isBlindAppend BOOLEAN, "
    "operationMetrics MAP<STRING, STRING>, userMetadata STRING, engineInfo STRING"
)


def _texts(values: Any) -> dict[str, str] | None:
    if not isinstance(values, dict):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def history_rows(path: str | Path, limit: int | None = None) -> list[tuple]:
    """The table's commits, newest first (at most `limit`), as rows of SCHEMA."""
    from deltalake import DeltaTable

    rows = []
    for commit in DeltaTable(str(path)).history(limit):
        stamp = commit.get("timestamp")
        rows.append(
            (
                commit.get("version"),
                dt.datetime.fromtimestamp(stamp / 1000, dt.UTC) if isinstance(stamp, int | float) else None,
                commit.get("userId"),
                commit.get("userName"),
                commit.get("operation"),
                _texts(commit.get("operationParameters")),
                None,
                None,
                commit.get("clusterId"),
                commit.get("readVersion"),
                commit.get("isolationLevel"),
                commit.get("isBlindAppend"),
                _texts(commit.get("operationMetrics")),
                commit.get("userMetadata"),
                commit.get("engineInfo"),
            )
        )
    return rows


def describe_history(spark: Any, path: str | Path, limit: int | None = None) -> Any:
    """`DESCRIBE HISTORY` of the Delta table at `path` as a DataFrame on `spark`."""
    return spark.createDataFrame(history_rows(path, limit), SCHEMA)
