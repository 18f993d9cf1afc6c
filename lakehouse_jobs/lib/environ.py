"""Environment variables set for a block and put back after it, also when the block raises.

A run's program sees Spark Connect routing (`runtime/python_main.py`) and a rebuilt bundle job its
target and variables (`jobs/cli.py`) only while it runs; the process's own environment is unchanged after.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in os.environ for the block; afterwards each name has its old value (or none) again."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
