"""Fixtures shared by the job tests (jobs/, jobs/tasks/, jobs/automation/ inherit them)."""

from __future__ import annotations

import dagster as dg
import pytest


@pytest.fixture
def instance():
    """A throwaway Dagster instance (its own temp storage) for one test."""
    with dg.instance_for_test() as instance:
        yield instance
