"""Where the lakehouse lives: landing files and Delta tables under one root.

Layout (a contract other parts rely on):
    $LAKEHOUSE_ROOT/landing/<source>/...   raw files dropped by producers
    $LAKEHOUSE_ROOT/<layer>/<table>/       Delta tables (bronze, silver, gold)
    $LAKEHOUSE_ROOT/_system/               plugin state (quarantine, manifests...)
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.lakehouse_root import default_root
from lakehouse_jobs.lib.names import validate_layer, validate_table_name


def confine(root: Path, candidate: Path, path: str) -> Path:
    """Resolve `candidate` and refuse it unless it stays inside `root`."""
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise SpecError(path, f"{candidate} is outside the lakehouse root {root}")
    return resolved


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse root and the paths derived from it (confined to the root)."""

    root: str = Field(default_factory=default_root, description="Lakehouse root folder (env LAKEHOUSE_ROOT, default data/).")

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def table_path(self, layer: str, table: str) -> Path:
        validate_layer(layer)
        validate_table_name(table, "table")
        return confine(self.root_path, self.root_path / layer / table, f"{layer}/{table}")

    def table_uri(self, layer: str, table: str) -> str:
        return self.table_path(layer, table).as_uri()

    def landing_path(self, source: str) -> Path:
        validate_table_name(source, "source")
        return confine(self.root_path, self.root_path / "landing" / source, f"landing/{source}")

    def system_path(self, *parts: str) -> Path:
        for index, part in enumerate(parts):
            validate_table_name(part, f"system[{index}]")
        return confine(self.root_path, self.root_path.joinpath("_system", *parts), "/".join(parts))


def is_delta_table(path: str | Path) -> bool:
    """A `_delta_log` with a commit in it (a first write that failed leaves an empty one)."""
    try:
        return any(p.name.endswith(".json") or ".checkpoint" in p.name for p in (Path(path) / "_delta_log").iterdir())
    except OSError:
        return False
