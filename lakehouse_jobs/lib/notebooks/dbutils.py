"""A local `dbutils`: widgets, jobs.taskValues, notebook, fs and secrets, as Databricks documents them.

    from lakehouse_jobs.lib.notebooks.dbutils import DBUtils
    dbutils = DBUtils(spark, lakehouse_root, {"date": "2024-01-01"})

`DBUtils(spark, lakehouse_root, parameters=None, *, notebook_runner=None)`:
- `parameters`: the task's parameters (strings), what `dbutils.widgets.get` returns;
- `lakehouse_root`: confines `dbutils.fs` (see `fs.py` for the dbfs:/ and /Volumes mapping);
- `notebook_runner(path, timeout_seconds, arguments) -> str`: what `dbutils.notebook.run`
  calls (the notebook runner passes its own; without one `notebook.run` is refused).

Secrets come from environment variables `LAKEHOUSE_SECRET_<SCOPE>_<KEY>` (upper-cased, every
non-alphanumeric character -> `_`); every value read is remembered in `secrets.read_values` so
the notebook runner can redact it from captured output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.jobs import task_values
from lakehouse_jobs.lib.notebooks.fs import LocalFS

SECRET_PREFIX = "LAKEHOUSE_SECRET_"  # noqa: S105 - an environment variable prefix, not a secret
SECRET_SCOPES_ENV = "LAKEHOUSE_SECRET_SCOPES"  # noqa: S105 - a variable name
MAX_EXIT_BYTES = 5 * 1024 * 1024


class InputWidgetNotDefined(Exception):
    """com.databricks.dbutils_v1.InputWidgetNotDefined: reading or removing a widget that does not exist."""


class NotebookExit(BaseException):
    """Raised by `dbutils.notebook.exit(value)`; the notebook runner ends the run successfully with `value`."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class SecretNotFound(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class _Widget:
    kind: str
    default: str
    choices: tuple[str, ...] = ()
    label: str | None = None


