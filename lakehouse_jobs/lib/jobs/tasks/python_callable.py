"""`python_callable_task.callable`: a Python function named 'package.module:function'."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def resolve_callable(ref: Any) -> Callable[..., Any]:
    """The function `ref` names (or `ref` itself when it is already callable); ValueError otherwise."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"expected 'package.module:function' or a Python callable, got {ref!r}")
    module_name, sep, attr = ref.partition(":")
    if not sep:
        module_name, _, attr = ref.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"expected 'package.module:function', got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # user code: report why it does not import, in one line
        raise ValueError(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{ref!r} is not callable")
    return target
