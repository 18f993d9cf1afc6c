"""load_bundle on a real-shaped bundle: include, variables, targets and their overrides, substitutions, modes, paths."""

from __future__ import annotations

from lakehouse_jobs.lib.bundles.bundle import load_bundle
from lakehouse_jobs.lib.jobs.load import load_spec_file

from .conftest import SHOP


def test_dev_target_is_the_default_and_development_mode_prefixes_and_pauses():
    bundle = load_bundle(SHOP)
    assert (bundle.name, bundle.target, bundle.mode) == ("shop", "dev", "development")
    assert [f.name for f in bundle.files] == ["databricks.yml", "shop_daily.job.yml", "shop_etl.job.yml"]
    etl, daily = bundle.jobs["shop_etl"], bundle.jobs["shop_daily"]
    assert etl["name"] == "[dev jane_doe] shop etl dev" and daily["name"] == "[dev jane_doe] shop daily"
    assert daily["trigger"]["pause_status"] == "PAUSED"  # development mode pauses what the user left unset...
    assert etl["schedule"]["pause_status"] == "UNPAUSED"  # ...and keeps what the user set (here through ${var.pause})
    assert etl["tags"] == {"catalog": "dev_catalog", "target": "dev", "dev": "jane_doe"}
    assert etl["max_concurrent_runs"] == 4


def test_substitutions_keep_the_type_of_typed_fields():
    etl = load_bundle(SHOP).jobs["shop_etl"]
    assert etl["schedule"]["quartz_cron_expression"] == "0 0 6 * * ?"
    assert etl["email_notifications"]["on_failure"] == ["owner@shop.test", "Jane.Doe@shop.test"]  # list items
    assert etl["email_notifications"]["on_success"] == ["a@shop.test", "b@shop.test"]  # a whole list from a complex variable
    assert etl["job_clusters"][0]["new_cluster"] == {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
    assert etl["parameters"][0] == {"name": "catalog", "default": "dev_catalog"}
    report = next(t for t in etl["tasks"] if t["task_key"] == "report")
    # run-time references are not bundle substitutions; ${workspace.current_user.short_name} is the local user
    assert report["notebook_task"]["base_parameters"]["greeting"] == "report for {{job.parameters.catalog}} by jane_doe"
    assert load_bundle(SHOP).jobs["shop_daily"]["tasks"][0]["run_job_task"]["job_id"] == "shop_etl"  # ${resources.jobs.shop_etl.id}


def test_prod_target_overrides_merge_by_key_and_paths_follow_the_declaring_file():
    bundle = load_bundle(SHOP, target="prod")
    etl = bundle.jobs["shop_etl"]
    assert etl["name"] == "shop etl prod" and "max_concurrent_runs" not in etl  # production: no prefix, no presets
    assert etl["schedule"]["pause_status"] == "PAUSED"  # the target's variable value
    assert etl["tags"]["catalog"] == "main"
    # tasks merge by task_key (sorted, as the Databricks CLI does): audit added, report changed, greet kept
    assert [t["task_key"] for t in etl["tasks"]] == ["audit", "greet", "report"]
    tasks = {t["task_key"]: t for t in etl["tasks"]}
    assert tasks["report"]["depends_on"] == [{"task_key": "greet"}]
    assert tasks["report"]["notebook_task"]["notebook_path"] == str(SHOP / "src" / "report.py")  # ./src/... from databricks.yml
    assert tasks["greet"]["notebook_task"]["notebook_path"] == str(SHOP / "src" / "greet.py")  # ../src/... from resources/
    assert tasks["report"]["notebook_task"]["base_parameters"]["greeting"].startswith("report for")  # the rest of the task kept
    # the job cluster merges by job_cluster_key: the prod complex variable, then the target's num_workers
    assert etl["job_clusters"] == [
        {"job_cluster_key": "main", "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.2xlarge", "num_workers": 16}}
    ]
    assert bundle.file_of("resources.jobs.shop_etl.tasks[2].notebook_task.notebook_path").endswith("databricks.yml")
    assert bundle.file_of("resources.jobs.shop_etl.tasks[1].notebook_task.notebook_path").endswith("shop_etl.job.yml")


def test_the_bundle_loads_as_jobs_with_the_bundle_folder_as_their_base():
    document = load_spec_file(SHOP / "databricks.yml", target="prod")
    assert sorted(document.jobs) == ["shop_daily", "shop_etl"]
    job = document.job("shop_etl")
    assert job.base_dir == SHOP and job.parameters == {"catalog": "main", "out": ""}
    assert [t.task_key for t in job.tasks] == ["audit", "greet", "report"]


def test_git_details_and_workspace_paths(tmp_path):
    from .conftest import condition_job, write_bundle

    job = {**condition_job(), "tags": {"branch": "${bundle.git.branch}", "commit": "${bundle.git.commit}"}, "description": "from ${bundle.git.origin_url}"}
    folder = write_bundle(
        tmp_path / "repo" / "b", {"bundle": {"name": "b"}, "resources": {"jobs": {"j": job}}, "variables": {"out": {"default": "${workspace.file_path}/out"}}}
    )
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/feature\n")
    (git / "refs" / "heads" / "feature").write_text("0123abcd" * 5 + "\n")
    (git / "config").write_text('[remote "origin"]\n\turl = https://example.com/shop.git\n')
    bundle = load_bundle(folder)
    assert bundle.jobs["j"]["tags"] == {"branch": "feature", "commit": "0123abcd" * 5}
    assert bundle.jobs["j"]["description"] == "from https://example.com/shop.git"
    assert bundle.variables == {"out": f"{folder.resolve()}/out"}
    assert bundle.config["workspace"]["root_path"] == str(folder.resolve())


def test_a_job_declared_only_under_a_target(tmp_path):
    from .conftest import condition_job, write_bundle

    root = {"bundle": {"name": "b"}, "targets": {"dev": {"default": True}, "prod": {"resources": {"jobs": {"backfill": condition_job("Backfill")}}}}}
    folder = write_bundle(tmp_path / "b", root)
    assert load_bundle(folder).jobs == {}
    assert sorted(load_spec_file(folder, target="prod").jobs) == ["backfill"]
