"""What api.py's functions act on: the graph being loaded and, during an update, the reads.

Context variables, set by sources.graph_context; kept apart from api.py so sql.py can use them
without importing the Python API (and api.py can use sql.py to read `spark.sql` strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from lakehouse_jobs.lib.pipelines import naming
from lakehouse_jobs.lib.pipelines.graph import PipelineError, PipelineGraph


@dataclass
class Loading:
    """The graph the sources being loaded add to."""

    graph: PipelineGraph


@dataclass
class Reading:
    """What `read`/`read_stream` return while an update runs (set by the runner)."""

    read: Callable[[naming.TableName, bool], Any]
    spark: Any = None
    read_files: Callable[..., Any] | None = None  # (path, format, options, streaming, auto_loader) -> DataFrame
    reads: set[naming.TableName] = field(default_factory=set)


loading_var: ContextVar[Loading | None] = ContextVar("lakehouse_pipeline_loading", default=None)
reading_var: ContextVar[Reading | None] = ContextVar("lakehouse_pipeline_reading", default=None)


def reading() -> Reading:
    """The running update's read context (for SQL flows and Auto Loader reads)."""
    state = reading_var.get()
    if state is None:
        raise PipelineError("a pipeline query ran outside a pipeline update")
    return state


def check_name(name: str) -> str:
    """A Dagster/Delta-safe check name for an expectation (Databricks allows any text)."""
    text = re.sub(r"\W+", "_", str(name)).strip("_") or "expectation"
    return text if text[0].isalpha() or text[0] == "_" else f"e_{text}"
