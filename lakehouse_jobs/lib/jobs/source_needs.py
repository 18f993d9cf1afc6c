"""What a task's own code uses that Sail lacks (`sail.LACKS`), read from its files before the run.

LAKEHOUSE_ENGINE=auto runs a notebook, Python script or SQL file task on Sail only when nothing
here is found in it (else the run goes to the JVM, the task's log naming the cell or line), and
LAKEHOUSE_ENGINE=sail refuses such a task before its first statement: never a table half-written
by a statement Sail cannot run. Each finding is one of `sail.LACKS`, each measured by the probes
`sail.LACK_PROBES` names (docs/engines.md).

Python is read with `ast` (names, attributes, keyword and string literals; a literal given to
`spark.sql` is read as SQL); SQL by its words outside strings and comments (`statements.code_text`),
and with sqlglot (Databricks dialect) for a `USING` join's columns named through an alias.
A notebook's `%run` notebooks, a literal `dbutils.notebook.run` target and the modules a file
imports from its own folder or the workspace root are read too. What cannot be read before the
run (a path known only then) is said as `unread`: `auto` keeps such a task on the JVM.
This is a reading, not a proof: code that builds a statement at run time hides from it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse_jobs.lib.runtime.sail import CHECKED_WHEN_RUN, LACKS
from lakehouse_jobs.lib.sql import statements

_MAX_FILES = 200  # files read for one task (its imports and %run notebooks); more is said as unread


@dataclass(frozen=True)
class Use:
    need: str  # a name of sail.LACKS
    where: str  # "notebook nb.py, cell 3 (line 12)", "etl.py, line 4", "q.sql, statement 2 (line 5)"
    what: str  # the word found: "input_file_name", "OPTIMIZE", "l.k"

    def sentence(self) -> str:
        return f"{self.where} uses {self.what}: {LACKS[self.need]}"


@dataclass(frozen=True)
class Reading:
    """What a task's files use that Sail lacks; `unread`: why some of its code could not be read before the run."""

    uses: tuple[Use, ...] = ()
    unread: str | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(sorted({u.need for u in self.uses}))

    def refused_on_sail(self) -> Reading:
        """The uses the sail engine refuses the task for before it starts (not those its session checks as they run)."""
        return Reading(tuple(u for u in self.uses if u.need not in CHECKED_WHEN_RUN))

    @property
    def fits_sail(self) -> bool:
        return not self.uses and self.unread is None

    def reason(self, limit: int = 3) -> str:
        """One sentence: the first use of each need (up to `limit`), or why the code is unread; "" when it fits Sail."""
        first: dict[str, Use] = {}
        for use in self.uses:
            first.setdefault(use.need, use)
        parts = [u.sentence() for u in list(first.values())[:limit]]
        if len(first) > limit:
            parts.append(f"and {len(first) - limit} more")
        if self.unread:
            parts.append(f"its code cannot all be read before the run: {self.unread}")
        return "; ".join(parts)


# Words of SQL (and of Python strings holding SQL expressions) and the need each shows.
_SQL_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), need)
    for pattern, need in (
        (r"\binput_file_name\s*\(", "file_lineage"),
        (r"\b_metadata\b", "file_lineage"),
        (r"\b(?:datediff|date_diff)\s*\(", "datediff_int"),
        (r"\bfrom_json\s*\(", "lenient_json"),
        (r"\btable_changes(?:_by_path)?\s*\(", "change_feed_reads"),
        (r"\b_corrupt_record\b", "corrupt_records"),
        (r"\bSTREAM\s*\(", "streaming"),
    )
)
_STATEMENT_START: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\s*(CACHE)\b", re.IGNORECASE), "cache_table"),
    (re.compile(r"\s*(MERGE\s+INTO|UPDATE|DELETE\s+FROM)\b", re.IGNORECASE), "feed_table_dml"),
)
_USING_JOIN = re.compile(r"\bJOIN\b.*?\bUSING\s*\(", re.IGNORECASE | re.DOTALL)

