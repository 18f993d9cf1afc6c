"""`condition_task`: compare two operands; the outcome ("true"/"false") picks the branch.

EQUAL_TO and NOT_EQUAL compare strings (so "12.0" != "12"); the ordering
operators compare numbers and fail the task when an operand is not numeric.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from lakehouse_jobs.lib.jobs import fields
from lakehouse_jobs.lib.jobs.fields import Problems
from lakehouse_jobs.lib.jobs.result_states import SUCCESS
from lakehouse_jobs.lib.jobs.source_needs import Reading
from lakehouse_jobs.lib.jobs.task_run import TaskOutcome, TaskRun
from lakehouse_jobs.lib.jobs.tasks.registry import CheckContext, TaskType

STRING_OPS = {"EQUAL_TO": operator.eq, "NOT_EQUAL": operator.ne}
NUMBER_OPS = {
    "GREATER_THAN": operator.gt,
    "GREATER_THAN_OR_EQUAL": operator.ge,
    "LESS_THAN": operator.lt,
    "LESS_THAN_OR_EQUAL": operator.le,
}
CONDITION_OPS = (*STRING_OPS, *NUMBER_OPS)
OUTCOMES = ("true", "false")


class ConditionError(ValueError):
    """An operand the operator cannot compare (the task fails with this message)."""


def _number(value: str, side: str, op: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise ConditionError(f"{side} operand {value!r} is not a number ({op} compares numbers)")
    return number


def evaluate(left: str, op: str, right: str) -> str:
    """'true' or 'false' for `left op right` (operands already resolved to strings)."""
    if op in STRING_OPS:
        return str(STRING_OPS[op](str(left), str(right))).lower()
    if op in NUMBER_OPS:
        return str(NUMBER_OPS[op](_number(left, "left", op), _number(right, "right", op))).lower()
    raise ConditionError(f"unknown op {op!r}; expected one of {', '.join(CONDITION_OPS)}")


def check(body: Any, ctx: CheckContext) -> Problems:
    problems: Problems = []
    if not fields.body(problems, body, ctx.path, "{left, op, right}"):
        return problems
    fields.unknown(problems, body, ctx.path, {"left", "op", "right"})
    for side in ("left", "right"):
        if side not in body:
            problems.append((ctx.at(side), "missing"))
        elif not isinstance(body[side], (str, int, float)) or isinstance(body[side], bool):
            problems.append((ctx.at(side), f"expected a string, got {fields.brief(body[side])}"))
    if body.get("op") not in CONDITION_OPS:
        problems.append((ctx.at("op"), f"unknown op {fields.brief(body.get('op'))}; expected one of {', '.join(CONDITION_OPS)}"))
    return problems


def run(task_run: TaskRun) -> TaskOutcome:
    body = task_run.body
    left, right = task_run.resolve(str(body["left"])), task_run.resolve(str(body["right"]))
    outcome = evaluate(left, body["op"], right)
    return TaskOutcome(SUCCESS, outcome=outcome, metadata={"left": left, "op": body["op"], "right": right, "outcome": outcome})


def reading(task: Any, ctx: CheckContext) -> Reading:
    """A condition compares strings: no Spark, so nothing Sail lacks (LAKEHOUSE_ENGINE=auto)."""
    return Reading()


TASK_TYPE = TaskType(
    name="condition_task", check=check, run=run, reading=reading, outcomes=OUTCOMES, description="compare two operands; the outcome picks the branch"
)
