"""Small field checkers shared by every part of a job spec: each appends (path, message) problems.

Nothing raises here: `validate` collects every mistake of a spec at once, each at
the path of the bad field (`resources.jobs.x.tasks[1].timeout_seconds`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

Problems = list[tuple[str, str]]


def at(prefix: str, name: str) -> str:
    """`prefix.name` (or `prefix[0]` for an index), with no leading dot at the top level."""
    if name.startswith("["):
        return f"{prefix}{name}"
    return f"{prefix}.{name}" if prefix else name


def unknown(problems: Problems, obj: Mapping[str, Any], path: str, known: Collection[str], ignored: Collection[str] = ()) -> None:
    for name in obj:
        if name not in known and name not in ignored:
            problems.append((at(path, str(name)), "unknown field"))


def integer(problems: Problems, obj: Mapping[str, Any], name: str, path: str, minimum: int, maximum: int | None = None) -> None:
    if name not in obj or obj[name] is None:
        return
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((at(path, name), f"expected an integer, got {value!r}"))
    elif value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        problems.append((at(path, name), f"must be {bound}, got {value}"))


def boolean(problems: Problems, obj: Mapping[str, Any], name: str, path: str) -> None:
    if name in obj and not isinstance(obj[name], bool):
        problems.append((at(path, name), f"expected true or false, got {obj[name]!r}"))


def string(problems: Problems, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False, hint: str = "") -> None:
    """A non-empty string field (`required`: missing is a problem too)."""
    if name not in obj or obj[name] is None:
        if required:
            problems.append((at(path, name), f"missing{': ' + hint if hint else ''}"))
        return
    if not isinstance(obj[name], str) or not obj[name].strip():
        problems.append((at(path, name), f"expected a non-empty string, got {obj[name]!r}"))


def one_of(problems: Problems, obj: Mapping[str, Any], name: str, path: str, values: Collection[str]) -> None:
    if name in obj and obj[name] not in values:
        problems.append((at(path, name), f"expected one of {', '.join(values)}, got {obj[name]!r}"))


def body(problems: Problems, value: Any, path: str, shape: str) -> bool:
    """True when a task body is a mapping; else one problem naming the expected `shape`."""
    if isinstance(value, Mapping):
        return True
    problems.append((path, f"expected {shape}"))
    return False