# Python names and attributes, string literals (option names, confs) and keyword arguments.
_PY_NAMES: dict[str, str] = {
    "sc": "classic_api", "sparkContext": "classic_api", "rdd": "classic_api", "_jvm": "classic_api", "_jsc": "classic_api",
    "_jdf": "classic_api", "_jsparkSession": "classic_api",
    "observe": "collect_metrics", "Observation": "collect_metrics",
    "input_file_name": "file_lineage",
    "DeltaTable": "delta_table_api",
    "readStream": "streaming", "writeStream": "streaming",
    "from_json": "lenient_json",
}  # fmt: skip
_PY_STRINGS: dict[str, str] = {
    "readChangeFeed": "change_feed_reads", "readchangefeed": "change_feed_reads",
    "txnAppId": "idempotent_commits", "txnVersion": "idempotent_commits",
    "mergeSchema": "writer_checks", "replaceWhere": "writer_checks", "spark.databricks.delta.schema.autoMerge.enabled": "writer_checks",
    "columnNameOfCorruptRecord": "corrupt_records", "_corrupt_record": "corrupt_records",
}  # fmt: skip


def sql_uses(text: str, where: str, first_line: int = 1) -> list[Use]:
    """What SQL `text` uses that Sail lacks; `where` names the file (or cell), `first_line` the line text starts on."""
    found: list[Use] = []
    for statement in statements.split_statements(text):
        code = statements.code_text(statement.text)
        at = f"{where}, statement {statement.number} (line {first_line + statement.line - 1})"
        found.extend(_sql_statement_uses(code, at))
    return found


def _sql_statement_uses(code: str, at: str) -> Iterator[Use]:
    for pattern, need in _STATEMENT_START:
        if match := pattern.match(code):
            yield Use(need, at, " ".join(match.group(1).upper().split()))
    yield from _word_uses(code, at)
    if _USING_JOIN.search(code) and (name := _using_join_name(code)):
        yield Use("using_join_names", at, name)


def _word_uses(code: str, at: str) -> Iterator[Use]:
    for pattern, need in _SQL_WORDS:
        if match := pattern.search(code):
            yield Use(need, at, match.group(0).rstrip("( \t\n"))


def _using_join_name(code: str) -> str | None:
    """`alias.column` for a column of a `USING (...)` join named through a table alias in the same SELECT (None if none)."""
    import logging

    import sqlglot
    from sqlglot import exp

    quiet = logging.getLogger("sqlglot")
    level, quiet.level = quiet.level, logging.ERROR  # its "falling back to a Command" warnings are not the user's
    try:
        trees = sqlglot.parse(code, read="databricks")
    except sqlglot.errors.SqlglotError:
        return None  # Spark parses it, or refuses it on both engines; nothing to say here
    finally:
        quiet.level = level
    for tree in trees:
        for join in tree.find_all(exp.Join) if tree is not None else ():
            using = {u.name.lower() for u in join.args.get("using") or ()}
            select = join.find_ancestor(exp.Select)
            for column in select.find_all(exp.Column) if using and select is not None else ():
                if column.table and column.name.lower() in using:
                    return f"{column.table}.{column.name}"
    return None


