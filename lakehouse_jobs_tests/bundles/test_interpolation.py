"""`${...}` matching: what is not a reference stays text, and a long near-miss costs no time."""

from __future__ import annotations

import time

from lakehouse_jobs.lib.bundles.bundle import load_bundle

from .conftest import condition_job, write_bundle


def test_text_that_is_no_reference_stays_and_is_fast(tmp_path):
    near_miss = "${" + "a_" * 40 + "!"  # the Databricks pattern, run by a backtracking engine as written, takes minutes on this
    job = {**condition_job(near_miss), "description": "cost ${ 5 } and $HOME and {{job.id}}"}
    started = time.perf_counter()
    bundle = load_bundle(write_bundle(tmp_path / "b", {"bundle": {"name": "b"}, "resources": {"jobs": {"j": job}}}))
    assert time.perf_counter() - started < 1.0
    assert bundle.jobs["j"]["name"] == near_miss and bundle.jobs["j"]["description"] == "cost ${ 5 } and $HOME and {{job.id}}"


def test_references_inside_text_and_nested(tmp_path):
    root = {
        "bundle": {"name": "shop"},
        "variables": {"env": {"default": "${bundle.target}"}, "schema": {"default": "${bundle.name}_${var.env}"}, "n": {"default": 3}, "on": {"default": True}},
        "resources": {"jobs": {"j": {**condition_job("${var.schema} x${var.n} ${var.on}"), "tags": {"schema": "${var.schema}"}}}},
    }
    job = load_bundle(write_bundle(tmp_path / "b", root)).jobs["j"]
    assert job["name"] == "shop_default x3 true" and job["tags"] == {"schema": "shop_default"}
