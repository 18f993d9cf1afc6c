"""A code location for the run-queue tests: jobs whose runs wait for a release file.

Loaded by a real gRPC code server; the runs it launches are real subprocess runs.
"""

import time
from pathlib import Path

import dagster as dg

from lakehouse_jobs.lib.jobs.concurrency import concurrency_tags


class Release(dg.Config):
    release_file: str
    wait_seconds: float = 60


@dg.op
def wait_for_release(config: Release) -> None:
    deadline = time.monotonic() + config.wait_seconds
    while not Path(config.release_file).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{config.release_file} never appeared")
        time.sleep(0.1)


@dg.job(tags=concurrency_tags({"max_concurrent_runs": 1, "queue": {"enabled": True}}, job_key="queued"))
def queued_job():
    wait_for_release()


@dg.job(tags=concurrency_tags({"max_concurrent_runs": 1, "queue": {"enabled": False}}, job_key="skipping"))
def skipping_job():
    wait_for_release()


defs = dg.Definitions(jobs=[queued_job, skipping_job])
