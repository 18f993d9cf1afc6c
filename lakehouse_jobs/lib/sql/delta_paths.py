"""`INSERT INTO delta.`path`` and `CREATE TABLE delta.`path`` for an engine that reads `delta` as a database (Sail).

Sail (pysail 0.7.2) runs `SELECT`, `MERGE`, `UPDATE` and `DELETE` on `delta.`/a/path``, but reads
the name in `INSERT INTO|OVERWRITE` and `CREATE [OR REPLACE] TABLE` as a table in a database
called `delta` ("Database not found: delta"), while Databricks SQL files and notebooks use it
all the time. On Sail those two statements are run here through the DataFrame API, with
Spark's meaning: `INSERT` matches the query's columns to the table's by position (or by the
column list / `BY NAME`), casts them to the table's types, appends (or replaces every row);
`CREATE TABLE` makes the table from its column definitions or its `AS` query, refused when it
exists, skipped with `IF NOT EXISTS`, replaced (schema too) with `OR REPLACE`. The statement's
query is passed to the session as written. A clause this cannot give Spark's meaning
(`PARTITION`, `REPLACE WHERE`, `PARTITIONED BY`, `TBLPROPERTIES`, ...) is refused in one
sentence naming it and the setting that runs the statement on the JVM. With the catalog's naming
rule (`named_path`), `CREATE [OR REPLACE] TABLE <name>` runs here on the name's folder, and so does
`INSERT` by name into a table with the change data feed (which Sail cannot write: the writer commits
it with delta-rs); `MERGE`/`UPDATE`/`DELETE` on such a table is refused in one sentence. `DESCRIBE HISTORY`,
which Sail cannot parse, is answered from the Delta log (`history`); `ALTER TABLE ... SET TBLPROPERTIES`,
which Sail does not run, is committed by delta-rs (properties that turn on a table feature are refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.catalog.names import NAME_PATTERN as _NAME
from lakehouse_jobs.lib.catalog.names import written_name
from lakehouse_jobs.lib.engine_setting import ON_JVM
from lakehouse_jobs.lib.tables.delta_io import change_feed_enabled

_SKIP = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_PATH = r"delta\s*\.\s*`((?:[^`]|``)+)`"
PATH_PATTERN = _PATH  # delta.`path`, its path the one group (sql/maintenance.py reads statements with it too)
_INSERT = re.compile(rf"INSERT\s+(INTO|OVERWRITE)\s+(?:TABLE\s+)?{_PATH}(.*)\Z", re.I | re.S)
_CREATE = re.compile(rf"(CREATE\s+OR\s+REPLACE|REPLACE|CREATE)\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_PATH}(.*)\Z", re.I | re.S)
_INSERT_NAMED = re.compile(rf"INSERT\s+(INTO|OVERWRITE)\s+(?:TABLE\s+)?{_NAME}(.*)\Z", re.I | re.S)
_CHANGING = re.compile(rf"(MERGE\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:{_PATH}|{_NAME})", re.I | re.S)
_NAMED = re.compile(rf"(CREATE\s+OR\s+REPLACE|REPLACE|CREATE)\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}(.*)\Z", re.I | re.S)
_ALTER = re.compile(rf"ALTER\s+TABLE\s+(?:{_PATH}|{_NAME})\s+SET\s+TBLPROPERTIES\s*\((.*)\)\Z", re.I | re.S)
_PROPERTY = re.compile(
    r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w.]*))\s*=?\s*"""
    r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(true|false)\b|([-+]?[\d.]+(?:[eE][-+]?\d+)?[A-Za-z]?))\s*(?:,|\Z)""",
    re.I,
)
# Table properties delta-rs sets as Delta does (no table feature; a property turning one on is left to the JVM:
# delta-rs 1.6 adds features the JVM would not, e.g. variantType with deletion vectors).
SETTABLE = ("delta.appendOnly", "delta.enableChangeDataFeed", "delta.logRetentionDuration", "delta.deletedFileRetentionDuration",
            "delta.checkpointInterval", "delta.dataSkippingNumIndexedCols", "delta.dataSkippingStatsColumns", "delta.targetFileSize",
            "delta.tuneFileSizesForRewrites", "delta.autoOptimize.optimizeWrite", "delta.autoOptimize.autoCompact")  # fmt: skip
_HISTORY = re.compile(rf"DESCRIBE\s+HISTORY\s+(?:{_PATH}|{_NAME})(?:\s+LIMIT\s+(\d+))?\Z", re.I | re.S)
_QUERY = re.compile(r"(?:SELECT|WITH|VALUES|FROM|TABLE)\b|\(", re.I)
_WORD = re.compile(r"[A-Za-z_]+(?:\s+[A-Za-z_]+)?")


class Unsupported(ValueError):
    """A form of the statement this module does not run (said in one sentence)."""


def _closing(text: str, start: int) -> int:
    """The index of the `)` closing the `(` at `start` (quotes and backticks skipped)."""
    depth, quote, i = 0, None, start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Unsupported("unbalanced parentheses")


def statement_body(text: str) -> str:
    """`text` without its leading blanks and comments and its trailing `;` (how the patterns here read a statement)."""
    return text[_SKIP.match(text).end() :].rstrip().rstrip(";").rstrip()


def _refuse(statement: str, rest: str, target: str = "delta.`...`") -> Unsupported:
    clause = (_WORD.match(rest) or _WORD.match("this form")).group(0).upper()
    return Unsupported(f"Sail runs {statement} {target} with the DataFrame API, which cannot give {clause} Spark's meaning; {ON_JVM}")


def run(spark: Any, text: str, args: Any = None, named_path: Callable[[Any, str], tuple[Any, dict[str, str]]] | None = None) -> bool:
    """Whether `text` was an INSERT/CREATE on `delta.`path`` (then it ran here); with `named_path` (a table name -> its
    folder by the catalog's naming rule, and the writer options a table created there gets), `CREATE TABLE <name>` too."""
    body = statement_body(text)
    if match := _INSERT.match(body):
        _insert(spark, match.group(1).upper() == "OVERWRITE", match.group(2).replace("``", "`"), statement_body(match.group(3)), args)
        return True
    if match := _CREATE.match(body):
        how = " ".join(match.group(1).upper().split())
        _create(spark, how, bool(match.group(2)), match.group(3).replace("``", "`"), statement_body(match.group(4)), args)
        return True
    if (match := _NAMED.match(body)) and named_path is not None:
        how = " ".join(match.group(1).upper().split())
        name = written_name(match.group(3))
        path, options = named_path(spark, name)
        _create(spark, how, bool(match.group(2)), str(path), statement_body(match.group(4)), args, options, name)
        return True
    if (match := _INSERT_NAMED.match(body)) and named_path is not None:
        path, _ = named_path(spark, written_name(match.group(2)))
        if change_feed_enabled(path):  # Sail cannot write it: the DataFrame writer's save commits with delta-rs (sail_supply)
            _insert(spark, match.group(1).upper() == "OVERWRITE", str(path), statement_body(match.group(3)), args)
            return True
    if (match := _ALTER.match(body)) and (match.group(1) or named_path is not None):
        path = match.group(1).replace("``", "`") if match.group(1) else str(named_path(spark, written_name(match.group(2)))[0])
        _set_properties(spark, path, match.group(3))
        return True
    if (match := _CHANGING.match(body)) and (match.group(2) or named_path is not None):
        path = match.group(2).replace("``", "`") if match.group(2) else named_path(spark, written_name(match.group(3)))[0]
        if change_feed_enabled(path):
            statement = " ".join(match.group(1).upper().split())
            raise Unsupported(
                f"{statement} {match.group(2) and 'delta.`...`' or match.group(3)}: the table has the change data feed (every table the project "
                f"makes has it), which Sail cannot write; {ON_JVM}"
            )
    return False


def _properties(text: str) -> dict[str, str]:
    """`'k' = 'v', k.x = true, ...` as Spark reads a property list (a boolean lower-cased, a number as written)."""
    out, at = {}, 0
    while at < len(text.strip()):
        match = _PROPERTY.match(text, at)
        if match is None:
            raise Unsupported(f"cannot read the property list at {text[at : at + 40]!r}")
        key = next(g for g in match.groups()[:3] if g is not None)
        value = next(g for g in match.groups()[3:] if g is not None)
        out[key] = value.lower() if match.group(6) else value
        at = match.end()
    return out


def _set_properties(spark: Any, path: str, text: str) -> None:
    """`ALTER TABLE ... SET TBLPROPERTIES` committed by delta-rs (operation SET TBLPROPERTIES), as Delta does."""
    from deltalake import DeltaTable

    from lakehouse_jobs.lib.tables.delta_io import is_delta_table

    properties = _properties(text)
    if not is_delta_table(path):
        raise Unsupported(f"[DELTA_MISSING_DELTA_TABLE] ALTER TABLE: {path} is not a Delta table")
    features = sorted(k for k in properties if k.lower().startswith("delta.") and k not in SETTABLE)
    if features:
        raise Unsupported(
            f"ALTER TABLE ... SET TBLPROPERTIES {', '.join(features)}: Sail's session sets only {', '.join(SETTABLE)} and properties outside "
            f"delta.* (others turn on table features); {ON_JVM}"
        )
    DeltaTable(path).alter.set_table_properties(properties, raise_if_not_exists=False)


def history(spark: Any, text: str, named_path: Callable[[Any, str], tuple[Any, dict[str, str]]] | None = None) -> Any:
    """`DESCRIBE HISTORY delta.`path`` (or a table name, with `named_path`) [LIMIT n] answered from the Delta log
    (`tables/history.py`), or None for any other statement."""
    from lakehouse_jobs.lib.tables.delta_io import is_delta_table
    from lakehouse_jobs.lib.tables.history import describe_history

    match = _HISTORY.match(statement_body(text))
    if match is None or (match.group(1) is None and named_path is None):
        return None
    path = match.group(1).replace("``", "`") if match.group(1) else str(named_path(spark, written_name(match.group(2)))[0])
    if not is_delta_table(path):
        raise Unsupported(f"[DELTA_MISSING_DELTA_TABLE] DESCRIBE HISTORY: {path} is not a Delta table")
    return describe_history(spark, path, int(match.group(3)) if match.group(3) else None)


def result(spark: Any) -> Any:
    """What `spark.sql` answers for these statements on the JVM (delta-spark 4.4): no rows."""
    return spark.createDataFrame([], "_ STRING").select()


def _sql(spark: Any, query: str, args: Any) -> Any:
    return spark.sql(query, args=args) if args else spark.sql(query)


def _insert(spark: Any, overwrite: bool, path: str, rest: str, args: Any) -> None:
    from pyspark.sql import functions as F

    from lakehouse_jobs.lib.tables.delta_io import is_delta_table

    statement = "INSERT OVERWRITE" if overwrite else "INSERT INTO"
    names, by_name = None, False
    if by := re.match(r"BY\s+NAME\b", rest, re.I):
        by_name, rest = True, statement_body(rest[by.end() :])
    elif rest.startswith("(") and not _QUERY.match(statement_body(rest[1:])):
        end = _closing(rest, 0)
        names = [n.strip().strip("`") for n in rest[1:end].split(",")]
        rest = statement_body(rest[end + 1 :])
    if not _QUERY.match(rest):
        raise _refuse(statement, rest)
    if not is_delta_table(path):
        raise Unsupported(f"[TABLE_OR_VIEW_NOT_FOUND] delta.`{path}` is not a Delta table")
    target = spark.read.format("delta").load(path).schema
    types = {f.name: f.dataType for f in target}
    frame = _sql(spark, rest, args)
    if by_name:
        names = list(frame.columns)
    elif names is None:
        names = [f.name for f in target] if len(frame.columns) == len(target) else []
    if len(names) != len(frame.columns) or any(n not in types for n in names):
        raise Unsupported(f"{statement} delta.`{path}`: the query's {len(frame.columns)} column(s) {list(frame.columns)} do not fit the table's {list(types)}")
    frame = frame.toDF(*names)
    columns = [(F.col(f"`{f.name}`") if f.name in names else F.lit(None)).cast(f.dataType).alias(f.name) for f in target]
    frame.select(*columns).write.format("delta").mode("overwrite" if overwrite else "append").save(path)


_LOCATION = re.compile(r"""LOCATION\s+(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""", re.I)


def _create(spark: Any, how: str, if_not_exists: bool, path: str, rest: str, args: Any, options: dict[str, str] | None = None, name: str | None = None) -> None:
    """`CREATE ... TABLE` on `path`; `name`: the table name it was written with (its folder by the catalog's rule)."""
    from lakehouse_jobs.lib.tables.delta_io import is_delta_table

    statement = f"{how} TABLE"
    columns = None
    if rest.startswith("(") and not _QUERY.match(statement_body(rest[1:])):
        end = _closing(rest, 0)
        columns, rest = rest[1:end].strip(), statement_body(rest[end + 1 :])
    if using := re.match(r"USING\s+([A-Za-z_]+)", rest, re.I):
        if using.group(1).lower() != "delta":
            raise _refuse(statement, rest, name or "delta.`...`")
        rest = statement_body(rest[using.end() :])
    if name is not None and (location := _LOCATION.match(rest)):  # as the JVM catalog plugin: the rule's own folder only
        where = location.group(1) or location.group(2) or ""
        if Path(where.removeprefix("file:")).resolve() != Path(path).resolve():
            raise Unsupported(
                f"Table {name} lives at {path} by the catalog's naming rule; LOCATION '{where}' is not supported (read other paths with delta.`path`)"
            )
        rest = statement_body(rest[location.end() :])
    query = None
    if as_ := re.match(r"AS\b", rest, re.I):
        query, rest = statement_body(rest[as_.end() :]), ""
    if rest or (columns is None) == (query is None):
        raise _refuse(statement, rest or "columns with AS", name or "delta.`...`")
    exists = is_delta_table(path)
    if exists and how == "CREATE":
        if if_not_exists:
            return
        raise Unsupported(f"[DELTA_TABLE_ALREADY_EXISTS] delta.`{path}` already exists")
    if how == "REPLACE" and not exists:
        raise Unsupported(f"[TABLE_OR_VIEW_NOT_FOUND] delta.`{path}` does not exist (REPLACE TABLE needs it; CREATE OR REPLACE makes it)")
    frame = _sql(spark, query, args) if query is not None else spark.createDataFrame([], columns)
    writer = frame.write.format("delta").options(**(options or {}))
    if exists:
        writer = writer.mode("overwrite").option("overwriteSchema", "true")
    writer.save(path)
