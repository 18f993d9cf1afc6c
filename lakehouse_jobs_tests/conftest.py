"""Shared fixtures: one SparkSession per test run, a fresh lakehouse root per test.

Starting a JVM costs seconds, so every Spark test shares the session created
here (SparkResource keeps one per process); tests isolate through their own
lakehouse root under tmp_path instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lakehouse_jobs.defs.paths import REPO_ROOT
from lakehouse_jobs.lib import LakehouseResource, SparkResource
from lakehouse_jobs.lib.runtime import job_cluster
from lakehouse_jobs.lib.runtime.jvm_options import JIT_ENV
from lakehouse_jobs_tests.engines import ENGINE, jvm_only
from lakehouse_jobs_tests.example_run import ExampleRun, example_run

SAMPLE_LANDING = REPO_ROOT / "data" / "landing"
SPARK_FIXTURES = {"spark", "spark_resource"}


# The test files reading the `example` run: one xdist worker takes them all and computes it once.
EXAMPLE_FILES = frozenset(
    f"lakehouse_jobs_tests/{name}.py" for name in ("test_example_pipeline", "integrations/dbt/test_dbt", "integrations/ml/test_ml", "runtime/test_standalone")
)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile`, with EXAMPLE_FILES as one unit (xdist's own `loadgroup` marks are lost under pytest 9,
    which no longer lets a plugin rename a test's nodeid)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ExampleAsOneFile(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "example files" if scope in EXAMPLE_FILES else scope

    return ExampleAsOneFile(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Sail pass (LAKEHOUSE_ENGINE=sail, `make test`'s second run) runs the tests that take the
    `spark` session, on Sail; the rest ran in the JVM pass already."""
    if ENGINE != "sail":
        return
    keep = [item for item in items if SPARK_FIXTURES & set(getattr(item, "fixturenames", ()))]
    kept = {id(item) for item in keep}
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
    items[:] = keep
    for item in keep:
        reason = jvm_only(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"JVM only: {reason}"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory):
    """Never touch the repo's data/, a developer's DAGSTER_HOME or their warm job clusters from tests."""
    saved = {k: os.environ.get(k) for k in ("LAKEHOUSE_ROOT", "DAGSTER_HOME", job_cluster.STATE_DIR_ENV, JIT_ENV)}
    os.environ["LAKEHOUSE_ROOT"] = str(tmp_path_factory.mktemp("default_lakehouse"))
    os.environ.pop("DAGSTER_HOME", None)
    clusters = tmp_path_factory.mktemp("clusters")
    os.environ[job_cluster.STATE_DIR_ENV] = str(clusters)
    os.environ[JIT_ENV] = "quick"  # JVMs living seconds on small data (runtime/spark.py): every JVM the suite starts
    yield
    job_cluster.stop_all(clusters)  # a warm cluster some test left for its auto-termination
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def spark_resource() -> SparkResource:
    return SparkResource()


@pytest.fixture(scope="session")
def spark(spark_resource: SparkResource):
    return spark_resource.get_session()


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory, spark) -> ExampleRun:
    """The whole example graph materialized once per worker; the test files using it are EXAMPLE_FILES."""
    return example_run(tmp_path_factory, SAMPLE_LANDING)


@pytest.fixture
def lakehouse(tmp_path: Path) -> LakehouseResource:
    root = tmp_path / "lake"
    root.mkdir()
    return LakehouseResource(root=str(root))


@pytest.fixture
def sample_lakehouse(lakehouse: LakehouseResource) -> LakehouseResource:
    """A lakehouse whose landing folder holds a copy of the committed sample files."""
    shutil.copytree(SAMPLE_LANDING, Path(lakehouse.root) / "landing")
    return lakehouse
