"""A task's stdout/stderr to the step's log, line by line, with every secret value read so far `[REDACTED]`.

Shared by notebook cells and the Python programs tasks run (scripts, wheels).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Collection, Iterator

REDACTED = "[REDACTED]"


def redact(text: str, secrets: Collection[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):  # longest first: a secret containing another
        if value:
            text = text.replace(value, REDACTED)
    return text


class LogStream(io.TextIOBase):
    """A text stream that sends each complete line, redacted, to `log(line)`."""

    def __init__(self, log: Callable[[str], None], secrets: Collection[str], prefix: str = "") -> None:
        self._log, self._secrets, self._prefix, self._buffer = log, secrets, prefix, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._log(self._prefix + redact(line, self._secrets))
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            line, self._buffer = self._buffer, ""
            self._log(self._prefix + redact(line, self._secrets))


@contextlib.contextmanager
def captured(log: Callable[[str], None], secrets: Collection[str] = ()) -> Iterator[None]:
    """Route print()/sys.stdout and sys.stderr of the block to `log` (stderr lines prefixed)."""
    out, err = LogStream(log, secrets), LogStream(log, secrets, "[stderr] ")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = saved
