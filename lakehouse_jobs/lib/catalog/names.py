"""The one naming rule: Unity Catalog names and volume paths -> folders under the lakehouse root.

| name | folder |
|---|---|
| `<default>.<schema>.<table>` (default catalog `main`, `LAKEHOUSE_CATALOG`), `<schema>.<table>`, `spark_catalog.<schema>.<table>` | `$ROOT/<schema>/<table>` |
| `<catalog>.<schema>.<table>` (any other catalog) | `$ROOT/catalogs/<catalog>/<schema>/<table>` |
| `/Volumes/<catalog>/<schema>/<volume>/<path>` | `$ROOT/volumes/<catalog>/<schema>/<volume>/<path>` |

So today's `<layer>/<table>` tables are `main.<layer>.<table>`. The Spark catalog plugin
(`java/.../LakehouseCatalog.java`) applies the same rule inside the JVM; names are lowercased
(Unity Catalog names are case-insensitive) and each part must pass `names.validate_table_name`
before it reaches SQL or the filesystem. Top-level folders that are not schemas: `RESERVED`,
and anything starting with `_` or `.` (refused by the name check itself).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.names import validate_table_name

CATALOG_ENV = "LAKEHOUSE_CATALOG"
DEFAULT_CATALOG = "main"
SESSION_CATALOG = "spark_catalog"
DEFAULT_SCHEMA = "default"
RESERVED = ("catalogs", "volumes", "dbfs", "landing")
_PART = re.compile(r"`((?:[^`]|``)*)`|([^.`]+)")
# A one- to three-part table name as written in SQL (parts plain or backticked, dots with optional spaces), one group
NAME_PATTERN = r"((?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)(?:\s*\.\s*(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)){0,2})"


def written_name(text: str) -> str:
    """A name matched by NAME_PATTERN with the spaces around its dots dropped (`main . s.t` -> `main.s.t`)."""
    return re.sub(r"\s*\.\s*", ".", text)


def default_catalog() -> str:
    """The catalog of two-part names: `$LAKEHOUSE_CATALOG`, else `main`."""
    return check_part(os.environ.get(CATALOG_ENV) or DEFAULT_CATALOG, "catalog", CATALOG_ENV)


def check_part(part: str, kind: str, full: str) -> str:
    """One catalog/schema/table name, lowercased, or SpecError naming the whole name."""
    lowered = part.lower() if isinstance(part, str) else part
    try:
        validate_table_name(lowered, kind)
    except SpecError:
        raise SpecError(full, f"invalid {kind} name {part!r}: catalog, schema and table names use letters, digits and _ (starting with a letter)") from None
    return lowered


def split_name(name: str) -> list[str]:
    """`a.b.c` or `` `a`.`b` `` -> its parts (backticks quote a part, as in Spark SQL)."""
    if not isinstance(name, str) or not name.strip():
        raise SpecError(str(name), "expected a table name like catalog.schema.table")
    parts, position, text = [], 0, name.strip()
    while True:
        match = _PART.match(text, position)
        if match is None:
            raise SpecError(name, "expected a table name like catalog.schema.table")
        parts.append(match.group(1).replace("``", "`") if match.group(1) is not None else match.group(2).strip())
        position = match.end()
        if position == len(text):
            return parts
        if text[position] != ".":
            raise SpecError(name, "expected a table name like catalog.schema.table")
        position += 1


def qualify(name: str, catalog: str | None = None, schema: str = DEFAULT_SCHEMA) -> tuple[str, str, str]:
    """(catalog, schema, table) of a 1-, 2- or 3-part name; the current catalog/schema fill the gaps."""
    parts = split_name(name)
    if len(parts) > 3:
        raise SpecError(name, "a table name has at most three parts (catalog.schema.table)")
    catalog = catalog or default_catalog()
    full = [catalog, schema][: 3 - len(parts)] + parts
    kinds = ("catalog", "schema", "table")
    checked = tuple(check_part(p, k, name) for p, k in zip(full, kinds, strict=True))
    if checked[1] in RESERVED:
        raise SpecError(name, f"schema name {checked[1]!r} is reserved: the lakehouse root keeps {', '.join(RESERVED)} there")
    return checked  # type: ignore[return-value]


def catalog_path(root: str | Path, catalog: str) -> Path:
    """The folder of a catalog's schemas: the root for the default catalog (and spark_catalog)."""
    catalog = check_part(catalog, "catalog", catalog)
    base = Path(root).expanduser().resolve()
    return base if catalog in (default_catalog(), SESSION_CATALOG) else base / "catalogs" / catalog


