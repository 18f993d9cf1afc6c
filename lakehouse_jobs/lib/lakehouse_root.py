"""Where the lakehouse lives: `$LAKEHOUSE_ROOT`, else `data/` (relative to the working directory).

Its own module, free of Dagster, so a process that needs only the root and the naming rule (a Sail job
cluster's catalog server, runtime/sail_cluster.py) starts without importing it; `tables/lakehouse.py`'s
`LakehouseResource` takes its default from here.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "data"


def default_root() -> str:
    return os.environ.get("LAKEHOUSE_ROOT") or DEFAULT_ROOT
