"""Validate table, column and layer names before they reach a path or SQL.

Every pattern is matched with `fullmatch`: `$` also matches before a final newline,
so `re.match(r"^[a-z]+$", "evil\n")` accepts a name that then becomes a folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lakehouse_jobs.lib.errors import SpecError

LAYERS = ("bronze", "silver", "gold")
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,127}")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


def validate_layer(layer: str, path: str = "layer") -> str:
    if layer not in LAYERS:
        raise SpecError(path, f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    return layer


def validate_table_name(name: str, path: str = "name") -> str:
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise SpecError(path, f"invalid table name {name!r}; use lowercase letters, digits and _ (starting with a letter)")
    return name


def validate_column(name: str, path: str = "column") -> str:
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        raise SpecError(path, f"invalid column name {name!r}; use letters, digits and _ (not starting with a digit)")
    return name


def validate_columns(names: Iterable[str], path: str) -> list[str]:
    names = list(names)
    for index, name in enumerate(names):
        validate_column(name, f"{path}[{index}]")
    if len(set(names)) != len(names):
        raise SpecError(path, f"duplicate columns in {names}")
    return names


def quote(name: str) -> str:
    """Backtick-quote a validated column name for Spark SQL."""
    return f"`{validate_column(name)}`"
