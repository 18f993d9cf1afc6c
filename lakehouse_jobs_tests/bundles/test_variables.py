"""Variable values by Databricks' precedence: --var > BUNDLE_VAR_<name> > variable-overrides.json > target > default."""

from __future__ import annotations

import json

import pytest

from lakehouse_jobs.lib.bundles.bundle import load_bundle
from lakehouse_jobs.lib.bundles.problems import BundleError

from .conftest import SHOP, condition_job, write_bundle


def test_precedence(monkeypatch, shop):
    assert load_bundle(SHOP, target="prod").variables["catalog"] == "main"  # the default
    assert load_bundle(SHOP, target="dev").variables["catalog"] == "dev_catalog"  # the target's value
    overrides = shop / ".databricks" / "bundle" / "dev" / "variable-overrides.json"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(json.dumps({"catalog": "from_file"}))
    assert load_bundle(shop, target="dev").variables["catalog"] == "from_file"
    monkeypatch.setenv("BUNDLE_VAR_catalog", "from_env")
    assert load_bundle(shop, target="dev").variables["catalog"] == "from_env"
    bundle = load_bundle(shop, target="dev", variables={"catalog": "from_cli"})
    assert bundle.variables["catalog"] == "from_cli"
    assert bundle.jobs["shop_etl"]["tags"]["catalog"] == "from_cli"  # and it is what the jobs get


def test_target_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABRICKS_BUNDLE_TARGET", "prod")
    assert load_bundle(SHOP).target == "prod"
    assert load_bundle(SHOP, target="dev").target == "dev"  # --target wins


def test_complex_variables_take_fields_and_cannot_come_from_the_command_line(tmp_path, monkeypatch):
    root = {
        "bundle": {"name": "b"},
        "variables": {"cfg": {"type": "complex", "default": {"owners": ["x@t.test"], "cron": "0 0 1 * * ?"}}},
        "resources": {
            "jobs": {
                "j": {
                    **condition_job(),
                    "schedule": {"quartz_cron_expression": "${var.cfg.cron}", "timezone_id": "UTC"},
                    "email_notifications": {"on_failure": ["${var.cfg.owners[0]}"]},
                }
            }
        },
    }
    bundle = load_bundle(write_bundle(tmp_path / "b", root))
    assert bundle.jobs["j"]["schedule"]["quartz_cron_expression"] == "0 0 1 * * ?"
    assert bundle.jobs["j"]["email_notifications"]["on_failure"] == ["x@t.test"]
    with pytest.raises(BundleError) as caught:
        load_bundle(tmp_path / "b", variables={"cfg": "x"})
    [(where, message)] = caught.value.problems
    assert where.endswith("b/databricks.yml: --var") and message == "cfg is a complex variable: it cannot be set from the command line"
    monkeypatch.setenv("BUNDLE_VAR_cfg", "x")
    with pytest.raises(BundleError, match=r"setting a complex variable from the environment \(BUNDLE_VAR_cfg\) is not supported"):
        load_bundle(tmp_path / "b")


def test_command_line_values_take_the_type_of_integer_and_boolean_fields(tmp_path):
    """--var gives strings; a field the Jobs API types integer/boolean gets that type, as Databricks' normalization does."""
    job = {**condition_job(), "timeout_seconds": "${var.timeout}", "max_concurrent_runs": "${var.runs}", "name": "${var.runs}"}
    job["tasks"][0]["retry_on_timeout"] = "${var.retry}"
    root = {
        "bundle": {"name": "b"},
        "variables": {"timeout": {"default": 60}, "runs": {"default": "1"}, "retry": {"default": False}},
        "resources": {"jobs": {"j": job}},
    }
    bundle = load_bundle(write_bundle(tmp_path / "b", root), variables={"timeout": "7200", "retry": "true"})
    j = bundle.jobs["j"]
    assert (j["timeout_seconds"], j["max_concurrent_runs"], j["tasks"][0]["retry_on_timeout"]) == (7200, 1, True)
    assert j["name"] == "1"  # a string field stays a string
