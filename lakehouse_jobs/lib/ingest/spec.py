"""IngestSpec: one landing source feeding one table, checked when it is declared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.names import validate_columns, validate_layer, validate_table_name

RESCUED = "_rescued_data"
LINEAGE = (RESCUED, "_source_file", "_ingested_at")
SCHEMA_MODES = ("addNewColumns", "rescue", "failOnNewColumns", "none")
SUFFIXES = {"csv": (".csv", ".csv.gz", ".txt"), "json": (".json", ".jsonl", ".json.gz", ".jsonl.gz")}


@dataclass(frozen=True)
class IngestSpec:
    """One landing source feeding one table. `columns`: names (strings) or name -> Spark type."""

    source: str
    table: str
    format: str = "csv"
    columns: Sequence[str] | Mapping[str, str] | None = None
    schema_mode: str | None = None
    layer: str = "bronze"
    delimiter: str = ","
    suffixes: Sequence[str] | None = None
    wait_after_last_change_seconds: float = 0.0

    def __post_init__(self) -> None:
        validate_table_name(self.source, "source")
        validate_table_name(self.table, "table")
        validate_layer(self.layer)
        if self.format not in SUFFIXES:
            raise SpecError("format", f"unknown format {self.format!r}; expected one of {', '.join(SUFFIXES)}")
        if self.mode not in SCHEMA_MODES:
            raise SpecError("schema_mode", f"unknown schema mode {self.schema_mode!r}; expected one of {', '.join(SCHEMA_MODES)}")
        validate_columns(list(self.types), "columns")
        if set(self.types) & set(LINEAGE):
            raise SpecError("columns", f"{sorted(set(self.types) & set(LINEAGE))} are reserved for lineage")
        if len(self.delimiter) != 1:
            raise SpecError("delimiter", f"must be one character, got {self.delimiter!r}")

    @property
    def types(self) -> dict[str, str]:
        if self.columns is None:
            return {}
        if isinstance(self.columns, Mapping):
            return dict(self.columns)
        return {c: "string" for c in self.columns}

    @property
    def mode(self) -> str:
        return self.schema_mode or ("rescue" if self.columns is not None else "addNewColumns")

    @property
    def app_id(self) -> str:
        return f"lakehouse_jobs.ingest:{self.layer}.{self.table}"

    @property
    def source_table(self) -> str:
        return f"{self.layer}.{self.table}"
