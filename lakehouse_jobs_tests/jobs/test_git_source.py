"""git_source: jobs run their notebooks from a real local Git repository at a commit, a tag or a branch
(fetched again at each run), on a real Dagster instance; the resolved commit is a run tag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lakehouse_jobs.lib import tags
from lakehouse_jobs.lib.git_source import GitSource, GitSourceError, Mirror, hide_credentials
from lakehouse_jobs.lib.jobs.repair import repair_run
from lakehouse_jobs.lib.jobs.validate import validate_document
from lakehouse_jobs_tests.jobs.jobrun import read_run, run_spec, task

HEADER = "# Databricks notebook source\n"


def git(repo: Path, *args: str) -> str:
    environment = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.test",
        "HOME": str(repo.parent),
    }
    return subprocess.run(["git", *args], cwd=repo, env=environment, check=True, capture_output=True, text=True).stdout.strip()


def commit_notebook(repo: Path, value: str) -> str:
    """Commit notebooks/report.py (exits with `value`, via a %run of a helper of the same commit)."""
    (repo / "notebooks").mkdir(parents=True, exist_ok=True)
    (repo / "notebooks" / "helper.py").write_text(f"{HEADER}VALUE = {value!r}\n")
    (repo / "notebooks" / "report.py").write_text(f"{HEADER}# MAGIC %run ./helper\n\n# COMMAND ----------\n\ndbutils.notebook.exit(VALUE)\n")
    (repo / "scripts").mkdir(exist_ok=True)
    (repo / "scripts" / "emit.py").write_text(  # writes `value` to argv[1]; fails while the file argv[2] exists
        f"import sys, pathlib\nif len(sys.argv) > 2 and pathlib.Path(sys.argv[2]).exists():\n    sys.exit(3)\npathlib.Path(sys.argv[1]).write_text({value!r})\n"
    )
    (repo / "queries").mkdir(exist_ok=True)
    (repo / "queries" / "value.sql").write_text(f"SELECT '{value}' AS v")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", value)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_GIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LAKEHOUSE_WORKSPACE_ROOT", raising=False)
    path = tmp_path / "origin"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def job(repo: Path, **reference: str) -> dict:
    return {
        "name": "from_git",
        "git_source": {"git_url": str(repo), "git_provider": "gitHub", **reference},
        "tasks": [task("report", {"notebook_task": {"notebook_path": "notebooks/report"}})],
    }


def output(result) -> str:
    return result.outputs["report"]["notebook_output"]


def test_jobs_run_the_notebook_of_their_commit_tag_or_branch(instance, repo: Path, tmp_path: Path, monkeypatch):
    first = commit_notebook(repo, "first")
    git(repo, "tag", "v1")
    second = commit_notebook(repo, "second")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "report.py").write_text(f"{HEADER}dbutils.notebook.exit('on disk')\n")
    monkeypatch.chdir(tmp_path / "here")  # the job's folder (a spec given as a dict): what is on disk differs from the repository

    pinned = run_spec(instance, job(repo, git_commit=first[:10]))
    assert pinned.states == {"report": "SUCCESS"} and output(pinned) == "first"
    assert pinned.run.tags[tags.GIT_COMMIT] == first
    assert output(run_spec(instance, job(repo, git_tag="v1"))) == "first"

    branch = run_spec(instance, job(repo, git_branch="main"))
    assert output(branch) == "second" and branch.run.tags[tags.GIT_COMMIT] == second
    third = commit_notebook(repo, "third")  # pushed after: the next run fetches it
    again = run_spec(instance, job(repo, git_branch="main"))
    assert output(again) == "third" and again.run.tags[tags.GIT_COMMIT] == third
    logs = [e.user_message for e in instance.all_logs(again.run_id) if "git_source" in e.user_message]
    assert any(f"branch main: commit {third}" in line for line in logs)

    mixed = job(repo, git_commit=first)
    emitted = tmp_path / "emitted.txt"
    mixed["tasks"] += [
        task("local", {"notebook_task": {"notebook_path": "./report", "source": "WORKSPACE"}}),
        task("script", {"spark_python_task": {"python_file": "scripts/emit.py", "parameters": [str(emitted)]}}),
        task("query", {"sql_task": {"file": {"path": "queries/value.sql"}}}),
    ]
    every = run_spec(instance, mixed)
    assert every.outputs["report"]["notebook_output"] == "first" and every.outputs["local"]["notebook_output"] == "on disk"
    assert emitted.read_text() == "first" and every.outputs["script"]["python_file"].endswith(f"{first}/scripts/emit.py")
    assert "| first |" in every.outputs["query"]["preview"] and every.run.tags[tags.GIT_COMMIT] == first


def test_a_repair_reruns_from_the_commit_of_the_run_it_repairs(instance, repo: Path, tmp_path: Path):
    first = commit_notebook(repo, "first")
    emitted, flag = tmp_path / "emitted.txt", tmp_path / "broken"
    flag.touch()
    spec = {
        "name": "from_git",
        "git_source": {"git_url": str(repo), "git_provider": "gitLab", "git_branch": "main"},
        "tasks": [task("script", {"spark_python_task": {"python_file": "scripts/emit.py", "parameters": [str(emitted), str(flag)]}})],
    }
    failed = run_spec(instance, spec)
    assert failed.states == {"script": "FAILED"} and failed.run.tags[tags.GIT_COMMIT] == first
    commit_notebook(repo, "second")  # the branch moves on before the repair
    flag.unlink()
    _, repaired_id = repair_run(instance, failed.run_id)
    repaired = read_run(instance, repaired_id, ["script"])
    assert repaired.states == {"script": "SUCCESS"} and emitted.read_text() == "first" and repaired.run.tags[tags.GIT_COMMIT] == first


def test_a_revision_that_does_not_exist_fails_with_one_sentence(instance, repo: Path):
    commit_notebook(repo, "first")
    result = run_spec(instance, job(repo, git_commit="deadbeef"))
    assert result.states == {"report": "FAILED"}
    failure = [e.user_message for e in instance.all_logs(result.run_id) if "report FAILED" in e.user_message][0]
    assert f"git_source.git_commit 'deadbeef' is not a commit of {repo}" in failure
    result = run_spec(instance, job(repo, git_branch="nope"))
    assert result.states == {"report": "FAILED"}
    assert any(f"git_source.git_branch 'nope' is not a branch of {repo}" in e.user_message for e in instance.all_logs(result.run_id))


def test_git_source_problems_are_refused_at_their_field(repo: Path):
    def problems(spec: dict) -> list[tuple[str, str]]:
        return validate_document(spec)

    assert problems(job(repo, git_branch="main")) == []  # GIT paths are not looked for on disk at validation
    both = job(repo, git_branch="main", git_tag="v1")
    assert [p for p, _ in problems(both)] == ["git_source"]
    secret = job(repo, git_branch="main")
    secret["git_source"]["git_url"] = "https://user:hunter2@example.com/repo.git"
    [(path, message)] = problems(secret)
    assert path == "git_source.git_url" and "hunter2" not in message and "credential helper" in message
    bad = job(repo, git_commit="not-a-sha")
    assert [p for p, _ in problems(bad)] == ["git_source.git_commit"]
    provider = job(repo, git_branch="main")
    provider["git_source"]["git_provider"] = "sourceforge"
    assert [p for p, _ in problems(provider)] == ["git_source.git_provider"]
    absolute = job(repo, git_branch="main")
    absolute["tasks"][0]["notebook_task"]["notebook_path"] = "/Workspace/Users/a/report"
    [(path, message)] = problems(absolute)
    assert path == "tasks[0].notebook_task.notebook_path" and "relative to the root of the job's git_source repository" in message
    no_source = {"name": "j", "tasks": [task("r", {"sql_task": {"file": {"path": "q.sql", "source": "GIT"}}})]}
    [(path, message)] = problems(no_source)
    assert path == "tasks[0].sql_task.file.source" and "does not declare" in message


def test_credentials_in_a_url_never_reach_a_message(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_GIT_CACHE", str(tmp_path / "cache"))
    assert hide_credentials("fatal: unable to access 'https://bot:s3cr3t@host/r.git/'") == "fatal: unable to access 'https://bot:***@host/r.git/'"
    assert hide_credentials("https://ghp_T0KEN@github.com/a/b.git and ssh://git@host/r.git") == "https://***@github.com/a/b.git and ssh://git@host/r.git"
    source = GitSource("http://bot:s3cr3t@127.0.0.1:1/r.git", "gitHub", "git_branch", "main")  # nothing listens on port 1
    with pytest.raises(GitSourceError) as error:
        Mirror(source).resolve()
    assert "s3cr3t" not in str(error.value) and str(error.value).startswith("git_source.git_url 'http://bot:***@127.0.0.1:1/r.git' cannot be cloned")


def test_paths_in_a_checkout_stay_inside_it(repo: Path, tmp_path: Path):
    from lakehouse_jobs.lib import workspace
    from lakehouse_jobs.lib.jobs.tasks.dbt import project_directory

    (repo / "dbt" / "shop").mkdir(parents=True)
    (repo / "dbt" / "shop" / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    (tmp_path / "outside.py").write_text("print('outside')\n")
    (repo / "escape.py").symlink_to(tmp_path / "outside.py")
    commit = commit_notebook(repo, "first")
    mirror = Mirror(GitSource(str(repo), "gitHub", "git_commit", commit[:12]))
    assert mirror.resolve() == commit
    checkout = mirror.worktree(commit)
    assert project_directory("dbt/shop", checkout, checkout) == checkout / "dbt" / "shop"
    assert workspace.in_repository("./scripts/emit.py", checkout, "python_file") == checkout / "scripts" / "emit.py"
    with pytest.raises(workspace.WorkspacePathError, match="outside the workspace root"):
        workspace.in_repository("escape.py", checkout, "python_file")  # a symlink out of the repository
    with pytest.raises(workspace.WorkspacePathError, match="outside the workspace root"):
        workspace.in_repository("../../../outside.py", checkout, "python_file")
    with pytest.raises(workspace.WorkspacePathError, match="relative to the root of the job's git_source repository"):
        workspace.in_repository("/etc/passwd", checkout, "python_file")
