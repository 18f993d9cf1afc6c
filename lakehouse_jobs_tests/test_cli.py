"""The command lines a user runs: the generator, prepare, the plugin CLI's hook, and `dagster asset materialize` on the example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse_jobs.cli import main
from lakehouse_jobs.defs.paths import REPO_ROOT
from lakehouse_jobs.lib import cli as plugin_cli
from lakehouse_jobs.lib.errors import LakehouseError

from .conftest import SAMPLE_LANDING

BIN = Path(sys.executable).parent


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_per_seed(tmp_path):
    args = ["generate", "--orders", "300", "--customers", "40", "--events", "500", "--files", "2"]
    assert main([*args, "--root", str(tmp_path / "a")]) == 0
    assert main([*args, "--root", str(tmp_path / "b")]) == 0
    assert main([*args, "--seed", "7", "--root", str(tmp_path / "c")]) == 0
    a, b, c = (_files(tmp_path / x / "landing") for x in "abc")
    assert a == b and a != c
    assert sorted(a) == [f"{s}/part-000{i}.{ext}" for s, ext in [("clickstream", "jsonl"), ("customers", "csv"), ("orders", "csv")] for i in (0, 1)]
    orders = b"".join(v for k, v in a.items() if k.startswith("orders/")).decode().splitlines()
    assert len([line for line in orders if not line.startswith("order_id")]) == 300 + 6  # + 2% re-sent duplicates


def test_committed_sample_files_are_the_generator_defaults(tmp_path):
    """`lakehouse-jobs generate` with defaults reproduces data/landing byte for byte."""
    assert main(["generate", "--root", str(tmp_path)]) == 0
    assert _files(tmp_path / "landing") == _files(SAMPLE_LANDING)


def test_dagster_asset_materialize_cli_builds_the_orders_chain(tmp_path):
    root = tmp_path / "lake"
    shutil.copytree(SAMPLE_LANDING / "orders", root / "landing" / "orders")
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "lakehouse_jobs.definitions", "--select", "bronze/orders,silver/orders,gold/daily_revenue"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUN_SUCCESS" in proc.stderr
    for table in ("bronze/orders", "silver/orders", "gold/daily_revenue"):
        assert len(DeltaTable(str(root / table)).to_pandas()) > 0


def test_prepare_parses_the_dbt_projects_the_pyproject_lists(capsys, monkeypatch):
    """`make prepare` (`lakehouse-jobs prepare` in the repo) parses dbt_project/ because pyproject.toml lists it."""
    monkeypatch.chdir(REPO_ROOT)
    assert plugin_cli.dbt_projects() == [REPO_ROOT / "dbt_project"]
    assert main(["prepare"]) == 0
    out = capsys.readouterr().out
    assert f"dbt manifest ready: {REPO_ROOT / 'dbt_project' / 'target' / 'manifest.json'}" in out


def test_dbt_projects_come_from_the_flag_and_the_nearest_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.lakehouse_jobs]\ndbt_projects = ["marts", "more/staging"]\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert plugin_cli.dbt_projects(["../marts", "extra"]) == [tmp_path / "marts", tmp_path / "sub" / "extra", tmp_path / "more" / "staging"]
    (tmp_path / "sub" / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # the nearest project lists none
    assert plugin_cli.dbt_projects() == []
    (tmp_path / "sub" / "pyproject.toml").write_text('[tool.lakehouse_jobs]\ndbt_projects = "marts"\n')
    with pytest.raises(LakehouseError, match=r"dbt_projects must be a list of paths"):
        plugin_cli.dbt_projects()


def test_prepare_reports_a_bad_setting_or_a_missing_dbt_project_in_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.lakehouse_jobs]\ndbt_projects = [1]\n")
    monkeypatch.chdir(tmp_path)
    assert plugin_cli.main(["prepare"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lakehouse-jobs: ") and "dbt_projects must be a list" in err and len(err.splitlines()) == 1

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert plugin_cli.main(["prepare", "--dbt-project", "nowhere"]) == 1
    assert f"no dbt project at {tmp_path / 'nowhere'}" in capsys.readouterr().err


def test_an_application_adds_its_subcommands_to_the_plugin_cli(capsys):
    def add_hello(commands):
        hello = commands.add_parser("hello", help="say hello")
        hello.add_argument("--name", default="world")
        hello.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    def add_failing(commands):
        def fail(args):
            raise LakehouseError("no luck")

        commands.add_parser("fail").set_defaults(func=fail)

    assert plugin_cli.main(["hello", "--name", "lake"], commands=[add_hello, add_failing], prog="my-lake") == 0
    assert capsys.readouterr().out == "hello lake\n"
    assert plugin_cli.main(["fail"], commands=[add_hello, add_failing], prog="my-lake") == 1
    assert capsys.readouterr().err == "my-lake: no luck\n"
    parser = plugin_cli.build_parser([add_hello])
    assert {"prepare", "clusters", "validate", "list", "run", "repair", "hello"} <= set(parser._subparsers._group_actions[0].choices)
    with pytest.raises(SystemExit):  # the plugin alone knows no example command
        plugin_cli.main(["generate"])
    capsys.readouterr()
