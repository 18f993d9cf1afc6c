"""A Dagster Component for Lakeflow job specs, so `dg` projects declare jobs in defs.yaml.

    # defs/nightly/defs.yaml
    type: lakehouse_jobs.lib.jobs.component.LakehouseJobsComponent
    attributes:
      spec_file: jobs.yml              # next to defs.yaml; a job object or a bundle
      definitions: my_project.assets:defs   # optional: assets/resources pipeline_tasks select

or the spec inline under `attributes.spec`. The component yields the jobs,
schedules and sensors of every job of the spec (lakehouse_jobs.lib.jobs
.build_definitions); the assets stay wherever the project defines them, unless
`include_assets: true`. Registered for `dg list components` through the
`dagster_dg_cli.registry_modules` entry point (pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.jobs.compile import _definitions_parts, build_definitions
from lakehouse_jobs.lib.jobs.load import load_spec, load_spec_file


class LakehouseJobsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Databricks Lakeflow jobs (Jobs API 2.2 / Asset Bundle fields) as Dagster jobs, schedules and sensors."""

    spec_file: str | None = Field(
        default=None, description="Spec file (YAML/JSON), relative to this defs.yaml's folder: a job object or a bundle with resources.jobs."
    )
    spec: dict[str, Any] | None = Field(default=None, description="The spec inline: a job object or a bundle document with resources.jobs.")
    definitions: str | None = Field(default=None, description="'package.module:attr' of a Definitions whose assets and resources the jobs' pipeline_tasks use.")
    include_assets: bool = Field(default=False, description="Also emit those assets and resources (when the project defines them nowhere else).")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        document = self._document(Path(context.path))
        assets, resources = _definitions_parts(self.definitions)
        built = build_definitions(document, assets=assets, resources=resources)
        if self.include_assets:
            return built
        return dg.Definitions(jobs=built.jobs, schedules=built.schedules, sensors=built.sensors)

    def _document(self, folder: Path):
        if (self.spec is None) == (self.spec_file is None):
            raise SpecError("attributes", "give exactly one of spec_file (a path next to defs.yaml) or spec (inline)")
        if self.spec is not None:
            return load_spec(self.spec, source=str(folder / "defs.yaml"), base_dir=folder)
        path = Path(self.spec_file).expanduser()
        return load_spec_file(path if path.is_absolute() else folder / path)
