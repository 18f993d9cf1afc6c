from __future__ import annotations

import pytest

from lakehouse_jobs_tests.conftest import SAMPLE_LANDING

from .example_run import ExampleRun, example_run


@pytest.fixture(scope="session")
def example(tmp_path_factory, spark) -> ExampleRun:
    return example_run(tmp_path_factory, SAMPLE_LANDING)
