"""A Dagster Component for Lakeflow job specs, so `dg` projects declare jobs in defs.yaml.

    # defs/nightly/defs.yaml
    type: lakehouse_jobs.lib.jobs.component.LakehouseJobsComponent
    attributes:
      spec_file: jobs.yml              # next to defs.yaml; a job object or a bundle
      definitions: my_project.assets:defs   # optional: assets/resources pipeline_tasks select

or the spec inline under `attributes.spec`, or a Databricks Asset Bundle:

    attributes:
      bundle: ../../my_bundle          # its folder (or its databricks.yml), relative to defs.yaml
      target: dev                      # optional: default target otherwise
      variables: {catalog: main}       # optional: as `--var catalog=main`

The component yields the jobs,
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
from lakehouse_jobs.lib.jobs.load import is_bundle, load_spec, load_spec_file


class LakehouseJobsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Databricks Lakeflow jobs (Jobs API 2.2 / Asset Bundle fields) as Dagster jobs, schedules and sensors."""

    spec_file: str | None = Field(
        default=None, description="Spec file (YAML/JSON), relative to this defs.yaml's folder: a job object or a bundle with resources.jobs."
    )
    spec: dict[str, Any] | None = Field(default=None, description="The spec inline: a job object or a bundle document with resources.jobs.")
    definitions: str | None = Field(default=None, description="'package.module:attr' of a Definitions whose assets and resources the jobs' pipeline_tasks use.")
    bundle: str | None = Field(default=None, description="A Databricks Asset Bundle: its folder or databricks.yml, relative to this defs.yaml's folder.")
    target: str | None = Field(default=None, description="The bundle's target (default: the one marked default: true, or the only one).")
    variables: dict[str, str] | None = Field(default=None, description="Bundle variable values, as `--var name=value` gives them.")
    include_assets: bool = Field(default=False, description="Also emit those assets and resources (when the project defines them nowhere else).")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        document = self._document(Path(context.path))
        assets, resources = _definitions_parts(self.definitions)
        built = build_definitions(document, assets=assets, resources=resources)
        if self.include_assets:
            return built
        return dg.Definitions(jobs=built.jobs, schedules=built.schedules, sensors=built.sensors)

    def _document(self, folder: Path):
        given = [name for name in ("spec_file", "spec", "bundle") if getattr(self, name) is not None]
        if len(given) != 1:
            raise SpecError("attributes", "give exactly one of spec_file (a path next to defs.yaml), spec (inline) or bundle (a bundle folder)")
        if (self.target or self.variables) and self.bundle is None and not is_bundle(self._path(folder, self.spec_file or "")):
            raise SpecError("attributes", "target and variables apply to a bundle (attributes.bundle)")
        if self.spec is not None:
            return load_spec(self.spec, source=str(folder / "defs.yaml"), base_dir=folder)
        return load_spec_file(self._path(folder, self.bundle or self.spec_file), self.target, self.variables)

    @staticmethod
    def _path(folder: Path, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else folder / path
