"""python_wheel_task: a real wheel from `libraries`, its console_scripts entry point, parameters, the content cache and isolation.

The wheels are built here as PEP 427 zip files (dist-info METADATA, WHEEL, entry_points.txt, RECORD):
the venv's setuptools (65.5) needs the separate `wheel` package to build one, which is not installed.
pip installs them as it would any wheel.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from lakehouse_jobs.lib.jobs.load import load_spec_file
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS
from lakehouse_jobs.lib.runtime import wheels

from ..jobrun import run_spec, task

PACKAGE = "lj_demo_wheel"

CLI = """\
import argparse
import json

from pyspark.sql import SparkSession

from lj_demo_wheel import VERSION


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--label")
    parser.add_argument("--mode", default="none")
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    spark.createDataFrame([(args.label, args.mode, VERSION)], "label string, mode string, version string") \\
        .write.format("delta").mode("append").save(args.out)


def fail():
    raise RuntimeError("no data for " + VERSION)
"""

INIT = """\
import json
import sys

VERSION = "{version}"


def dump():
    with open(sys.argv[1], "w") as f:
        json.dump({{"argv": sys.argv, "version": VERSION}}, f)
"""


def build_wheel(folder: Path, version: str) -> Path:
    """A pure-Python wheel of lj_demo_wheel declaring console_scripts `lj-demo` and `lj-fail`."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{PACKAGE}-{version}.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": INIT.format(version=version),
        f"{PACKAGE}/cli.py": CLI,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lakehouse_jobs_tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[console_scripts]\nlj-demo = {PACKAGE}.cli:main\nlj-fail = {PACKAGE}.cli:fail\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    path = folder / f"{PACKAGE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "wheel_cache"
    monkeypatch.setenv(wheels.CACHE_ENV, str(root))
    return root


def _not_installed() -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(PACKAGE)
    assert not [name for name in sys.modules if name.startswith(PACKAGE)]


def _wheel_job(name: str, wheel: Path, out: Path, **named: str) -> dict:
    body = {"package_name": PACKAGE, "entry_point": "lj-demo", "named_parameters": {"out": str(out), **named}}
    return {"name": name, "parameters": [{"name": "mode", "default": "job_default"}],
            "tasks": [task("w", {"python_wheel_task": body}, libraries=[{"whl": str(wheel.parent / "lj_demo_wheel-*.whl")}])]}  # fmt: skip


def test_wheel_from_libraries_runs_its_console_script(instance, spark, tmp_path, cache):
    _not_installed()
    v1 = build_wheel(tmp_path / "v1" / "dist", "1.0")
    v2 = build_wheel(tmp_path / "v2" / "dist", "2.0")
    out = tmp_path / "out"
    # job parameters are pushed down into named_parameters and win over the task's own `mode`
    first = run_spec(instance, _wheel_job("wheel1", v1, out, label="first", mode="task"), params={"mode": "from_job"})
    assert first.states == {"w": SUCCESS}, first.outputs
    assert first.outputs["w"]["wheels"] == [v1.name] and first.outputs["w"]["wheels_from_cache"] == 0
    _not_installed()  # the project's environment did not get it, and its modules are gone
    installed = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert [p.name for p in installed] == [hashlib.sha256(v1.read_bytes()).hexdigest()]

    again = run_spec(instance, _wheel_job("wheel1", v1, out, label="again"))
    assert again.states == {"w": SUCCESS} and again.outputs["w"]["wheels_from_cache"] == 1  # the content cache is reused
    other = run_spec(instance, _wheel_job("wheel2", v2, out, label="other"))  # another version of the same package
    assert other.states == {"w": SUCCESS} and other.outputs["w"]["wheels_from_cache"] == 0
    rows = sorted((r.label, r.mode, r.version) for r in spark.read.format("delta").load(str(out)).collect())
    assert rows == [("again", "job_default", "1.0"), ("first", "from_job", "1.0"), ("other", "job_default", "2.0")]
    _not_installed()


