"""Bad bundles: each problem is one line naming the YAML file and the field, all reported together, no traceback."""

from __future__ import annotations

import pytest

from lakehouse_jobs.cli import main
from lakehouse_jobs.lib.bundles.bundle import load_bundle
from lakehouse_jobs.lib.bundles.problems import BundleError
from lakehouse_jobs.lib.jobs.load import SpecValidationError, load_spec_file

from .conftest import SHOP, condition_job, write_bundle


def problems_of(path, **kwargs) -> list[str]:
    with pytest.raises(BundleError) as caught:
        load_bundle(path, **kwargs)
    return [f"{where}: {message}" for where, message in caught.value.problems]


def test_unknown_variable_names_the_file_and_field(tmp_path):
    folder = write_bundle(
        tmp_path / "b",
        {"bundle": {"name": "b"}, "include": ["resources/*.yml"]},
        {"resources/j.job.yml": {"resources": {"jobs": {"j": {**condition_job("${var.nope}")}}}}},
    )
    [line] = problems_of(folder)
    assert line.endswith("b/resources/j.job.yml: resources.jobs.j.name: unknown reference ${var.nope} (no variable 'nope' is declared)")


def test_missing_target_lists_the_targets():
    [line] = problems_of(SHOP, target="staging")
    assert line.endswith("databricks.yml: --target: staging: no such target; the bundle declares dev, prod")


def test_include_glob_matching_nothing(tmp_path):
    folder = write_bundle(tmp_path / "b", {"bundle": {"name": "b"}, "include": ["resources/*.yml", "missing/*.yml"]}, {"resources/a.yml": {}})
    [line] = problems_of(folder)
    assert "b/databricks.yml: include[1]: 'missing/*.yml' matches no file under" in line


def test_substitution_cycle(tmp_path):
    root = {
        "bundle": {"name": "b"},
        "variables": {"a": {"default": "${var.b}"}, "b": {"default": "x-${var.a}"}},
        "resources": {"jobs": {"j": condition_job("${var.a}")}},
    }
    lines = problems_of(write_bundle(tmp_path / "b", root))
    assert any("resources.jobs.j.name: cycle: ${var.a} -> ${var.b} -> ${var.a}" in line for line in lines), lines


def test_resource_declared_in_two_files(tmp_path):
    folder = write_bundle(
        tmp_path / "b",
        {"bundle": {"name": "b"}, "include": ["resources/*.yml"]},
        {"resources/one.yml": {"resources": {"jobs": {"j": condition_job()}}}, "resources/two.yml": {"resources": {"jobs": {"j": condition_job()}}}},
    )
    [line] = problems_of(folder)
    assert "b/resources/two.yml: resources.jobs.j: declared twice: also in" in line and line.endswith("one.yml")


def test_lookup_and_unset_variables(tmp_path):
    root = {
        "bundle": {"name": "b"},
        "variables": {"warehouse": {"lookup": {"warehouse": "Shared"}}, "needed": {"description": "no default"}},
        "resources": {"jobs": {"j": condition_job()}},
    }
    lines = problems_of(write_bundle(tmp_path / "b", root))
    assert any(
        line.endswith(
            "variables.warehouse.lookup: lookup variables resolve workspace objects by name and there is no workspace here; give the variable a default"
        )
        for line in lines
    )
    assert any(line.endswith("variables.needed: no value: set a default, pass --var needed=..., or set BUNDLE_VAR_needed") for line in lines)


def test_job_problems_name_the_file_that_declared_the_field(tmp_path):
    folder = write_bundle(
        tmp_path / "b",
        {
            "bundle": {"name": "b"},
            "include": ["resources/*.yml"],
            "targets": {"dev": {"resources": {"jobs": {"j": {"tasks": [{"task_key": "check", "run_if": "SOMETIMES"}]}}}}},
        },
        {"resources/j.yml": {"resources": {"jobs": {"j": condition_job()}}}},
    )
    with pytest.raises(SpecValidationError) as caught:
        load_spec_file(folder)
    [(where, message)] = caught.value.problems
    assert where.endswith("b/databricks.yml: resources.jobs.j.tasks[0].run_if") and "SOMETIMES" in message


def test_cli_prints_one_line_per_problem(tmp_path, capsys):
    folder = write_bundle(tmp_path / "b", {"bundle": {"name": "b"}, "include": ["none/*.yml"], "resources": {"jobs": {"j": condition_job("${var.x}")}}})
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "databricks.yml: include[0]: 'none/*.yml' matches no file under" in err and "Traceback" not in err
    assert main(["validate", str(SHOP), "--target", "nope"]) == 1
    assert "--target: nope: no such target; the bundle declares dev, prod" in capsys.readouterr().err


def test_unknown_fields_are_warnings_as_in_databricks(tmp_path, capsys):
    root = {
        "bundle": {"name": "b"},
        "definitions": {"common": {"timezone_id": "UTC"}},
        "mystery": {"x": 1},
        "variables": {"v": {"default": "x", "doc": "typo of description"}},
        "targets": {"dev": {"default": True, "workspce": {"host": "h"}}},
        "resources": {"jobs": {"j": condition_job()}},
    }
    folder = write_bundle(tmp_path / "b", root)
    warnings = [f"{where}: {message}" for where, message in load_bundle(folder).warnings]
    assert sorted(w.split(": ")[1] for w in warnings) == ["mystery", "targets.dev.workspce", "variables.v.doc"]
    assert main(["validate", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "mystery: unknown bundle section, ignored" in err and "definitions" not in err.split("known:")[0]


def test_python_defined_resources_are_named_as_not_loaded(tmp_path):
    root = {"bundle": {"name": "b"}, "python": {"venv_path": ".venv", "resources": ["resources:load_resources"]}, "resources": {"jobs": {"j": condition_job()}}}
    [(where, message)] = load_bundle(write_bundle(tmp_path / "b", root)).warnings
    assert where.endswith("databricks.yml: python") and message.startswith("resources and mutators written in Python (databricks-bundles) are not loaded here")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"presets": {"name_prefix": {"a": 1}}}, "presets.name_prefix"),
        ({"presets": {"tags": ["x"]}}, "presets.tags"),
        ({"presets": {"jobs_max_concurrent_runs": "many"}}, "presets.jobs_max_concurrent_runs"),
        (
            {"targets": {"dev": {"mode": "development", "resources": {"jobs": {"j": {"tasks": [{"task_key": "check", "condition_task": "nope"}]}}}}}},
            "resources.jobs.j.tasks",
        ),
    ],
)
def test_malformed_sections_are_problems_not_crashes(tmp_path, change, field):
    root = {"bundle": {"name": "b"}, "resources": {"jobs": {"j": condition_job()}}, **change}
    lines = problems_of(write_bundle(tmp_path / "b", root))
    assert any(f"databricks.yml: {field}:" in line for line in lines), lines


def test_development_mode_with_empty_presets(tmp_path):
    root = {
        "bundle": {"name": "b"},
        "presets": None,
        "resources": {"jobs": {"j": {**condition_job(), "tags": None}}},
        "targets": {"dev": {"mode": "development"}},
    }
    job = load_bundle(write_bundle(tmp_path / "b", root)).jobs["j"]
    assert job["name"] == "[dev jane_doe] job" and job["tags"] == {"dev": "jane_doe"}
