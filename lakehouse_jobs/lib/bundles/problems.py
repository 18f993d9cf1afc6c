"""Bundle problems: every mistake of a bundle collected, each line naming the YAML file and field.

A bundle spreads over several files, so a line is `file: path.to.field: message` (the
file that declared the field), the same shape job specs report (`jobs/load.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse_jobs.lib.errors import DocumentProblems


def shown(file: object) -> str:
    """A file as a problem line names it: relative to the current folder when inside it."""
    text = str(file)
    if not text or not os.path.isabs(text):
        return text
    try:
        relative = Path(text).relative_to(Path.cwd())
    except ValueError:
        return text
    return str(relative)


class BundleError(DocumentProblems):
    """Every problem of a bundle, each as (`file: field`, message)."""

    def __init__(self, problems: list[tuple[str, str]], source: str):
        super().__init__(problems, source, "the bundle")


class Problems(list):
    """(where, message) pairs collected while loading; `where` is `file: field` or just `file`.

    `warnings` collects what Databricks accepts with a warning (an unknown field): reported, never fatal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[tuple[str, str]] = []

    def add(self, file: object, field: str, message: str) -> None:
        self.append((f"{shown(file)}: {field}" if field else shown(file), message))

    def warn(self, file: object, field: str, message: str) -> None:
        self.warnings.append((f"{shown(file)}: {field}" if field else shown(file), message))

    def raise_if_any(self, source: object) -> None:
        if self:
            raise BundleError(list(self), shown(source))
