"""Catalog statements a Sail session answers the JVM's way (with the lakehouse root served as its catalog).

Sail answers `SHOW TABLES` with a `database` column holding `main.silver` and `SHOW SCHEMAS` with
four columns of qualified names, where the JVM (and Databricks) give `namespace` = `silver`:
code reading `row.namespace` breaks. It does not run `ALTER TABLE ... RENAME TO`, and shows the
catalog server's refusal of a `DROP TABLE` as a bare HTTP status. Here: the SHOW answers reshaped to
the JVM's columns, a rename done on the naming rule's folders (as the JVM plugin does: the table's
folder moves; a Delta log's file paths are relative), a DROP of a table written by path refused in
the JVM plugin's sentence before Sail sends it.
"""

from __future__ import annotations

import re
from typing import Any

from lakehouse_jobs.lib.catalog.names import NAME_PATTERN, written_name
from lakehouse_jobs.lib.catalog.unity_rest import created_through_catalog, served_root, table_folder
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.sql.delta_paths import statement_body
from lakehouse_jobs.lib.tables.lakehouse import is_delta_table

_SHOW_TABLES = re.compile(r"SHOW\s+TABLES\b", re.I)
_SHOW_SCHEMAS = re.compile(r"SHOW\s+(?:SCHEMAS|DATABASES|NAMESPACES)\b", re.I)
_RENAME = re.compile(rf"ALTER\s+TABLE\s+{NAME_PATTERN}\s+RENAME\s+TO\s+{NAME_PATTERN}\Z", re.I)
_DROP = re.compile(rf"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{NAME_PATTERN}\Z", re.I)


def reshape(statement: str, frame: Any) -> Any:
    """Sail's answer to `statement` in the JVM's columns (SHOW TABLES / SHOW SCHEMAS), else `frame` as it is."""
    from pyspark.sql import functions as F

    body = statement_body(statement)
    if _SHOW_TABLES.match(body) and "database" in frame.columns:
        return frame.select(F.element_at(F.split("database", r"\."), -1).alias("namespace"), "tableName", "isTemporary")
    if _SHOW_SCHEMAS.match(body) and "name" in frame.columns:
        return frame.select(F.element_at(F.split("name", r"\."), -1).alias("namespace"))
    return frame


def run(spark: Any, statement: str) -> bool:
    """Whether `statement` was a rename done here; refuses a DROP TABLE of a table written by path (before Sail sees it)."""
    if served_root() is None:
        return False
    body = statement_body(statement)
    if match := _DROP.match(body):
        name = written_name(match.group(1))
        folder, _ = table_folder(spark, name)
        if is_delta_table(folder) and not created_through_catalog(folder):
            raise SpecError(
                name, f"table {name} was written by path, not created through the catalog: DROP TABLE keeps it (delete the folder {folder} to remove it)"
            )
        return False
    if match := _RENAME.match(body):
        old, new = written_name(match.group(1)), written_name(match.group(2))
        source, _ = table_folder(spark, old)
        target, _ = table_folder(spark, new)
        if not is_delta_table(source):
            raise SpecError(old, f"[TABLE_OR_VIEW_NOT_FOUND] table {old} does not exist (no Delta table at {source})")
        if target.exists():
            raise SpecError(new, f"[TABLE_OR_VIEW_ALREADY_EXISTS] cannot rename {old} to {new}: {target} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        return True
    return False
