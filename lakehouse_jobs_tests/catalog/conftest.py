"""A throwaway Dagster instance for the catalog's job runs (as in lakehouse_jobs_tests/jobs/)."""

from __future__ import annotations

import dagster as dg
import pytest


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance
