"""A bundle as Dagster definitions: its jobs (with their schedules and sensors) next to the project's assets.

    defs = bundle_definitions("path/to/bundle", target="dev", assets=my_assets, resources=my_resources)

The target and variables are fixed when the code location loads (a daemon's runs use them too).
Each pipeline of `resources.pipelines` contributes its datasets as assets (one multi-asset per
pipeline, lib/pipelines/assets.py), so a pipeline can be materialized alone from the UI too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_jobs.lib.jobs.compile import build_definitions
from lakehouse_jobs.lib.jobs.load import load_bundle_spec


def bundle_definitions(
    path: str | Path,
    target: str | None = None,
    variables: Mapping[str, Any] | None = None,
    assets: Sequence[Any] = (),
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Jobs, schedules and sensors of every job of the bundle at `path` (folder or databricks.yml) for `target`.

    `variables`: values as `--var` gives them; `assets`/`resources`: what the jobs' pipeline tasks select and run with.
    Raises SpecValidationError with one `file: field: message` line per problem.
    """
    from lakehouse_jobs.lib.bundles.bundle import load_bundle
    from lakehouse_jobs.lib.bundles.storage import create_storage
    from lakehouse_jobs.lib.pipelines.assets import pipeline_assets

    document = load_bundle_spec(path, target, variables)
    lakehouse = (resources or {}).get("lakehouse")
    create_storage(load_bundle(path, target, variables).config, getattr(lakehouse, "root", None))  # as a deploy would
    folder = Path(path).resolve()
    folder = folder if folder.is_dir() else folder.parent
    datasets = [asset for key, settings in document.pipelines.items() for asset in pipeline_assets(key, settings, folder)]
    return build_definitions(document, assets=[*assets, *datasets], resources=resources)
