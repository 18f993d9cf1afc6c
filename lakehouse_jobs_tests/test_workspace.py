"""Where the files a job names are: relative to the job's file, confined to the workspace root."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs.lib.workspace import WORKSPACE_ROOT_ENV, WorkspacePathError, find, find_one, workspace_root


@pytest.fixture(autouse=True)
def no_configured_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKSPACE_ROOT_ENV, raising=False)


def _bundle(tmp_path: Path) -> Path:
    """A bundle laid out as Databricks' templates do: resources/*.yml point at ../src."""
    (tmp_path / "databricks.yml").write_text("bundle: {name: b}\n")
    (tmp_path / "resources").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "job.py").write_text("print(1)\n")
    (tmp_path / "src" / "nb.ipynb").write_text("{}")
    return tmp_path / "resources"


def test_the_bundle_root_is_the_workspace_so_resources_reach_src(tmp_path):
    resources = _bundle(tmp_path)
    assert workspace_root(resources) == tmp_path.resolve()
    assert find("../src/job.py", resources, "python_file") == (tmp_path / "src" / "job.py").resolve()
    assert find("../src/nb", resources, "notebook", extensions=(".py", ".sql", ".ipynb")) == (tmp_path / "src" / "nb.ipynb").resolve()
    assert find("/Workspace/src/job.py", resources, "python_file") == (tmp_path / "src" / "job.py").resolve()
    assert find("file:../src/job.py", resources, "python_file") == (tmp_path / "src" / "job.py").resolve()


def test_without_a_bundle_or_git_folder_the_job_folder_is_the_root_and_leaving_it_is_refused(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (tmp_path / "outside.py").write_text("")
    assert workspace_root(jobs) == jobs.resolve()
    with pytest.raises(WorkspacePathError, match="outside the workspace root"):
        find("../outside.py", jobs, "python_file")
    with pytest.raises(WorkspacePathError, match="outside the workspace root"):
        find("../missing.py", jobs, "python_file")  # refused as outside, found or not
    (jobs / "link.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(WorkspacePathError, match="outside the workspace root"):
        find("./link.py", jobs, "python_file")
    assert find(str(tmp_path / "outside.py"), jobs, "python_file", absolute_anywhere=True) == (tmp_path / "outside.py").resolve()


def test_the_configured_root_wins_and_other_schemes_are_refused(tmp_path, monkeypatch):
    resources = _bundle(tmp_path)
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(resources))
    assert workspace_root(resources) == resources.resolve()
    with pytest.raises(WorkspacePathError, match="outside the workspace root"):
        find("../src/job.py", resources, "python_file")
    with pytest.raises(WorkspacePathError, match="not a local file"):
        find("dbfs:/FileStore/job.py", resources, "python_file")
    with pytest.raises(WorkspacePathError, match=r"not found \(tried .*missing\.py\)"):
        find("./missing.py", resources, "python_file")


def test_a_glob_must_match_exactly_one_file(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    with pytest.raises(WorkspacePathError, match="matches no .whl file"):
        find_one("./dist/*.whl", tmp_path, "wheel", ".whl")
    (dist / "a-1.0-py3-none-any.whl").write_text("")
    assert find_one("./dist/*.whl", tmp_path, "wheel", ".whl").name == "a-1.0-py3-none-any.whl"
    (dist / "a-2.0-py3-none-any.whl").write_text("")
    with pytest.raises(WorkspacePathError, match="matches 2 files"):
        find_one("./dist/*.whl", tmp_path, "wheel", ".whl")
