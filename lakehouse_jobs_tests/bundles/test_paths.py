"""Path translation as databricks/cli's translate_paths: every local path from the file that declared it; the rest left alone."""

from __future__ import annotations

from lakehouse_jobs.lib.bundles.bundle import load_bundle

from .conftest import write_bundle


def test_every_path_field_from_its_file(tmp_path):
    job = {
        "name": "paths",
        "environments": [
            {"environment_key": "e", "spec": {"dependencies": ["./dist/*.whl", "-r ../requirements.txt", "pandas==2.2.0", "/Workspace/Shared/x.whl"]}}
        ],
        "tasks": [
            {"task_key": "nb", "notebook_task": {"notebook_path": "../src/nb"}},
            {"task_key": "ws", "notebook_task": {"notebook_path": "/Workspace/Shared/nb"}},
            {
                "task_key": "py",
                "spark_python_task": {"python_file": "../src/main.py"},
                "libraries": [{"whl": "../dist/*.whl"}, {"jar": "../lib/x.jar"}, {"pypi": {"package": "x"}}],
            },
            {"task_key": "sql", "sql_task": {"file": {"path": "../src/q.sql"}, "warehouse_id": "w"}},
            {"task_key": "dbt", "dbt_task": {"project_directory": "../dbt", "commands": ["dbt run"]}},
            {"task_key": "loop", "for_each_task": {"inputs": "[1]", "task": {"task_key": "in", "notebook_task": {"notebook_path": "../src/inner"}}}},
        ],
    }
    pipeline = {
        "name": "p",
        "root_path": "../src/pipeline",
        "libraries": [{"notebook": {"path": "../src/dlt"}}, {"file": {"path": "../src/t.sql"}}, {"glob": {"include": "../src/pipeline/**"}}],
    }
    git_job = {
        "name": "g",
        "git_source": {"git_url": "https://example.com/r", "git_branch": "main"},
        "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "notebooks/nb", "source": "GIT"}}],
    }
    folder = write_bundle(
        tmp_path / "b",
        {
            "bundle": {"name": "b"},
            "include": ["resources/*.yml"],
            "targets": {"dev": {"resources": {"jobs": {"paths": {"tasks": [{"task_key": "nb", "notebook_task": {"notebook_path": "./other/nb"}}]}}}}},
        },
        {"resources/r.yml": {"resources": {"jobs": {"paths": job, "g": git_job}, "pipelines": {"p": pipeline}}}},
    )
    bundle = load_bundle(folder)
    tasks = {t["task_key"]: t for t in bundle.jobs["paths"]["tasks"]}
    at = lambda relative: str(folder / relative)  # noqa: E731
    assert tasks["nb"]["notebook_task"]["notebook_path"] == at("other/nb")  # the target override: relative to databricks.yml
    assert tasks["ws"]["notebook_task"]["notebook_path"] == "/Workspace/Shared/nb"
    assert tasks["py"]["spark_python_task"]["python_file"] == at("src/main.py")
    assert tasks["py"]["libraries"] == [{"whl": at("dist/*.whl")}, {"jar": at("lib/x.jar")}, {"pypi": {"package": "x"}}]
    assert tasks["sql"]["sql_task"]["file"]["path"] == at("src/q.sql")
    assert tasks["dbt"]["dbt_task"]["project_directory"] == at("dbt")
    assert tasks["loop"]["for_each_task"]["task"]["notebook_task"]["notebook_path"] == at("src/inner")
    dependencies = bundle.jobs["paths"]["environments"][0]["spec"]["dependencies"]
    assert dependencies == [at("resources/dist/*.whl"), f"-r {at('requirements.txt')}", "pandas==2.2.0", "/Workspace/Shared/x.whl"]
    assert bundle.jobs["g"]["tasks"][0]["notebook_task"]["notebook_path"] == "notebooks/nb"  # git_source jobs: paths live in the repository
    p = bundle.pipelines["p"]
    assert p["root_path"] == at("src/pipeline")
    assert p["libraries"] == [{"notebook": {"path": at("src/dlt")}}, {"file": {"path": at("src/t.sql")}}, {"glob": {"include": at("src/pipeline/**")}}]


def test_presets_apply_as_databricks_does(tmp_path):
    root = {
        "bundle": {"name": "b"},
        "presets": {"name_prefix": "[${bundle.target}] ", "trigger_pause_status": "PAUSED", "tags": {"team": "data", "owner": "x"}},
        "resources": {
            "jobs": {"j": {"name": "J", "tags": {"owner": "kept"}, "schedule": {"quartz_cron_expression": "0 0 1 * * ?", "timezone_id": "UTC"}, "tasks": []}},
            "pipelines": {"p": {"name": "P", "continuous": True}},
        },
        "targets": {"staging": {"default": True}},
    }
    bundle = load_bundle(write_bundle(tmp_path / "b", root))
    job, pipeline = bundle.jobs["j"], bundle.pipelines["p"]
    assert job["name"] == "[staging] J" and pipeline["name"] == "[staging] P"
    assert job["tags"] == {"owner": "kept", "team": "data"} and job["schedule"]["pause_status"] == "PAUSED"
    assert pipeline["continuous"] is False and "development" not in pipeline  # paused presets stop continuous pipelines


def test_development_mode_pipelines_and_references_to_prefixed_names(tmp_path):
    root = {
        "bundle": {"name": "b"},
        "resources": {
            "pipelines": {"p": {"name": "P"}},
            "jobs": {
                "j": {
                    "name": "J",
                    "description": "runs ${resources.pipelines.p.name}",
                    "tasks": [{"task_key": "t", "pipeline_task": {"pipeline_id": "${resources.pipelines.p.id}"}}],
                }
            },
        },
        "targets": {"dev": {"mode": "development"}},
    }
    bundle = load_bundle(write_bundle(tmp_path / "b", root))
    assert bundle.pipelines["p"] == {"name": "[dev jane_doe] P", "development": True, "tags": {"dev": "jane_doe"}}
    assert bundle.jobs["j"]["description"] == "runs [dev jane_doe] P"
    assert bundle.jobs["j"]["tasks"][0]["pipeline_task"]["pipeline_id"] == "p"


def test_a_path_leaving_the_bundle_folder_is_refused_unless_synced(tmp_path):
    import pytest

    from lakehouse_jobs.lib.bundles.problems import BundleError

    (tmp_path / "shared").mkdir()
    job = {
        "name": "j",
        "tasks": [{"task_key": "w", "python_wheel_task": {"package_name": "p", "entry_point": "e"}, "libraries": [{"whl": "../../shared/*.whl"}]}],
    }
    root = {"bundle": {"name": "b"}, "include": ["resources/*.yml"]}
    folder = write_bundle(tmp_path / "b", root, {"resources/j.yml": {"resources": {"jobs": {"j": job}}}})
    with pytest.raises(BundleError) as caught:
        load_bundle(folder)
    [(where, message)] = caught.value.problems
    assert where.endswith("b/resources/j.yml: resources.jobs.j.tasks[0].libraries[0].whl")
    assert message.startswith("'../../shared/*.whl' resolves to") and "outside the bundle folder" in message
    write_bundle(folder, {**root, "sync": {"paths": [".", "../shared"]}})
    assert load_bundle(folder).jobs["j"]["tasks"][0]["libraries"] == [{"whl": str(tmp_path / "shared" / "*.whl")}]