class _Reader:
    """One task's reading: files already read, the uses found, and what could not be read."""

    def __init__(self, workspace_root: Path):
        self.root = workspace_root
        self.seen: set[Path] = set()
        self.uses: list[Use] = []
        self.unread: list[str] = []

    def name(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def first_time(self, path: Path) -> bool:
        path = path.resolve()
        if path in self.seen:
            return False
        if len(self.seen) >= _MAX_FILES:
            self.unread.append(f"it reaches more than {_MAX_FILES} files, not all read before the run")
            return False
        self.seen.add(path)
        return True

    def reading(self) -> Reading:
        return Reading(tuple(self.uses), "; ".join(dict.fromkeys(self.unread)) or None)

    def sql_file(self, path: Path) -> None:
        if self.first_time(path):
            self.uses.extend(sql_uses(_text(path), self.name(path)))

    def dbt_project(self, folder: Path) -> None:
        """Every SQL and Python file of a dbt project (models, macros, snapshots, tests, installed packages), Jinja as
        written; an incremental `merge` strategy and snapshots are SQL MERGE (dbt-spark's)."""
        for path in sorted(folder.rglob("*")):
            parts = path.relative_to(folder).parts
            if not path.is_file() or parts[0] in _DBT_OUTPUT or any(p.startswith(".") for p in parts):
                continue
            if path.suffix == ".sql" and self.first_time(path):
                text = _text(path)
                self.uses.extend(sql_uses(text, self.name(path)))
                if _DBT_MERGE.search(text) or _DBT_SNAPSHOT.search(text):
                    self.uses.append(Use("feed_table_dml", self.name(path), "dbt's MERGE (merge strategy or snapshot)"))
            elif path.suffix == ".py":
                self.python_file(path)
            elif path.name == "dbt_project.yml" and _DBT_MERGE.search(_text(path)):
                self.uses.append(Use("feed_table_dml", self.name(path), "dbt's MERGE (incremental_strategy merge)"))

    def python_file(self, path: Path) -> None:
        if self.first_time(path):
            self.python(_text(path), path, self.name(path), 1)

    def notebook(self, path: Path) -> None:
        from lakehouse_jobs.lib.notebooks.source import NotebookSourceError, parse_file

        if not self.first_time(path):
            return
        try:
            notebook = parse_file(path)
        except NotebookSourceError as exc:
            self.unread.append(str(exc))
            return
        for cell in notebook.cells:
            where = f"notebook {self.name(path)}, cell {cell.number}"
            if cell.kind == "python":
                self.python(cell.source, path, where, cell.line)
            elif cell.kind == "sql":
                self.uses.extend(sql_uses(cell.source, where, cell.line))
            elif cell.kind == "run":
                self.run_magic(cell.argument or cell.source, path)

    def run_magic(self, argument: str, caller: Path) -> None:
        import shlex

        try:
            words = shlex.split(argument)
        except ValueError:
            return  # the run refuses the %run line in its own words
        if words:
            self.child_notebook(words[0], caller)

    def child_notebook(self, target: str, caller: Path) -> None:
        from lakehouse_jobs.lib.notebooks.paths import NotebookPathError, resolve

        try:
            self.notebook(resolve(target, caller.parent, self.root))
        except NotebookPathError as exc:
            self.unread.append(str(exc))

    def python(self, source: str, path: Path, where: str, first_line: int) -> None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError):
            return  # the run says where; a file Python cannot compile runs on neither engine
        assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(tree):
            at = f"{where} (line {first_line + getattr(node, 'lineno', 1) - 1})"
            self.uses.extend(u for u in _python_node_uses(node, at) if not (isinstance(node, ast.Name) and node.id in assigned))
            if isinstance(node, ast.Call):
                self._call(node, path, at)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for module in _imported(node):
                    self._local_module(module, path)

    def _call(self, node: ast.Call, path: Path, at: str) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        text = _statement_text(first) if name == "sql" and first is not None else None
        if text is not None:
            for statement in statements.split_statements(text):
                self.uses.extend(u for u in _sql_statement_uses(statements.code_text(statement.text), at) if u.need not in _WORDS_DONE)
        if name == "run" and isinstance(func, ast.Attribute) and _dotted(func.value).endswith("notebook"):
            if literal is None:
                self.unread.append(f"{at} runs a notebook whose path is known only at run time")
            else:
                self.child_notebook(literal, path)

    def _local_module(self, module: str, importer: Path) -> None:
        """Read `module` when it is a file of the task's own (beside the importer or under the workspace root); never this
        plugin's own modules (which pick what they do by engine), even where the workspace holds its source."""
        parts = [p for p in module.split(".") if p]
        if parts[:1] == [_PLUGIN]:
            return
        for base in dict.fromkeys((importer.parent, self.root)):
            for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
                if parts and candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                    self.python_file(candidate)
                    return


