"""Databricks Asset Bundles (`databricks.yml`, `include`, `variables`, `targets`, `${...}`) read as this project's jobs.

`load_bundle` resolves a bundle into one configuration (bundle.py); `jobs.load.load_spec_file`
and the CLI accept a bundle wherever a job file goes; `bundle_definitions` turns one into
Dagster definitions. Submodules by concept: files (root file, includes), targets (choice,
overrides, modes, presets), variables, interpolation (`${...}`), paths (translation), tree
(per-field files and merge rules), yaml_files (safe reading), problems.

The names are imported lazily: `jobs.load` imports submodules of this package while
`definitions` imports `jobs.load`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Bundle", "BundleError", "bundle_definitions", "load_bundle"]


def __getattr__(name: str) -> Any:
    if name in ("Bundle", "load_bundle"):
        from lakehouse_jobs.lib.bundles import bundle

        return getattr(bundle, name)
    if name == "BundleError":
        from lakehouse_jobs.lib.bundles.problems import BundleError

        return BundleError
    if name == "bundle_definitions":
        from lakehouse_jobs.lib.bundles.definitions import bundle_definitions

        return bundle_definitions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
