"""Small field checkers shared by every part of a job spec: each appends (path, message) problems.

Nothing raises here: `validate` collects every mistake of a spec at once, each at
the path of the bad field (`resources.jobs.x.tasks[1].timeout_seconds`).
"""

from __future__ import annotations

import reprlib
from collections.abc import Collection, Mapping
from typing import Any

Problems = list[tuple[str, str]]
# Databricks' Jobs API types its counts and durations as int32 (timeout_seconds, max_retries,
# min_retry_interval_millis, trigger waits, periodic interval...) and a health rule's value as
# int64: a larger number (or a float such as 1e30) is refused here, never an OverflowError at run time.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def at(prefix: str, name: str) -> str:
    """`prefix.name` (or `prefix[0]` for an index), with no leading dot at the top level."""
    if name.startswith("["):
        return f"{prefix}{name}"
    return f"{prefix}.{name}" if prefix else name


def unknown(problems: Problems, obj: Mapping[str, Any], path: str, known: Collection[str], ignored: Collection[str] = ()) -> None:
    for name in obj:
        if name not in known and name not in ignored:
            problems.append((at(path, str(name)), "unknown field"))


def integer(problems: Problems, obj: Mapping[str, Any], name: str, path: str, minimum: int, maximum: int = INT32_MAX) -> None:
    """An integer field within [minimum, maximum] (Databricks' int32 by default); a float or a string is a problem."""
    if name not in obj or obj[name] is None:
        return
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((at(path, name), f"expected an integer, got {brief(value)}"))
    elif value < minimum or value > maximum:
        bound = f">= {minimum}" if maximum in (INT32_MAX, INT64_MAX) and value < minimum else f"between {minimum} and {maximum}"
        problems.append((at(path, name), f"must be {bound}, got {brief(value)}"))


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 4, 4, 40, 40, 40


def brief(value: Any) -> str:
    """A value for a message, in bounded work: a 10 MB string, a 4,000-digit number or a tree of
    YAML aliases (2**30 leaves, exponential to print in full) is cut to a few dozen characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return _REPR.repr(value)


def boolean(problems: Problems, obj: Mapping[str, Any], name: str, path: str) -> None:
    if name in obj and not isinstance(obj[name], bool):
        problems.append((at(path, name), f"expected true or false, got {brief(obj[name])}"))


def string(problems: Problems, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False, hint: str = "") -> None:
    """A non-empty string field (`required`: missing is a problem too)."""
    if name not in obj or obj[name] is None:
        if required:
            problems.append((at(path, name), f"missing{': ' + hint if hint else ''}"))
        return
    if not isinstance(obj[name], str) or not obj[name].strip():
        problems.append((at(path, name), f"expected a non-empty string, got {brief(obj[name])}"))


def one_of(problems: Problems, obj: Mapping[str, Any], name: str, path: str, values: Collection[str]) -> None:
    if name in obj and obj[name] not in values:
        problems.append((at(path, name), f"expected one of {', '.join(values)}, got {brief(obj[name])}"))


def body(problems: Problems, value: Any, path: str, shape: str) -> bool:
    """True when a task body is a mapping; else one problem naming the expected `shape`."""
    if isinstance(value, Mapping):
        return True
    problems.append((path, f"expected {shape}"))
    return False
