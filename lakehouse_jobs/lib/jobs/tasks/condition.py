"""`condition_task`: compare two operands; the outcome ("true"/"false") picks the branch.

EQUAL_TO and NOT_EQUAL compare strings (so "12.0" != "12"); the ordering
operators compare numbers and fail the task when an operand is not numeric.
"""

from __future__ import annotations

import math
import operator

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