def test_positional_parameters_fallback_function_and_failures(instance, tmp_path, cache):
    wheel = build_wheel(tmp_path / "dist", "3.0")
    libraries = [{"whl": str(wheel)}]
    seen = tmp_path / "argv.json"

    def wheel_task(key: str, entry_point: str, *deps: str, **extra) -> dict:
        body = {"package_name": PACKAGE, "entry_point": entry_point, "parameters": [str(seen), "{{job.parameters.x}}", "b"]}
        return task(key, {"python_wheel_task": body}, *deps, libraries=libraries, **extra)

    spec = {
        "name": "wheel_edges",
        "parameters": [{"name": "x", "default": "a"}],
        "tasks": [
            wheel_task("dump", "dump"),  # no such entry point in the metadata: the package's function lj_demo_wheel.dump
            wheel_task("missing", "nope"),
            wheel_task("fails", "lj-fail"),
            task("bad_glob", {"python_wheel_task": {"package_name": PACKAGE, "entry_point": "dump"}}, libraries=[{"whl": str(tmp_path / "*.whl")}]),
            task("absent", {"python_wheel_task": {"package_name": "no_such_dist_xyz", "entry_point": "main"}}),
            wheel_task("after", "dump", "missing", "fails", run_if="ALL_DONE"),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"dump": SUCCESS, "missing": FAILED, "fails": FAILED, "bad_glob": FAILED, "absent": FAILED, "after": SUCCESS}
    # positional parameters are argv as given: job parameters are not pushed down, only referenced
    assert json.loads(seen.read_text()) == {"argv": [PACKAGE, str(seen), "a", "b"], "version": "3.0"}
    errors = {key: result.outputs[key]["error"] for key in ("missing", "fails", "bad_glob", "absent")}
    assert errors["missing"] == f"package '{PACKAGE}' has no entry point 'nope' (none in its metadata and no function {PACKAGE}.nope)"
    installed = next(p for p in cache.iterdir() if not p.name.startswith("."))
    assert errors["fails"] == (f"package {PACKAGE} entry point lj-fail ({installed / PACKAGE / 'cli.py'}, line 21): RuntimeError: no data for 3.0")
    assert errors["bad_glob"].startswith(f"libraries[0].whl: wheel '{tmp_path / '*.whl'}' matches no .whl file")
    assert errors["absent"] == "package 'no_such_dist_xyz' is not installed in the environment and no libraries whl of the task provides it"
    _not_installed()


def test_relative_wheel_from_the_yaml_files_folder_and_validation(instance, tmp_path, cache):
    bundle = tmp_path / "bundle"
    build_wheel(bundle / "dist", "4.0")
    seen = tmp_path / "seen.json"
    spec_file = bundle / "job.yml"
    spec_file.write_text(
        textwrap.dedent(f"""\
        name: rel
        tasks:
          - task_key: w
            libraries: [{{whl: ./dist/*.whl}}]
            python_wheel_task: {{package_name: {PACKAGE}, entry_point: dump, parameters: ['{seen}']}}
    """)
    )
    import dagster as dg

    from lakehouse_jobs.lib.jobs import reconstructable_job

    from ..jobrun import read_run

    load_spec_file(spec_file)
    with dg.execute_job(reconstructable_job(path=str(spec_file)), instance, raise_on_error=False) as executed:
        result = read_run(instance, executed.run_id, ["w"])
    assert result.states == {"w": SUCCESS}, result.outputs
    assert json.loads(seen.read_text())["version"] == "4.0"

    from lakehouse_jobs.lib.jobs import load_spec
    from lakehouse_jobs.lib.jobs.load import SpecValidationError

    with pytest.raises(SpecValidationError) as raised:
        load_spec({"name": "bad", "tasks": [task("w", {"python_wheel_task": {"package_name": PACKAGE, "parameters": ["a"], "named_parameters": {"b": "c"}}})]})
    problems = dict(raised.value.problems)
    assert problems["tasks[0].python_wheel_task.entry_point"].startswith("missing")
    assert problems["tasks[0].python_wheel_task.named_parameters"] == "use parameters or named_parameters, not both"


def test_wheel_from_the_jobs_environment_as_databricks_templates_ship_it(instance, tmp_path, cache):
    """`environment_key` + the job's `environments[].spec.dependencies: [../dist/*.whl]` (serverless tasks)."""
    _not_installed()
    wheel = build_wheel(tmp_path / "dist", "3.0")
    out = tmp_path / "dump.json"
    body = {"package_name": PACKAGE, "entry_point": "dump", "parameters": [str(out)]}
    environments = [{"environment_key": "default", "spec": {"client": "2", "dependencies": [str(wheel.parent / "lj_demo_wheel-*.whl")]}}]
    job = {"name": "env_wheel", "environments": environments, "tasks": [task("w", {"python_wheel_task": body}, environment_key="default")]}
    result = run_spec(instance, job)
    assert result.states == {"w": SUCCESS}, result.outputs
    assert json.loads(out.read_text())["version"] == "3.0"
    assert result.outputs["w"]["environment"] == "default"
    _not_installed()

    missing = {**job, "name": "env_missing", "tasks": [task("w", {"python_wheel_task": body}, environment_key="gpu")]}
    result = run_spec(instance, missing)
    assert result.states == {"w": FAILED}
    assert result.outputs["w"]["error"] == "environment_key: the job has no environment 'gpu' (environments[].environment_key)"