def schema_path(root: str | Path, catalog: str, schema: str) -> Path:
    _, schema, _ = qualify(f"{catalog}.{schema}.x")
    return catalog_path(root, catalog) / schema


def table_path(name: str, root: str | Path | None = None, catalog: str | None = None, schema: str = DEFAULT_SCHEMA) -> Path:
    """The Delta table folder of `name` (`main.silver.orders` -> `$ROOT/silver/orders`); readable by path with delta-rs/DuckDB."""
    from lakehouse_jobs.lib.tables.lakehouse import default_root

    catalog, schema, table = qualify(name, catalog, schema)
    return catalog_path(root or default_root(), catalog) / schema / table


def volume_path(path: str, root: str | Path | None = None) -> Path:
    """`/Volumes/<catalog>/<schema>/<volume>/x` (or `dbfs:/Volumes/...`) -> `$ROOT/volumes/<catalog>/<schema>/<volume>/x`.

    Spark cannot read `/Volumes/...` itself: pass `volume_path(...)` to `spark.read` (dbutils.fs maps on its own).
    """
    from lakehouse_jobs.lib.tables.lakehouse import default_root

    text = path.strip() if isinstance(path, str) else ""
    rest = text[len("dbfs:") :] if text.startswith("dbfs:") else text
    rest = "/" + rest.lstrip("/")
    if not rest.startswith("/Volumes/"):
        raise SpecError(str(path), "a volume path is /Volumes/<catalog>/<schema>/<volume>/...")
    parts = [p for p in rest[len("/Volumes/") :].split("/") if p]
    if len(parts) < 3:
        raise SpecError(path, "a volume path is /Volumes/<catalog>/<schema>/<volume>/...")
    for part, kind in zip(parts[:3], ("catalog", "schema", "volume"), strict=True):
        check_part(part, kind, path)
    base = Path(root or default_root()).expanduser().resolve() / "volumes"
    local = base.joinpath(*[p.lower() for p in parts[:3]], *parts[3:]).resolve()
    if not local.is_relative_to(base):
        raise SpecError(path, f"maps to {local}, outside the volumes folder {base}")
    return local


def catalogs_on_disk(root: str | Path) -> list[str]:
    """The catalogs whose folders exist under `$ROOT/catalogs/` (registered at session start)."""
    folder = Path(root).expanduser() / "catalogs"
    if not folder.is_dir():
        return []
    names = []
    for child in sorted(folder.iterdir()):
        try:
            names.append(check_part(child.name, "catalog", child.name)) if child.is_dir() else None
        except SpecError:
            continue
    return names


def create_schema(catalog: str, schema: str, root: str | Path | None = None) -> Path:
    """Make a schema (a bundle's `resources.schemas`): its folder; idempotent. No Spark needed."""
    from lakehouse_jobs.lib.tables.lakehouse import default_root

    path = schema_path(root or default_root(), catalog, schema)
    path.mkdir(parents=True, exist_ok=True)
    return path


def create_volume(catalog: str, schema: str, volume: str, root: str | Path | None = None) -> Path:
    """Make a volume (a bundle's `resources.volumes`): `$ROOT/volumes/<catalog>/<schema>/<volume>`; idempotent."""
    path = volume_path(f"/Volumes/{catalog}/{schema}/{volume}", root)
    path.mkdir(parents=True, exist_ok=True)
    return path
