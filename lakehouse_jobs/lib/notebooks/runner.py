"""Run a notebook's cells in order, in one namespace, on the run's SparkSession.

Globals: `spark`, `sc` (classic sessions only), `dbutils`, `display`, `displayHTML`,
`getArgument`, `__name__ == "__main__"`. Per cell kind:

- python: compiled with filename `<path> [cell N]`, padded so traceback lines are file lines;
- sql: each statement on the session, split and bound by `lakehouse_jobs.lib.sql.statements` (the
  project's one SQL splitter, shared with sql_task): widget values bind the `:name` markers and
  replace the legacy `${name}` forms; every statement runs, the last result is displayed and bound
  to `_sqldf` as Databricks does;
- run: `%run ./other $name="value"` runs `other` in the SAME namespace (paths from the calling
  notebook's folder); the `$name` arguments are widget values while it runs;
- sh: `bash -c` in the notebook's folder; a non-zero exit fails the cell with its stderr tail;
- fs: `%fs <command> <args>` calls `dbutils.fs`; md: collected as documentation;
- pip: `%pip install` skips what the environment satisfies and installs the rest (names or .whl files)
  for this notebook run only: a cached `pip install --target`, on sys.path until the run ends
  (installing packages per job is not done).
scala/r (and conda) cells cannot run locally: `unsupported_cells` lists them for validation.
Any failure is one line: `notebook <path>, cell N (line L): ExceptionType: message`.
"""

from __future__ import annotations

import builtins
import contextlib
import linecache
import shlex
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib import workspace
from lakehouse_jobs.lib.jobs.task_run import TaskFailure
from lakehouse_jobs.lib.notebooks import paths
from lakehouse_jobs.lib.notebooks.dbutils import DBUtils, NotebookExit
from lakehouse_jobs.lib.notebooks.display import Display
from lakehouse_jobs.lib.notebooks.source import LOCAL_KINDS, Cell, Notebook, parse_file
from lakehouse_jobs.lib.runtime import wheels
from lakehouse_jobs.lib.runtime.output import redact
from lakehouse_jobs.lib.sql import statements

STDERR_TAIL = 2000


class NotebookError(TaskFailure):
    """A cell failed (the message is the whole one-line report; a task shows it as is)."""


@dataclass
class NotebookResult:
    path: Path
    cells_run: int = 0
    exit_value: str | None = None
    markdown: list[str] = field(default_factory=list)
    displays: list[str] = field(default_factory=list)


def unsupported_cells(notebook: Notebook) -> list[str]:
    """One sentence per cell that cannot run locally (scala, r, conda)."""
    return [
        f"notebook {notebook.path}, cell {c.number} (line {c.line}): %{c.kind} cells cannot run locally" for c in notebook.cells if c.kind not in LOCAL_KINDS
    ]


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


