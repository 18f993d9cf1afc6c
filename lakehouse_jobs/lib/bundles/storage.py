"""A bundle's `resources.schemas` and `resources.volumes` as folders under the lakehouse root.

`databricks bundle deploy` creates them in Unity Catalog; here a schema is `<root>/<schema>` (catalog
`main`) or `<root>/catalogs/<c>/<schema>`, a volume `<root>/volumes/<c>/<s>/<v>` (lib/catalog/names.py).
Made when a bundle's job runs from the CLI and when a code location loads the bundle (idempotent;
no Spark). Grants, comments and `storage_root` have no local meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.catalog.names import create_schema, create_volume


def create_storage(config: Mapping[str, Any], root: str | Path | None = None) -> list[Path]:
    """The folders of the resolved bundle configuration's schemas and volumes (made if missing)."""
    resources = config.get("resources") or {}
    made: list[Path] = []
    for schema in (resources.get("schemas") or {}).values():
        if isinstance(schema, Mapping) and schema.get("catalog_name") and schema.get("name"):
            made.append(create_schema(str(schema["catalog_name"]), str(schema["name"]), root))
    for volume in (resources.get("volumes") or {}).values():
        if isinstance(volume, Mapping) and all(volume.get(k) for k in ("catalog_name", "schema_name", "name")):
            made.append(create_volume(str(volume["catalog_name"]), str(volume["schema_name"]), str(volume["name"]), root))
    return made
