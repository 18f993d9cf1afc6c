"""examples/databricks_bundle: a Databricks Asset Bundle run unchanged, through the README's own command.

`lakehouse-jobs run examples/databricks_bundle --target dev --job sales_job` in a process of its own
(real Spark + Delta, a real Dagster instance): a notebook lands files in a volume, a Python pipeline
(Auto Loader, expectations) and a SQL pipeline (read_files, AUTO CDC SCD2) refresh, a SQL file joins
them by name, the bundle's wheel checks the report. Every table is compared with what the sample data
must give, read by path with delta-rs.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse_jobs.lib import LakehouseResource
from lakehouse_jobs.lib.bundles import bundle_definitions, load_bundle

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "databricks_bundle"
SCHEMA = f"sales_dev_{getpass.getuser().lower()}"


def test_the_bundle_resolves_both_targets_as_databricks_does():
    dev, prod = load_bundle(EXAMPLE, "dev"), load_bundle(EXAMPLE, "prod")
    assert dev.jobs["sales_job"]["name"] == f"[dev {getpass.getuser()}] sales_job"  # mode: development
    assert dev.jobs["sales_job"]["trigger"]["pause_status"] == "PAUSED"
    assert prod.jobs["sales_job"]["name"] == "sales_job"
    assert prod.jobs["sales_job"]["email_notifications"]["on_failure"] == ["data-team@example.com"]  # a complex variable, whole
    assert dev.pipelines["sales_pipeline"]["schema"] == SCHEMA and prod.pipelines["sales_pipeline"]["schema"] == "sales"
    tasks = {task["task_key"]: task for task in dev.jobs["sales_job"]["tasks"]}
    notebook = tasks["land_files"]["notebook_task"]["notebook_path"]
    assert Path(notebook) == EXAMPLE / "src" / "notebooks" / "land_sample_files.py"  # relative to resources/, where it is declared


def test_the_bundle_is_dagster_definitions_with_its_pipelines_datasets_as_assets(tmp_path):
    defs = bundle_definitions(EXAMPLE, target="dev", resources={"lakehouse": LakehouseResource(root=str(tmp_path))})
    assert (tmp_path / SCHEMA).is_dir() and (tmp_path / "volumes" / "main" / SCHEMA / "landing").is_dir()  # resources.schemas/volumes, as a deploy
    keys = {key.to_user_string() for asset in defs.assets for key in asset.keys}
    assert keys == {f"{SCHEMA}/{t}" for t in ("orders_raw", "orders", "daily_revenue", "customer_changes", "customers", "current_customers")}
    assert [job.name for job in defs.jobs] == ["sales_job"]


def test_the_committed_wheel_is_built_from_the_committed_source():
    [wheel] = (EXAMPLE / "src" / "bundle_checks" / "dist").glob("bundle_checks-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("bundle_checks/__init__.py", "bundle_checks/check.py"):
            source = (EXAMPLE / "src" / "bundle_checks" / name).read_text()
            assert archive.read(name).decode() == source, f"run `lakehouse-jobs build examples/databricks_bundle`: {name} changed"


@pytest.fixture(scope="module")
def bundle_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle_lake")
    home = tmp_path_factory.mktemp("bundle_home")
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root), "DAGSTER_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("lakehouse-jobs")), "run", str(EXAMPLE), "--target", "dev", "--job", "sales_job"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return root


def _rows(root: Path, table: str, columns: list[str]) -> list[tuple]:
    frame = DeltaTable(str(root / SCHEMA / table)).to_pandas()
    return sorted(tuple(row) for row in frame[columns].itertuples(index=False))


def test_the_job_runs_from_the_cli_and_its_tables_land_under_the_root(bundle_run: Path):
    root = bundle_run
    assert sorted(p.name for p in (root / "volumes" / "main" / SCHEMA / "landing" / "orders").iterdir()) == ["orders_000.csv", "orders_001.csv"]
    # orders: 5 a batch, the one with amount -5 dropped by expect_or_drop
    orders = _rows(root, "orders", ["order_id", "customer_id", "amount"])
    expected = [(b * 5 + i + 1, i % 3 + 1, Decimal(10 * (i + 1))) for b in range(2) for i in range(4)]
    assert orders == sorted(expected)
    assert [(str(day), revenue, n) for day, revenue, n in _rows(root, "daily_revenue", ["order_date", "revenue", "orders"])] == [
        ("2026-01-01", Decimal("100.00"), 4),
        ("2026-01-02", Decimal("100.00"), 4),
    ]
    # SCD type 2: customer 2 moved from DE to NL (two versions), customer 4 has no name (kept here, dropped below)
    versions = _rows(root, "customers", ["customer_id", "country", "__START_AT", "__END_AT"])
    assert [(c, country, start) for c, country, start, _ in versions] == [(1, "FR", 1), (2, "DE", 1), (2, "NL", 2), (3, "US", 1), (4, "US", 2)]
    assert {(c, country): end for c, country, _, end in versions}[(2, "DE")] == 2
    assert _rows(root, "current_customers", ["customer_id", "name", "country"]) == [(1, "Ada", "FR"), (2, "Bo", "NL"), (3, "Cy", "US")]
    # the SQL file's table, by three-part name, joined with both pipelines' tables
    assert _rows(root, "sales_by_country", ["country", "orders", "revenue"]) == [
        ("FR", 4, Decimal("100.00")),
        ("NL", 2, Decimal("40.00")),
        ("US", 2, Decimal("60.00")),
    ]
