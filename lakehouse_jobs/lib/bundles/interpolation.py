"""`${...}` substitutions in a bundle, as the Databricks CLI resolves them.

A reference names any field of the configuration: `${var.x}` (= `variables.x.value`, and
`${var.x.field}` / `${var.x[0]}` into complex ones), `${bundle.name}`, `${bundle.target}`,
`${workspace.current_user.userName}`, `${workspace.file_path}`... and
`${resources.<type>.<key>.id}` (the resource's key here: there is no workspace to assign ids).
A string that is exactly one reference takes the referenced value with its type (a list stays
a list); inside a longer string the value is written as text. An unknown reference, a cycle,
or a mapping written into a string is a problem at the field that holds it. Run-time
references (`{{job.parameters.x}}`) are not bundle substitutions and stay as written.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from lakehouse_jobs.lib.bundles.problems import Problems
from lakehouse_jobs.lib.bundles.tree import LDict, LList, file_of, split_path

# databricks/cli libs/dyn/dynvar/ref.go: a segment is a letter, then letters/digits, with single runs of - or _
# between them (`\p{L}+([-_]*[\p{L}\p{N}]+)*`, written unambiguously: Python's backtracking engine would take
# exponential time on a long near-miss where Go's RE2 does not).
_WORD = r"[^\W\d_][^\W_]*(?:[-_]+[^\W_]+)*"
REFERENCE = re.compile(rf"\$\{{({_WORD}(?:\[[0-9]+\])*(?:\.{_WORD}(?:\[[0-9]+\])*)*)\}}")  # an index may follow any segment


# Jobs/pipelines API fields typed integer or boolean: a substituted string ("--var workers=4") becomes that type,
# as the Databricks CLI's normalization to the bundle schema does.
INTEGER_FIELDS = frozenset(
    "timeout_seconds max_concurrent_runs max_retries min_retry_interval_millis num_workers min_workers max_workers interval "
    "min_time_between_triggers_seconds wait_after_last_change_seconds concurrency autotermination_minutes".split()
)
BOOLEAN_FIELDS = frozenset(
    "retry_on_timeout disabled enabled development continuous photon serverless full_refresh no_alert_for_skipped_runs "
    "no_alert_for_canceled_runs alert_on_last_attempt enable_elastic_disk".split()
)


def normalize(key: object, value: Any) -> Any:
    """A substituted string in a field typed integer or boolean, as that type (other values as they are)."""
    if isinstance(value, str):
        if key in INTEGER_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if key in BOOLEAN_FIELDS and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    return value


class _Unresolved(Exception):
    pass


class Resolver:
    """Resolves references against `config`; `accept(ref)` says which references this pass substitutes."""

    def __init__(self, config: dict, accept: Callable[[str], bool] = lambda ref: True):
        self.config = config
        self.accept = accept
        self.done: dict[str, Any] = {}
        self.active: list[str] = []

    def lookup(self, ref: str) -> Any:
        if ref in self.done:
            return copy.deepcopy(self.done[ref])
        if ref in self.active:
            cycle = self.active[self.active.index(ref) :] + [ref]
            raise _Unresolved("cycle: " + " -> ".join(f"${{{r}}}" for r in cycle))
        self.active.append(ref)
        try:
            value = self._value(ref)
            value = self.substitute(value)
        finally:
            self.active.pop()
        self.done[ref] = value
        return copy.deepcopy(value)

    def _value(self, ref: str) -> Any:
        parts = split_path(ref)
        if parts[0] == "var":
            parts = ["variables", parts[1], "value", *parts[2:]] if len(parts) > 1 else parts
        if len(parts) == 4 and parts[0] == "resources" and parts[3] == "id":
            resources = self.config.get("resources") if isinstance(self.config.get("resources"), dict) else {}
            if isinstance(resources.get(parts[1]), dict) and parts[2] in resources[parts[1]]:
                return parts[2]
        node: Any = self.config
        for part in parts:
            if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                raise _Unresolved(f"unknown reference ${{{ref}}}" + _hint(parts))
        return node

    def substitute(self, value: Any) -> Any:
        """`value` with accepted references replaced (containers deeply); raises _Unresolved."""
        if isinstance(value, dict):
            return LDict({k: self.substitute(v) for k, v in value.items()}, where=getattr(value, "where", {}))
        if isinstance(value, list):
            return LList([self.substitute(v) for v in value], where=getattr(value, "where", []))
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = REFERENCE.fullmatch(value)
        if whole:
            return self.lookup(whole.group(1)) if self.accept(whole.group(1)) else value
        return REFERENCE.sub(lambda m: _text(self.lookup(m.group(1)), m.group(0)) if self.accept(m.group(1)) else m.group(0), value)


def _text(value: Any, ref: str) -> str:
    if isinstance(value, (dict, list)):
        raise _Unresolved(f"{ref} is a {'mapping' if isinstance(value, dict) else 'list'}: it cannot be written inside a string")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _hint(parts: list) -> str:
    if parts and parts[0] == "variables" and len(parts) > 1:
        return f" (no variable {parts[1]!r} is declared)"
    if parts and parts[0] == "resources" and len(parts) > 2:
        return f" (no resources.{parts[1]}.{parts[2]} in this bundle)"
    return ""


def interpolate(config: dict, default_file: str, problems: Problems, accept: Callable[[str], bool] = lambda ref: True, skip: tuple = ()) -> dict:
    """`config` with every accepted reference substituted, in place; each failure a problem at its field."""
    resolver = Resolver(config, accept)

    def walk(node: Any, path: str, file: str) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            field = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
            if not path and key in skip or path.startswith("variables.") and path.count(".") == 1 and key != "value":
                continue  # a variable's declaration is substituted through its value (one problem, not two)
            where = file_of(node, key, file) or file
            if isinstance(value, (dict, list)):
                walk(value, field, where)
            elif isinstance(value, str) and "${" in value:
                try:
                    substituted = resolver.substitute(value)
                    node[key] = normalize(key, substituted) if REFERENCE.fullmatch(value) and path.startswith("resources.") else substituted
                except _Unresolved as exc:
                    problems.add(where, field, str(exc))

    walk(config, "", default_file)
    return config
