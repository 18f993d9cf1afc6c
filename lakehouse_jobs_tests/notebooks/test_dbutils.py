"""The local dbutils: widgets, taskValues, fs confinement, secrets (with a real lakehouse root)."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.jobs import task_values
from lakehouse_jobs.lib.notebooks.dbutils import DBUtils, InputWidgetNotDefined, NotebookExit, SecretNotFound, secret_variable
from lakehouse_jobs.lib.notebooks.fs import FsPathError


@pytest.fixture
def root(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake


def test_widgets_take_parameters_then_defaults_and_check_choices(root):
    dbutils = DBUtils(None, root, {"env": "prod", "color": "purple"})
    dbutils.widgets.text("env", "dev")
    dbutils.widgets.text("date", "2024-01-01", "Date")
    assert dbutils.widgets.get("env") == "prod" and dbutils.widgets.get("date") == "2024-01-01"
    dbutils.widgets.multiselect("days", "mon,tue", ["mon", "tue", "wed"])
    dbutils.widgets.combobox("free", "x", ["a"])
    assert dbutils.widgets.getAll() == {"env": "prod", "date": "2024-01-01", "days": "mon,tue", "free": "x", "color": "purple"}
    with pytest.raises(ValueError, match="parameter value 'purple' is not one of its choices"):
        dbutils.widgets.dropdown("color", "red", ["red", "blue"])
    with pytest.raises(ValueError, match="default value 'green'"):
        dbutils.widgets.dropdown("shade", "green", ["red"])
    with pytest.raises(InputWidgetNotDefined, match="No input widget named nope is defined"):
        dbutils.widgets.get("nope")
    assert dbutils.widgets.getArgument("nope", "fallback") == "fallback"
    dbutils.widgets.remove("date")
    with pytest.raises(InputWidgetNotDefined):
        dbutils.widgets.get("date")
    with pytest.raises(InputWidgetNotDefined):
        dbutils.widgets.remove("date")
    dbutils.widgets.removeAll()
    assert dbutils.widgets.getAll() == {"env": "prod", "color": "purple"}


def test_task_values_inside_and_outside_a_run(root):
    dbutils = DBUtils(None, root)
    assert dbutils.jobs.taskValues.get("up", "n", default=1, debugValue=7) == 7
    scope = task_values.TaskValueScope("me", {"up": {"values": {"n": 3}}})
    token = task_values.bind(scope)
    try:
        dbutils.jobs.taskValues.set("rows", 42)
        assert dbutils.jobs.taskValues.get("up", "n") == 3 and scope.values == {"rows": 42}
        with pytest.raises(task_values.TaskValueError, match="48 KiB"):
            dbutils.jobs.taskValues.set("big", "x" * 50_000)
    finally:
        task_values.unbind(token)


def test_notebook_exit_signals_and_caps(root):
    dbutils = DBUtils(None, root)
    with pytest.raises(NotebookExit) as exit_:
        dbutils.notebook.exit(12)
    assert exit_.value.value == "12"
    with pytest.raises(ValueError, match="5 MB"):
        dbutils.notebook.exit("x" * (5 * 1024 * 1024 + 1))


def test_fs_maps_dbfs_volumes_and_file_under_the_root(root):
    fs = DBUtils(None, root).fs
    assert fs.put("dbfs:/tmp/a.txt", "hello") and (root / "dbfs" / "tmp" / "a.txt").read_text() == "hello"
    with pytest.raises(FileExistsError):
        fs.put("dbfs:/tmp/a.txt", "again")
    fs.put("dbfs:/tmp/a.txt", "hello world", overwrite=True)
    assert fs.head("/dbfs/tmp/a.txt", 5) == "hello"
    fs.mkdirs("/Volumes/main/raw/files/in")
    fs.cp("dbfs:/tmp/a.txt", "/Volumes/main/raw/files/in/a.txt")
    assert (root / "volumes" / "main" / "raw" / "files" / "in" / "a.txt").read_text() == "hello world"
    listed = fs.ls("/Volumes/main/raw/files")
    assert [(f.name, f.isDir()) for f in listed] == [("in/", True)] and listed[0].path == "/Volumes/main/raw/files/in/"
    fs.cp("/Volumes/main/raw/files/in", f"file:{root}/copy", recurse=True)
    assert (root / "copy" / "a.txt").exists()
    fs.mv("dbfs:/tmp/a.txt", "dbfs:/tmp/b.txt")
    assert [f.name for f in fs.ls("dbfs:/tmp")] == ["b.txt"]
    with pytest.raises(IsADirectoryError):
        fs.rm("dbfs:/tmp")
    assert fs.rm("dbfs:/tmp", recurse=True) and not (root / "dbfs" / "tmp").exists()


def test_fs_refuses_paths_outside_the_root_also_through_symlinks(root, tmp_path):
    fs = DBUtils(None, root).fs
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    for bad in ("dbfs:/../../outside", "/etc/passwd", f"file:{outside}", f"{root}/escape/x", "/Volumes/a/b", "s3://bucket/x"):
        with pytest.raises(FsPathError):
            fs.put(bad, "x")
    assert not any(outside.iterdir())


def test_secrets_from_environment(root, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SECRET_MY_SCOPE_DB_PASSWORD", "s3cr3t")
    secrets = DBUtils(None, root).secrets
    assert secret_variable("my-scope", "db.password") == "LAKEHOUSE_SECRET_MY_SCOPE_DB_PASSWORD"
    assert secrets.get("my-scope", "db.password") == "s3cr3t" and secrets.getBytes("my-scope", "db.password") == b"s3cr3t"
    assert secrets.read_values == {"s3cr3t"}
    assert [m.key for m in secrets.list("my-scope")] == ["db_password"]
    assert "my" in [s.name for s in secrets.listScopes()]
    with pytest.raises(SecretNotFound, match="set the environment variable LAKEHOUSE_SECRET_MY_SCOPE_OTHER"):
        secrets.get("my-scope", "other")