class Widgets:
    """Widget values come from the task's parameters; a widget's default applies when no parameter names it."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self._parameters = {str(k): str(v) for k, v in (parameters or {}).items()}
        self._widgets: dict[str, _Widget] = {}

    def _define(self, name: str, default: Any, kind: str, choices: Any = (), label: str | None = None) -> None:
        default = "" if default is None else str(default)
        values = tuple(str(c) for c in (choices or ()))
        if kind in ("dropdown", "multiselect"):
            if not values:
                raise ValueError(f"widget {name!r}: a {kind} needs at least one choice")
            chosen = default.split(",") if kind == "multiselect" else [default]
            bad = [v for v in chosen if v not in values]
            if bad:
                raise ValueError(f"widget {name!r}: default value {default!r} is not one of its choices {list(values)}")
            given = self._parameters.get(name)
            if given is not None:
                wrong = [v for v in (given.split(",") if kind == "multiselect" else [given]) if v not in values]
                if wrong:
                    raise ValueError(f"widget {name!r}: parameter value {given!r} is not one of its choices {list(values)}")
        self._widgets.setdefault(name, _Widget(kind, default, values, label))

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:  # noqa: N803 - Databricks' names
        self._define(name, defaultValue, "text", label=label)

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._define(name, defaultValue, "dropdown", choices, label)

    def combobox(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._define(name, defaultValue, "combobox", (), label)
        self._widgets[name].choices = tuple(str(c) for c in choices or ())

    def multiselect(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._define(name, defaultValue, "multiselect", choices, label)

    def get(self, name: str) -> str:
        if name in self._parameters:
            return self._parameters[name]
        if name in self._widgets:
            return self._widgets[name].default
        raise InputWidgetNotDefined(f"No input widget named {name} is defined")

    def getArgument(self, name: str, defaultValue: str | None = None) -> str | None:  # noqa: N802, N803 - Databricks' names
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            return defaultValue

    def getAll(self) -> dict[str, str]:  # noqa: N802
        return {**{name: w.default for name, w in self._widgets.items()}, **self._parameters}

    def remove(self, name: str) -> None:
        if name not in self._widgets:
            raise InputWidgetNotDefined(f"No input widget named {name} is defined")
        del self._widgets[name]

    def removeAll(self) -> None:  # noqa: N802
        self._widgets.clear()


class TaskValues:
    """`dbutils.jobs.taskValues` over `lakehouse_jobs.lib.jobs.task_values` (JSON, <= 48 KiB)."""

    def set(self, key: str, value: Any) -> None:
        task_values.set(key, value)

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:  # noqa: N803
        return task_values.get(taskKey, key, default, debugValue)


class Jobs:
    def __init__(self) -> None:
        self.taskValues = TaskValues()


class NotebookUtils:
    def __init__(self, runner: Callable[[str, int, Mapping[str, str]], str] | None) -> None:
        self._runner = runner

    def exit(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if len(text.encode()) > MAX_EXIT_BYTES:
            raise ValueError(f"dbutils.notebook.exit value is {len(text.encode())} bytes; the limit is 5 MB")
        raise NotebookExit(text)

    def run(self, path: str, timeout_seconds: int = 0, arguments: Mapping[str, Any] | None = None) -> str:
        if self._runner is None:
            raise RuntimeError("dbutils.notebook.run can only run inside a notebook task")
        return self._runner(path, int(timeout_seconds or 0), {str(k): str(v) for k, v in (arguments or {}).items()})


@dataclass(frozen=True)
class SecretScope:
    name: str


@dataclass(frozen=True)
class SecretMetadata:
    key: str


def secret_variable(scope: str, key: str) -> str:
    """`LAKEHOUSE_SECRET_<SCOPE>_<KEY>`, upper-cased, non-alphanumerics as `_`."""
    return SECRET_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()


class Secrets:
    """Secrets from the environment; `read_values` holds every value handed out (for redaction)."""

    def __init__(self) -> None:
        self.read_values: set[str] = set()

    def get(self, scope: str, key: str) -> str:
        variable = secret_variable(scope, key)
        value = os.environ.get(variable)
        if value is None:
            raise SecretNotFound(f"secret {key!r} of scope {scope!r} is not set: set the environment variable {variable}")
        if value:
            self.read_values.add(value)
        return value

    def getBytes(self, scope: str, key: str) -> bytes:  # noqa: N802 - Databricks' name
        return self.get(scope, key).encode()

    def list(self, scope: str) -> list[SecretMetadata]:
        prefix = secret_variable(scope, "")
        return [SecretMetadata(name[len(prefix) :].lower()) for name in sorted(os.environ) if name.startswith(prefix) and len(name) > len(prefix)]

    def listScopes(self) -> list[SecretScope]:  # noqa: N802
        """The scopes in `$LAKEHOUSE_SECRET_SCOPES` (comma-separated), else the first word of each secret variable."""
        named = [s.strip() for s in os.environ.get(SECRET_SCOPES_ENV, "").split(",") if s.strip()]
        if not named:
            names = [n[len(SECRET_PREFIX) :] for n in os.environ if n.startswith(SECRET_PREFIX) and n != SECRET_SCOPES_ENV]
            named = sorted({n.split("_")[0].lower() for n in names if n})
        return [SecretScope(s) for s in named]


class DBUtils:
    """The `dbutils` of one notebook run (or of any task that wants one; see the module docstring)."""

    def __init__(
        self,
        spark: Any,
        lakehouse_root: str | Path,
        parameters: Mapping[str, Any] | None = None,
        *,
        notebook_runner: Callable[[str, int, Mapping[str, str]], str] | None = None,
    ) -> None:
        self.spark = spark
        self.widgets = Widgets(parameters)
        self.jobs = Jobs()
        self.notebook = NotebookUtils(notebook_runner)
        self.fs = LocalFS(lakehouse_root)
        self.secrets = Secrets()

    def help(self) -> None:
        print(
            "dbutils (local): widgets, jobs.taskValues, notebook (exit, run), fs (ls, cp, mv, rm, mkdirs, put, head), secrets (get, getBytes, list, listScopes)"
        )
