"""Dataset names -> tables under the lakehouse root: the one place that knows the naming rule.

`x` in a pipeline with `catalog: c`, `schema: s` is `c.s.x`; `s2.x` is `c.s2.x`. Catalog `main`
(or none) keeps today's layout: `$LAKEHOUSE_ROOT/<schema>/<table>`, asset key `<schema>/<table>`
(`main.silver.orders` -> `silver/orders`, the medallion convention); another catalog `c` lives
under `$LAKEHOUSE_ROOT/catalogs/<c>/<schema>/<table>`, asset key `<c>/<schema>/<table>`.

When the session runs the catalog plugin (lib/catalog), names resolve there by the same rule and
`session` only binds the update's root and makes `<catalog>.<schema>` current. Without it,
`register` makes a produced table readable by name in the session catalog (an external Delta table
at the path), so pipeline code can `spark.read.table("s.x")` / `spark.readStream.table("x")`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import SpecError

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"
_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class TableName:
    catalog: str
    schema: str
    table: str

    @property
    def qualified(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"

    @property
    def asset_path(self) -> list[str]:
        return [self.schema, self.table] if self.catalog == DEFAULT_CATALOG else [self.catalog, self.schema, self.table]

    def location(self, root: str | Path) -> Path:
        base = Path(root).expanduser().resolve()
        folder = base if self.catalog == DEFAULT_CATALOG else base / "catalogs" / self.catalog
        path = (folder / self.schema / self.table).resolve()
        if not path.is_relative_to(base):
            raise SpecError(self.qualified, f"maps outside the lakehouse root {base}")
        return path


def part(value: Any, what: str) -> str:
    """One identifier (backticks allowed), lower-cased as Unity Catalog stores names."""
    text = str(value).strip().strip("`") if isinstance(value, str) else ""
    if not _PART.match(text):
        raise SpecError(what, f"{value!r} is not a valid catalog/schema/table identifier (letters, digits and _)")
    return text.lower()


def resolve(name: Any, catalog: str, schema: str, what: str = "name") -> TableName:
    """`x`, `s.x`, `c.s.x` or `LIVE.x` against the pipeline's default catalog and schema."""
    if not isinstance(name, str) or not name.strip():
        raise SpecError(what, f"expected a table name, got {name!r}")
    parts = [p.strip() for p in name.strip().split(".")]
    if len(parts) >= 2 and parts[0].lower() == "live":
        parts = parts[1:]
    if len(parts) == 1:
        return TableName(catalog, schema, part(parts[0], what))
    if len(parts) == 2:
        return TableName(catalog, part(parts[0], what), part(parts[1], what))
    if len(parts) == 3:
        return TableName(part(parts[0], what), part(parts[1], what), part(parts[2], what))
    raise SpecError(what, f"{name!r} has more than three parts (catalog.schema.table)")


def _quoted_path(path: Path) -> str:
    text = str(path)
    if "'" in text or "`" in text:
        raise SpecError("path", f"a table path may not contain quotes: {text}")
    return text


def _plugin(spark: Any) -> Any:
    """lib/catalog's conf module when `spark` resolves names with the catalog plugin, else None."""
    try:
        from lakehouse_jobs.lib.catalog import conf
    except ImportError:
        return None
    try:
        return conf if conf.enabled(spark) else None
    except Exception:  # noqa: BLE001 - a Spark Connect session of someone else's: no plugin
        return None


@contextlib.contextmanager
def session(spark: Any, root: str | Path, catalog: str, schema: str) -> Iterator[None]:
    """While an update runs: names resolve under `root`, `<catalog>.<schema>` is the current schema."""
    plugin = _plugin(spark)
    saved_root = spark.conf.get(plugin.ROOT_CONF, None) if plugin else None
    saved_catalog = spark.catalog.currentCatalog()
    saved_schema = spark.catalog.currentDatabase()
    if plugin:
        plugin.bind_root(spark, root)
        if catalog != spark.conf.get("spark.sql.defaultCatalog", DEFAULT_CATALOG):
            plugin.register_catalog(spark, catalog)
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{catalog}`.`{schema}`")
        plugin.use(spark, catalog, schema)
    else:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
        spark.catalog.setCurrentDatabase(schema)
    try:
        yield
    finally:
        spark.catalog.setCurrentCatalog(saved_catalog)
        spark.catalog.setCurrentDatabase(saved_schema)
        if plugin and saved_root:
            plugin.bind_root(spark, saved_root)


def register(spark: Any, name: TableName, root: str | Path) -> None:
    """Make the Delta table of `name` readable as `<schema>.<table>` in the session catalog (re-pointed
    every time: a session outlives lakehouse roots in tests and long-lived processes). With the
    catalog plugin the name resolves by itself."""
    if _plugin(spark) is not None:
        return
    path = name.location(root)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{name.schema}`")
    spark.sql(f"DROP TABLE IF EXISTS `{name.schema}`.`{name.table}`")
    spark.sql(f"CREATE TABLE `{name.schema}`.`{name.table}` USING DELTA LOCATION '{_quoted_path(path)}'")


def unregister(spark: Any, name: TableName) -> None:
    spark.sql(f"DROP TABLE IF EXISTS `{name.schema}`.`{name.table}`")
