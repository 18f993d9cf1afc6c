"""`from databricks.sdk.runtime import dbutils, spark` inside a notebook task gets the run's objects.

databricks-sdk (a dependency, also required by mlflow) builds `databricks.sdk.runtime`'s globals
when first imported: from `dbruntime.UserNamespaceInitializer` on a Databricks cluster, else by
connecting to a workspace (which fails without credentials). We import it once with a private
`dbruntime` stand-in whose namespace is empty (removed from sys.modules right after, so nothing
else believes it runs on Databricks), then set the module's globals to the run's objects for the
duration of each run and restore them afterwards.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Iterator, Mapping
from typing import Any

NAMES = ("display", "displayHTML", "dbutils", "table", "sql", "udf", "getArgument", "sc", "sqlContext", "spark")
_LOCK = threading.Lock()


def _runtime_module() -> types.ModuleType:
    with _LOCK:
        existing = sys.modules.get("databricks.sdk.runtime")
        if existing is not None:
            return existing
        saved = sys.modules.get("dbruntime")
        standin = types.ModuleType("dbruntime")

        class UserNamespaceInitializer:
            @staticmethod
            def getOrCreate() -> UserNamespaceInitializer:  # noqa: N802 - the name databricks-sdk calls
                return UserNamespaceInitializer()

            def get_namespace_globals(self) -> dict[str, Any]:
                return {}

        standin.UserNamespaceInitializer = UserNamespaceInitializer
        sys.modules["dbruntime"] = standin
        try:
            import databricks.sdk.runtime as module
        finally:
            if saved is None:
                sys.modules.pop("dbruntime", None)
            else:
                sys.modules["dbruntime"] = saved
        return module


@contextlib.contextmanager
def bound(namespace: Mapping[str, Any]) -> Iterator[None]:
    """databricks.sdk.runtime's globals are `namespace`'s objects during the block."""
    module = _runtime_module()
    missing = object()
    saved = {name: getattr(module, name, missing) for name in NAMES}
    for name in NAMES:
        if name in namespace:
            setattr(module, name, namespace[name])
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, None if value is missing else value)  # None outside a run, as databricks-sdk's own fallback
