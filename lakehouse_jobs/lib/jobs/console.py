"""The console logger of compiled jobs: one readable entry per event, no Python stack traces.

A task's failure already names the user's file, cell or line in one sentence (the task types
make sure of it); Dagster's default console logger prints the Dagster machinery's stack under it,
which reads like a crash of this project. The full error, stack included, stays in the run's
event log and the Dagster UI.
"""

from __future__ import annotations

import logging
import sys

import dagster as dg

_STACK_MARKERS = ("\nStack Trace:", "\nThe above exception was caused by", "\nThe above exception occurred")


def without_stack(message: str) -> str:
    """`message` cut before the first stack trace Dagster appended to it, trailing blank lines dropped."""
    cut = min((message.find(marker) for marker in _STACK_MARKERS if marker in message), default=len(message))
    return message[:cut].rstrip().replace("\n\ndagster._core.definitions.events.Failure: ", "\n  ")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = without_stack(record.getMessage()), (), None, None, None
        return super().format(record)


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="The run's events on stderr, one entry each, without stack traces (those stay in the event log).",
)
def compact_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("lakehouse_jobs", level=init_context.logger_config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s - %(levelname)s - %(message)s"))
    logger.addHandler(handler)
    return logger
