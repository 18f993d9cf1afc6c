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


class DocumentProblems(SpecError):
    """Every problem of one document (a job spec, a bundle), each as (path, message), reported together, one line each."""

    def __init__(self, problems: list[tuple[str, str]], source: str, what: str):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  {path}: {message}" if path else f"  {message}" for path, message in self.problems)
        plural = "s" if len(self.problems) != 1 else ""
        Exception.__init__(self, f"{source}: {len(self.problems)} problem{plural} in {what}:\n{lines}")
        self.path, self.message = source, str(self)
