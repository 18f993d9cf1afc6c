"""User-facing errors: one clear sentence, never a JVM stack trace."""

from __future__ import annotations


class LakehouseError(Exception):
    """A mistake the user can fix (setup, spec, input). The message is the whole story."""


class SetupError(LakehouseError):
    """The machine lacks something (Java, a jar) that lakehouse_jobs needs."""


class SpecError(LakehouseError):
    """A declaration (table name, column, write mode...) is invalid; names the bad field."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")
