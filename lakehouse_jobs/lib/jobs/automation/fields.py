"""Value-returning field checks shared by the section parsers (schedule, trigger, continuous, notifications, concurrency).

Each check appends `(path, message)` to a problem list and returns the value to
use, so `validate` and the compile functions get the same verdict from the same
code: validate reports every problem, compile raises the first (`checked`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.fields import Problems, at

T = TypeVar("T")
PAUSE_STATUSES = ("PAUSED", "UNPAUSED")


def checked(parsed: tuple[T | None, Problems]) -> T:
    """The parsed section, or SpecError naming its first problem (what compile refuses with)."""
    section, problems = parsed
    if problems:
        raise SpecError(*problems[0])
    assert section is not None  # a parser returns None only together with a problem
    return section


def paused(problems: Problems, obj: Mapping[str, Any], path: str) -> bool:
    """`pause_status` of a schedule, trigger or continuous section: True when PAUSED (absent = UNPAUSED)."""
    return choice(problems, obj, "pause_status", path, PAUSE_STATUSES, "UNPAUSED") == "PAUSED"


def integer(problems: Problems, obj: Mapping[str, Any], name: str, path: str, *, low: int, high: int | None = None, default: int | None = None) -> int:
    """An integer field within [low, high]; required when there is no default."""
    if name not in obj:
        if default is None:
            problems.append((at(path, name), "missing"))
        return low if default is None else default
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
        problems.append((at(path, name), f"expected {expected}, got {value!r}"))
        return low if default is None else default
    return value


def choice(problems: Problems, obj: Mapping[str, Any], name: str, path: str, options: tuple[str, ...], default: str | None = None) -> str:
    """A field taking one of `options` (required when there is no default)."""
    value = obj.get(name, default)
    if value not in options:
        expected = f"{', '.join(options[:-1])} or {options[-1]}" if len(options) > 1 else options[0]
        problems.append((at(path, name), f"expected {expected}, got {value!r}"))
        return default or options[0]
    return value
