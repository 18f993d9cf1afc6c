"""Bundle variables: declarations, and the value each one takes.

Databricks' precedence (bundle/config/mutator/set_variables.go): `--var name=value`, then the
environment variable `BUNDLE_VAR_<name>`, then `.databricks/bundle/<target>/variable-overrides.json`,
then the default (which the selected target's `variables` replaces). Complex variables
(`type: complex`, a mapping or list default) cannot be set from `--var` or the environment.
`lookup:` variables resolve workspace objects by name; there is no workspace here, so they
are refused in one sentence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.bundles.problems import Problems
from lakehouse_jobs.lib.bundles.tree import file_of

ENV_PREFIX = "BUNDLE_VAR_"
FIELDS = ("description", "default", "type", "lookup")


def declarations(config: dict, root: Path, problems: Problems) -> dict[str, dict]:
    """The `variables` section with shorthands (`name: value`) written as `{default: value}`."""
    section = config.get("variables") or {}
    if not isinstance(section, dict):
        problems.add(root, "variables", "expected a mapping of variable names to declarations")
        return {}
    out = {}
    for name, spec in section.items():
        file = file_of(section, name, str(root))
        if not isinstance(spec, dict):
            spec = {"default": spec}
        for key in spec:
            if key not in FIELDS:
                problems.warn(file, f"variables.{name}.{key}", f"unknown variable field, ignored; known: {', '.join(FIELDS)}")
        if spec.get("type") not in (None, "complex"):
            problems.add(file, f"variables.{name}.type", f"unknown type {spec.get('type')!r}; the only type is complex")
        out[str(name)] = spec
    return out


def target_overrides(target: dict, declared: dict[str, dict], target_name: str, root: Path, problems: Problems) -> None:
    """Apply a target's `variables` to the declarations (its value becomes the default), in place."""
    section = target.get("variables") or {}
    if not isinstance(section, dict):
        problems.add(file_of(target, "variables", str(root)), f"targets.{target_name}.variables", "expected a mapping of variable names to values")
        return
    for name, value in section.items():
        file = file_of(section, name, str(root))
        field = f"targets.{target_name}.variables.{name}"
        if name not in declared:
            problems.add(file, field, f"variable {name!r} is not declared in the top-level variables section")
            continue
        if not _full_definition(value):
            value = {"default": value}
        spec = {k: v for k, v in declared[name].items() if k not in ("default", "lookup")}
        declared[name] = {**spec, **{k: v for k, v in value.items() if k in ("default", "lookup")}}


# The shapes a target's variable takes when it is a whole definition (databricks/cli root.go allowedVariableDefinitions).
_FULL = ({"default", "type", "description"}, {"default", "type"}, {"default", "description"}, {"lookup", "description"}, {"default"}, {"lookup"})


def _full_definition(value: Any) -> bool:
    return isinstance(value, dict) and set(value) in _FULL


def values(
    declared: dict[str, dict],
    overrides: Mapping[str, Any] | None,
    target_name: str,
    root: Path,
    files: dict[str, str],
    problems: Problems,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Each variable's value by Databricks' precedence; a variable with none (or a lookup) is a problem."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    for name in overrides:
        if name not in declared:
            problems.add(root, "--var", f"{name}: no such variable; the bundle declares {', '.join(declared) or 'none'}")
    file_values = _overrides_file(root.parent / ".databricks" / "bundle" / target_name / "variable-overrides.json", problems)
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        field = f"variables.{name}"
        file = files.get(name, str(root))
        complex_type = spec.get("type") == "complex"
        if name in overrides:
            if complex_type:
                problems.add(root, "--var", f"{name} is a complex variable: it cannot be set from the command line")
                continue
            out[name] = overrides[name]
        elif ENV_PREFIX + name in environ:
            if complex_type:
                problems.add(file, field, f"setting a complex variable from the environment ({ENV_PREFIX}{name}) is not supported")
                continue
            out[name] = environ[ENV_PREFIX + name]
        elif spec.get("lookup") is not None:
            problems.add(
                file, f"{field}.lookup", "lookup variables resolve workspace objects by name and there is no workspace here; give the variable a default"
            )
        elif name in file_values and file_values[name] is not None:
            out[name] = file_values[name]
        elif spec.get("default") is not None:
            out[name] = spec["default"]
        else:
            problems.add(file, field, f"no value: set a default, pass --var {name}=..., or set {ENV_PREFIX}{name}")
            continue
        if name in out:
            is_complex = isinstance(out[name], (dict, list))
            if complex_type and not is_complex:
                problems.add(file, field, "declared type: complex but its value is not a mapping or list")
            elif is_complex and not complex_type:
                problems.add(file, field, "a mapping or list value needs type: complex")
    return out


def _overrides_file(path: Path, problems: Problems) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add(path, "", f"not a JSON object of variable values ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.add(path, "", "expected a JSON object of variable values")
        return {}
    return data