_WORDS_DONE = {need for _pattern, need in _SQL_WORDS}  # a literal's words are already read as a string
_PLUGIN = __name__.split(".")[0]  # lakehouse_jobs
_DBT_OUTPUT = {"target", "logs"}  # what dbt writes, not the project's code
_DBT_MERGE = re.compile(r"incremental_strategy\W+merge\b", re.I)
_DBT_SNAPSHOT = re.compile(r"\{%-?\s*snapshot\b")


def _python_node_uses(node: ast.AST, at: str) -> Iterator[Use]:
    if isinstance(node, ast.Name) and node.id in _PY_NAMES and not isinstance(node.ctx, ast.Store):
        yield Use(_PY_NAMES[node.id], at, node.id)
    elif isinstance(node, ast.Attribute) and node.attr in _PY_NAMES and node.attr != "sc":
        yield Use(_PY_NAMES[node.attr], at, node.attr)
    elif isinstance(node, ast.keyword) and node.arg in _PY_STRINGS:
        yield Use(_PY_STRINGS[node.arg], at, node.arg)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value in _PY_STRINGS:
            yield Use(_PY_STRINGS[node.value], at, repr(node.value))
        elif node.value.startswith("_metadata"):
            yield Use("file_lineage", at, repr(node.value))
        else:
            yield from _word_uses(node.value, at)
    elif isinstance(node, (ast.Import, ast.ImportFrom)) and "delta.tables" in _imported(node):
        yield Use("delta_table_api", at, "delta.tables")


def _statement_text(node: ast.AST) -> str | None:
    """The text of a statement given to `spark.sql` as a literal, an f-string, `"...".format(...)` or `"..." % ...`, with
    `x` where a value is filled in at run time; None when it is built otherwise (that statement is not read)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "x" for part in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _statement_text(node.func.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _statement_text(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _statement_text(node.left), _statement_text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [base, *(f"{base}.{alias.name}" for alias in node.names)] if base else [alias.name for alias in node.names]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # the run refuses an unreadable file in its own words


def read(kind: str, path: Path, workspace_root: Path) -> Reading:
    """The reading of a task whose code starts at `path`: kind "notebook", "python", "sql" or "dbt" (a project folder).

    Kept while none of the files it read changed (many tasks of a bundle run the same notebook)."""
    key = (kind, path.resolve(), workspace_root.resolve())
    cached = _CACHE.get(key)
    if cached is not None and all(_stamp(f) == stamp for f, stamp in cached[1].items()):
        return cached[0]
    reader = _Reader(key[2])
    try:
        {"notebook": reader.notebook, "python": reader.python_file, "sql": reader.sql_file, "dbt": reader.dbt_project}[kind](key[1])
    except Exception as exc:  # noqa: BLE001 - a reading never stops a job from compiling: its run goes to the JVM under auto
        return Reading((), f"{reader.name(key[1])} could not be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    reading = reader.reading()
    _CACHE[key] = (reading, {f: _stamp(f) for f in reader.seen})
    return reading


_CACHE: dict[tuple[str, Path, Path], tuple[Reading, dict[Path, int | None]]] = {}


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def for_task(kind: str, value: object, from_git: bool, locate: Callable[[str], Path], job_folder: Path | None) -> Reading:
    """The reading of a task whose code file is `value` (its field), found by `locate` (ValueError otherwise);
    `from_git`: the file comes from the job's git_source, checked out only when the run starts."""
    from lakehouse_jobs.lib.workspace import workspace_root

    if from_git:
        return Reading((), "its code is checked out from the job's git_source when the run starts")
    if not isinstance(value, str) or "{{" in value:
        return Reading((), "its path holds a reference resolved when the run starts")
    try:
        path = locate(value.strip())
    except ValueError as exc:
        return Reading((), str(exc))
    return read(kind, path, workspace_root(job_folder))


def describe(needs: Iterable[str]) -> str:
    return "; ".join(LACKS[n] for n in needs)