class NotebookRunner:
    """One notebook run (and the notebooks it `%run`s); `notebook.run` children get their own runner."""

    def __init__(
        self,
        spark: Any,
        lakehouse_root: str | Path,
        workspace_root: Path,
        parameters: Mapping[str, str] | None = None,
        *,
        secrets: set[str] | None = None,
        run_child: Callable[[Callable[[], Any], int, str], Any] | None = None,
    ) -> None:
        self.spark, self.lakehouse_root, self.workspace_root = spark, lakehouse_root, Path(workspace_root)
        self.secrets = secrets if secrets is not None else set()
        self._run_child = run_child or (lambda fn, _timeout, _label: fn())
        self.display = Display(lambda text: redact(text, self.secrets))
        self.dbutils = DBUtils(spark, lakehouse_root, parameters, notebook_runner=self._notebook_run)
        self.dbutils.secrets.read_values = self.secrets
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "spark": spark, "dbutils": self.dbutils,
                                          "display": self.display.display, "displayHTML": self.display.displayHTML,
                                          "getArgument": self.dbutils.widgets.getArgument, "sql": spark.sql, "table": spark.table}  # fmt: skip
        sc = _spark_context(spark)
        if sc is not None:
            self.namespace["sc"] = sc
        self.result: NotebookResult | None = None
        self._stack: list[Path] = []
        self._libraries = contextlib.ExitStack()

    def run(self, path: Path) -> NotebookResult:
        """Every cell of the notebook at `path`; `dbutils.notebook.exit` ends it successfully.

        Libraries a `%pip install` added are importable until the run ends, then removed.
        """
        self.result = NotebookResult(Path(path), displays=self.display.items)
        with self._libraries:
            try:
                self._run_notebook(parse_file(path))
            except NotebookExit as exc:
                self.result.exit_value = exc.value
        return self.result

    def _run_notebook(self, notebook: Notebook) -> None:
        if notebook.path in self._stack:
            chain = " -> ".join(str(p) for p in [*self._stack, notebook.path])
            raise NotebookError(f"notebook {notebook.path} is %run recursively ({chain})")
        refused = unsupported_cells(notebook)
        if refused:
            raise NotebookError(refused[0])
        self._stack.append(notebook.path)
        try:
            for cell in notebook.cells:
                self._run_cell(notebook, cell)
                assert self.result is not None
                self.result.cells_run += 1
        finally:
            self._stack.pop()

    def _run_cell(self, notebook: Notebook, cell: Cell) -> None:
        assert self.result is not None
        if cell.kind == "md":
            self.result.markdown.append(cell.source)
            return
        try:
            getattr(self, f"_{cell.kind}")(notebook, cell)
        except (NotebookExit, NotebookError):
            raise
        except SyntaxError as exc:
            line = exc.lineno if exc.filename == _filename(notebook, cell) and exc.lineno else cell.line
            raise NotebookError(redact(f"{notebook.where(cell, line)}: SyntaxError: {exc.msg}", self.secrets)) from None
        except Exception as exc:  # noqa: BLE001 - user code: reported in one line
            line = _traceback_line(exc, _filename(notebook, cell)) or getattr(exc, "_notebook_line", None) or cell.line
            raise NotebookError(redact(f"{notebook.where(cell, line)}: {type(exc).__name__}: {_first_line(str(exc))}", self.secrets)) from None

    def _python(self, notebook: Notebook, cell: Cell) -> None:
        filename = _filename(notebook, cell)
        padded = "\n" * (cell.line - 1) + cell.source + "\n"
        linecache.cache[filename] = (len(padded), None, padded.splitlines(keepends=True), filename)
        exec(compile(padded, filename, "exec"), self.namespace)  # noqa: S102 - running the user's notebook is the point

    def _sql(self, notebook: Notebook, cell: Cell) -> None:
        last, widgets = None, self.dbutils.widgets.getAll()
        found = statements.split_statements(cell.source)
        for position, statement in enumerate(found):
            text, args = statements.bind(statement.text, widgets)
            try:
                if args and not statements.native_markers(self.spark):
                    text, args = statements.inline_markers(text, args), {}
                last = self.spark.sql(text, args=args) if args else self.spark.sql(text)
                if position < len(found) - 1 and statements.is_query(text):
                    last.write.format("noop").mode("overwrite").save()  # every query runs, as in the cell on Databricks
            except Exception as exc:
                exc._notebook_line = cell.line + statement.line - 1  # type: ignore[attr-defined]
                raise
        if last is not None:
            self.namespace["_sqldf"] = last
            if last.columns:
                self.display.display(last)

    def _run(self, notebook: Notebook, cell: Cell) -> None:
        words = shlex.split(cell.argument or cell.source)
        if not words:
            raise ValueError("%run needs a notebook path")
        target = paths.resolve(words[0], notebook.path.parent, self.workspace_root)
        arguments = {}
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if not sep or not name.startswith("$") or len(name) < 2:
                raise ValueError(f"%run arguments are $name=value, got {word!r}")
            arguments[name[1:]] = value
        widgets = self.dbutils.widgets._parameters
        saved = dict(widgets)
        widgets.update(arguments)
        try:
            self._run_notebook(parse_file(target))
        finally:
            widgets.clear()
            widgets.update(saved)

    def _sh(self, notebook: Notebook, cell: Cell) -> None:
        script = "\n".join(part for part in (cell.argument, cell.source) if part)
        done = subprocess.run(["bash", "-c", script], cwd=notebook.path.parent, capture_output=True, text=True, check=False)
        if done.stdout:
            sys.stdout.write(done.stdout)
        if done.stderr:
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            tail = done.stderr.strip()[-STDERR_TAIL:].strip().replace("\n", " | ")
            raise RuntimeError(f"%sh exited with status {done.returncode}: {tail or '(no stderr)'}")

    def _fs(self, notebook: Notebook, cell: Cell) -> None:
        words = shlex.split(cell.argument or cell.source)
        if not words:
            raise ValueError("%fs needs a command (ls, cp, mv, rm, mkdirs, put, head)")
        command, args = words[0], [w for w in words[1:] if w not in ("-r", "--recurse")]
        recurse = len(args) != len(words) - 1
        if command not in ("ls", "cp", "mv", "rm", "mkdirs", "put", "head"):
            raise ValueError(f"%fs {command} is not a dbutils.fs command here (ls, cp, mv, rm, mkdirs, put, head)")
        kwargs = {"recurse": True} if recurse else {}
        result = getattr(self.dbutils.fs, command)(*args, **kwargs)
        if command == "ls":
            self.display.display([{"path": f.path, "name": f.name, "size": f.size, "modificationTime": f.modificationTime} for f in result])
        elif command == "head":
            print(result)

    def _pip(self, notebook: Notebook, cell: Cell) -> None:
        """Notebook-scoped libraries: what the environment lacks is installed for this run only."""
        words = shlex.split(cell.argument or cell.source)
        if not words or words[0] != "install":
            raise ValueError(f"only '%pip install' runs here, got '%pip {' '.join(words)}'")
        missing = []
        for word in words[1:]:
            if word.startswith("-"):
                if word in ("-q", "--quiet", "-U", "--upgrade"):
                    continue
                raise ValueError(f"%pip install option {word} is not supported here (name packages or wheel files)")
            if not _satisfied(word):
                missing.append(self._wheel_file(notebook, word) if word.endswith(".whl") else word)
        if missing:
            try:
                folder, cached = wheels.install_requirements(missing)
            except wheels.WheelError as exc:
                raise RuntimeError(f"%pip install {' '.join(missing)}: {exc}") from None
            print(f"%pip install {' '.join(missing)}: {'cached' if cached else 'installed'} for this notebook run only ({folder})")
            self._libraries.enter_context(wheels.activated([folder]))

    def _wheel_file(self, notebook: Notebook, word: str) -> str:
        """A wheel named by path: relative to the notebook, /Workspace/... or /Volumes/... mapped like dbutils.fs."""
        if word.startswith(("/Volumes/", "dbfs:/", "/dbfs/")):
            return str(self.dbutils.fs.to_local(word))
        return str(workspace.find(word, notebook.path.parent, "%pip install wheel", root=self.workspace_root))

    def _notebook_run(self, path: str, timeout_seconds: int, arguments: Mapping[str, str]) -> str:
        """`dbutils.notebook.run`: a child run with its own namespace; its exit value ("" without one)."""
        base = self._stack[-1].parent if self._stack else Path.cwd()
        target = paths.resolve(path, base, self.workspace_root)
        child = NotebookRunner(self.spark, self.lakehouse_root, self.workspace_root, arguments, secrets=self.secrets, run_child=self._run_child)
        child.display.items = self.display.items  # its previews land in this run's metadata too
        result = self._run_child(lambda: child.run(target), timeout_seconds, f"notebook {target}")
        return result.exit_value if result.exit_value is not None else ""


def _filename(notebook: Notebook, cell: Cell) -> str:
    return f"{notebook.path} [cell {cell.number}]"


def _traceback_line(exc: BaseException, filename: str) -> int | None:
    """The deepest line of `filename` (the cell) in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def _spark_context(spark: Any) -> Any:
    try:
        return spark.sparkContext
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return None


def _satisfied(word: str) -> bool:
    """Whether the environment already satisfies a requirement (a wheel file never is: it is installed)."""
    from packaging.requirements import InvalidRequirement, Requirement

    if word.endswith(".whl"):
        return False
    try:
        requirement = Requirement(word)
    except InvalidRequirement:
        raise ValueError(f"%pip install {word}: not a package requirement or a .whl file") from None
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return False
    return not requirement.specifier or requirement.specifier.contains(installed, prereleases=True)
