"""Databricks task types on a job cluster (Spark Connect), in a run process of their own.

The example's notebooks, script, wheel and SQL file run over Spark Connect exactly as on the
embedded session: the run's tasks share one server, `SparkSession.builder.getOrCreate()` in
user code returns the Connect session, and the server is gone once the run process ends.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from deltalake import DeltaTable

from lakehouse_jobs.lib.runtime import job_cluster

from .procs import REPO, log_tail, run_env, wait_for

EXAMPLE = REPO / "examples" / "databricks_etl"
LOCATION = """
import json, os
from lakehouse_jobs.lib import LakehouseResource, SparkResource, build_definitions, load_spec_file
defs = build_definitions(
    load_spec_file(os.environ["LJ_SPEC"]),
    resources={"spark": SparkResource(**json.loads(os.environ["LJ_SPARK"])), "lakehouse": LakehouseResource(root=os.environ["LAKEHOUSE_ROOT"])},
)
"""


def test_notebooks_script_wheel_and_sql_file_run_on_a_job_cluster(tmp_path: Path):
    root = tmp_path / "lake"
    root.mkdir()
    spec = yaml.safe_load((EXAMPLE / "databricks_etl.job.yml").read_text())
    job = spec["resources"]["jobs"]["databricks_etl"]
    keep = {"bronze_ingest", "silver_transform", "gold_aggregate", "top_customers", "check_gold", "run_summary"}
    job["tasks"] = [task for task in job["tasks"] if task["task_key"] in keep]
    for task in job["tasks"]:  # the condition is left out: its branch becomes a plain dependency
        task["depends_on"] = [{"task_key": "gold_aggregate"}] if task["task_key"] in ("top_customers", "check_gold") else task.get("depends_on", [])
    job.pop("schedule")
    spec["resources"]["jobs"] = {"databricks_etl": job}
    example = tmp_path / "example"
    shutil.copytree(EXAMPLE, example)  # the user's repository as it is, with a job file of its own
    spec_file = example / "cluster.job.yml"
    spec_file.write_text(yaml.safe_dump(spec))
    (tmp_path / "location.py").write_text(LOCATION)
    clusters = tmp_path / "clusters"
    env = run_env(root, {"job_cluster": True, "num_workers": 2, "cluster_state_dir": str(clusters)}, LJ_SPEC=str(spec_file))
    env["PYTHONPATH"] = str(tmp_path)
    env["LAKEHOUSE_WHEEL_CACHE"] = str(tmp_path / "wheels")
    cli = str(Path(sys.executable).with_name("lakehouse-jobs"))
    params = ["--param", f"lakehouse_root={root}", "--param", f"landing={REPO / 'data' / 'landing' / 'orders'}", "--param", "run_date=2026-03-01"]
    log = tmp_path / "run.log"
    with log.open("w") as out:
        done = subprocess.run(
            [cli, "run", str(spec_file), "--job", "databricks_etl", "--definitions", "location:defs", *params],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600,
        )  # fmt: skip
    text = log.read_text()
    assert done.returncode == 0, log_tail(log, 60)
    states = {words[0]: words[1] for words in (line.split() for line in text.splitlines()) if len(words) >= 2 and words[0] in {*keep, "job"}}
    assert states == {**dict.fromkeys(keep, "SUCCESS"), "job": "SUCCESS"}, log_tail(log, 60)
    assert list(clusters.glob("*/server.log")), "the run attached to no job cluster"
    gold = DeltaTable(str(root / "gold" / "etl_daily_revenue")).to_pandas()
    assert len(gold) > 0
    assert len(DeltaTable(str(root / "gold" / "etl_top_customers")).to_pandas()) == 5
    assert DeltaTable(str(root / "gold" / "etl_run_summary")).to_pandas()["run_date"].tolist() == ["2026-03-01"]
    assert list((tmp_path / "wheels").iterdir()), "the wheel task installed nothing"
    wait_for(lambda: not job_cluster.running(clusters), 60, "the job cluster to stop after the run")
