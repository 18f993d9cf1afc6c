"""Bundles written the way Databricks' templates lay them out, as real folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

SHOP = Path(__file__).parent / "shop"


@pytest.fixture
def shop(tmp_path) -> Path:
    """A copy of the `shop` bundle (databricks.yml + resources/*.job.yml + src/) that a test may change."""
    return Path(shutil.copytree(SHOP, tmp_path / "shop"))


@pytest.fixture(autouse=True)
def _no_bundle_environment(monkeypatch):
    """The user's own BUNDLE_VAR_* / DATABRICKS_BUNDLE_TARGET must not leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("BUNDLE_VAR_") or name in ("DATABRICKS_BUNDLE_TARGET", "DATABRICKS_BUNDLE_ENV"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LAKEHOUSE_USER_EMAIL", "Jane.Doe@shop.test")


def write_bundle(folder: Path, root: dict, files: dict[str, object] | None = None) -> Path:
    """A bundle folder: `root` as databricks.yml, `files` (relative path -> YAML content or text) next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "databricks.yml").write_text(yaml.safe_dump(root, sort_keys=False))
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return folder


def condition_job(name: str = "job") -> dict:
    return {"name": name, "tasks": [{"task_key": "check", "condition_task": {"left": "1", "op": "EQUAL_TO", "right": "1"}}]}
