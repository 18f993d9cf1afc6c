"""`load_bundle`: a Databricks Asset Bundle folder read into one resolved configuration.

The steps follow the Databricks CLI's order: read the root file and its includes (files.py),
choose and merge the target (targets.py), give each variable its value (variables.py), apply
the deployment mode's presets, substitute `${...}` (interpolation.py) and translate local
paths to absolute ones from the file that declared them (paths.py). Every problem is
collected and raised together as a BundleError, one `file: field: message` line each.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.bundles import files, git, interpolation, paths, targets
from lakehouse_jobs.lib.bundles import variables as bundle_variables
from lakehouse_jobs.lib.bundles.problems import Problems
from lakehouse_jobs.lib.bundles.tree import LDict, annotate, file_of, locate, plain

USER_EMAIL_ENV = "LAKEHOUSE_USER_EMAIL"
TARGET_ENV = ("DATABRICKS_BUNDLE_TARGET", "DATABRICKS_BUNDLE_ENV")  # the Databricks CLI reads these too
RESOURCE_KINDS = ("jobs", "pipelines")


@dataclass
class Bundle:
    """A resolved bundle: its configuration with the target applied, every `${...}` substituted and local paths absolute."""

    name: str
    target: str
    root: Path  # the bundle folder
    root_file: Path
    mode: str | None
    variables: dict[str, Any]
    config: dict[str, Any]  # plain dicts and lists
    files: list[Path] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (`file: field`, message): accepted, as Databricks warns
    _tree: Any = None  # the same configuration with the file of each field

    @property
    def jobs(self) -> dict[str, dict]:
        return dict((self.config.get("resources") or {}).get("jobs") or {})

    @property
    def pipelines(self) -> dict[str, dict]:
        return dict((self.config.get("resources") or {}).get("pipelines") or {})

    def file_of(self, field_path: str) -> str:
        """The YAML file that declared `field_path` (e.g. `resources.jobs.x.tasks[0].notebook_task`)."""
        return locate(self._tree, field_path, str(self.root_file))

    def job_file(self, key: str) -> Path:
        return Path(self.file_of(f"resources.jobs.{key}"))

    def document(self) -> dict[str, Any]:
        """The bundle-shaped document of its resources that job validation reads (`resources.jobs.<key>`...)."""
        return {"resources": {kind: value for kind, value in (self.config.get("resources") or {}).items() if kind in RESOURCE_KINDS}}


def current_user() -> dict[str, str]:
    """`${workspace.current_user.*}` for the local user: userName = $LAKEHOUSE_USER_EMAIL or `<login>@localhost`."""
    login = getpass.getuser()
    email = os.environ.get(USER_EMAIL_ENV) or f"{login}@localhost"
    short = re.sub(r"_+", "_", re.sub(r"[^\w]|_", "_", email.split("@")[0].lower())).strip("_")
    return {
        "userName": email,
        "user_name": email,
        "short_name": short,
        "domain_friendly_name": re.sub(r"[^a-z0-9]", "-", short),
        "displayName": login,
    }


def requested_target(target: str | None) -> str | None:
    """`target`, else the target the environment names (DATABRICKS_BUNDLE_TARGET, as the Databricks CLI reads it)."""
    return target or next((os.environ[name] for name in TARGET_ENV if os.environ.get(name)), None)


def load_bundle(path: str | Path, target: str | None = None, variables: Mapping[str, Any] | None = None) -> Bundle:
    """The bundle at `path` (its folder or root file) for `target`, with `variables` as `--var` overrides."""
    root_file = files.root_file(path)
    root = root_file.parent
    config, read, file_warnings = files.read_files(root_file)
    problems = Problems()
    name, target_def = targets.choose(config, requested_target(target), root_file, problems)
    declared = bundle_variables.declarations(config, root_file, problems)
    declared_files = {n: file_of(config.get("variables") or {}, n, str(root_file)) for n in declared}
    if isinstance(target_def, dict):
        bundle_variables.target_overrides(target_def, declared, name, root_file, problems)
    for section in ("python", "experimental"):
        node = config.get(section)
        nested = node.get("python") if section == "experimental" and isinstance(node, dict) else node
        if isinstance(nested, dict) and (nested.get("resources") or nested.get("mutators")):
            problems.warn(
                file_of(config, section, str(root_file)),
                section,
                "resources and mutators written in Python (databricks-bundles) are not loaded here; declare them in YAML",
            )
    config.pop("targets", None)
    config.pop("environments", None)
    config = targets.apply(config, name, target_def, root_file, problems)
    values = bundle_variables.values(declared, variables, name, root_file, declared_files, problems)
    problems.raise_if_any(root_file)

    bundle_section = config.get("bundle") if isinstance(config.get("bundle"), dict) else LDict(where={})
    if not isinstance(bundle_section.get("name"), str) or not bundle_section["name"].strip():
        problems.add(root_file, "bundle.name", "missing: the bundle's name (a string)")
    user = current_user()
    workspace = config.get("workspace") if isinstance(config.get("workspace"), dict) else LDict(where={})
    workspace["current_user"] = annotate(user, str(root_file))
    for key in ("root_path", "file_path"):  # the bundle runs from where it is: both are the local bundle folder
        workspace[key] = str(root)
    for key, folder in (("artifact_path", "artifacts"), ("state_path", "state"), ("resource_path", "resources")):  # local; nothing here writes there
        workspace[key] = str(root / ".databricks" / "bundle" / name / folder)
    config["workspace"] = workspace
    found = git.details(root)
    if found:
        given = bundle_section.get("git") if isinstance(bundle_section.get("git"), dict) else LDict(where={})
        bundle_section["git"] = LDict({**found, **given}, where={**dict.fromkeys(found, str(root_file)), **getattr(given, "where", {})})
        config["bundle"] = bundle_section
    config["variables"] = LDict(
        {
            n: LDict({**spec, "value": annotate(values.get(n), declared_files[n])}, where=dict.fromkeys([*spec, "value"], declared_files[n]))
            for n, spec in declared.items()
        },
        where=declared_files,
    )
    if bundle_section.get("mode") == "development":
        targets.development_presets(config, user["short_name"])
    interpolation.interpolate(config, str(root_file), problems, accept=lambda ref: not ref.startswith("resources."))
    problems.raise_if_any(root_file)
    targets.merge_keys(config, root_file, problems)  # after the variables, as databricks/cli's normalize step does
    targets.apply_presets(config, root_file, problems)
    interpolation.interpolate(config, str(root_file), problems)
    problems.raise_if_any(root_file)
    paths.translate(config, root, str(root_file), problems)
    resources = config.get("resources") or {}
    for kind in RESOURCE_KINDS:
        if resources.get(kind) is not None and not isinstance(resources[kind], dict):
            problems.add(file_of(resources, kind, str(root_file)), f"resources.{kind}", "expected a mapping of resource keys")
    problems.raise_if_any(root_file)
    return Bundle(
        name=str(config["bundle"]["name"]),
        target=name,
        root=root,
        root_file=root_file,
        mode=config["bundle"].get("mode"),
        variables={n: plain(config["variables"][n]["value"]) for n in declared},
        config=plain(config),
        files=read,
        warnings=[*file_warnings, *problems.warnings],
        _tree=config,
    )
