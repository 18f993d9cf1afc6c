"""NotebookRunner on the shared SparkSession: cells in one namespace, magics, errors, redaction."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.notebooks import runtime_module
from lakehouse_jobs.lib.notebooks.runner import NotebookError, NotebookRunner
from lakehouse_jobs.lib.runtime.output import captured
from lakehouse_jobs_tests.engines import ON_SAIL

HEADER = "# Databricks notebook source\n"
SEP = "\n\n# COMMAND ----------\n\n"


def magic(kind: str, *lines: str) -> str:
    return "\n".join([f"# MAGIC %{kind}", *[f"# MAGIC {line}" for line in lines]])


def write(folder, name, *cells):
    path = folder / name
    path.write_text(HEADER + SEP.join(cells) + "\n")
    return path


def runner(spark, tmp_path, params=None, **kwargs):
    lake = tmp_path / "lake"
    lake.mkdir(exist_ok=True)
    return NotebookRunner(spark, lake, tmp_path, params or {}, **kwargs)


def test_cells_share_a_namespace_with_run_sql_sh_fs_md_pip(spark, tmp_path):
    write(tmp_path, "setup.py", 'dbutils.widgets.text("suffix", "x")\nprefix = "t_" + dbutils.widgets.get("suffix")')
    nb = write(
        tmp_path, "main.py",
        'dbutils.widgets.text("n", "1")\nn = int(dbutils.widgets.get("n"))',
        '# MAGIC %run ./setup $suffix="nb"',
        magic("sql", "SELECT 1 AS a; SELECT 'x;y' AS b, :n AS c"),
        "rows = _sqldf.collect()",
        magic("sh", "echo from-shell > shell.txt; pwd"),
        magic("fs", "put dbfs:/f.txt hello"),
        magic("md", "# Docs", "", "text"),
        magic("pip", "install packaging pyspark>=3"),
        f"result = (n, prefix, rows[0]['b'], open(r'{tmp_path}/shell.txt').read().strip())",
    )  # fmt: skip
    run = runner(spark, tmp_path, {"n": "5"})
    result = run.run(nb)
    assert run.namespace["result"] == (5, "t_nb", "x;y", "from-shell")
    assert result.cells_run == 10 and result.markdown == ["# Docs\n\ntext"] and result.exit_value is None
    assert "| b | c |\n|---|---|\n| x;y | 5 |" in result.displays[0]  # the widget value bound to :n
    assert (tmp_path / "lake" / "dbfs" / "f.txt").read_text() == "hello"
    assert run.namespace["__name__"] == "__main__" and run.namespace["sc"] is spark.sparkContext


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("a = 1\nb = 2\nraise ValueError('boom')", r"cell 2 \(line 8\): ValueError: boom"),
        ("x = 1\ndef f(:\n  pass", r"cell 2 \(line 7\): SyntaxError"),
        # the engine's own name for a syntax error (Sail: IllegalArgumentException); notebook, cell and line the same
        (magic("sql", "SELECT 1;", "SELEC nonsense"), r"cell 2 \(line 8\): " + ("IllegalArgumentException" if ON_SAIL else "ParseException")),
        (magic("sh", "echo bad >&2; exit 3"), r"cell 2 \(line 7\): RuntimeError: %sh exited with status 3: bad"),
        (
            magic("pip", "install ./missing-1.0-py3-none-any.whl"),
            r"cell 2 \(line 7\): WorkspacePathError: %pip install wheel './missing-1.0-py3-none-any.whl' not found",
        ),
        ("dbutils.widgets.get('missing')", r"cell 2 \(line 6\): InputWidgetNotDefined: No input widget named missing is defined"),
    ],
)
def test_a_failing_cell_is_named_by_notebook_cell_and_line(spark, tmp_path, cell, expected):
    nb = write(tmp_path, "nb.py", "ok = True", cell, "never = True")
    run = runner(spark, tmp_path)
    with pytest.raises(NotebookError, match=rf"^notebook {nb}, {expected}") as err:
        run.run(nb)
    assert "\n" not in str(err.value) and "never" not in run.namespace


def test_error_in_a_run_notebook_names_that_notebook(spark, tmp_path):
    child = write(tmp_path, "child.py", "x = 1", "1 / 0")
    nb = write(tmp_path, "nb.py", "# MAGIC %run ./child")
    with pytest.raises(NotebookError, match=rf"^notebook {child}, cell 2 \(line 6\): ZeroDivisionError"):
        runner(spark, tmp_path).run(nb)


def test_scala_cells_and_recursive_run_are_refused(spark, tmp_path):
    nb = write(tmp_path, "nb.py", "x = 1", magic("scala", "val x = 1"))
    with pytest.raises(NotebookError, match=r"cell 2 \(line 7\): %scala cells cannot run locally"):
        runner(spark, tmp_path).run(nb)
    loop = write(tmp_path, "loop.py", "# MAGIC %run ./loop")
    with pytest.raises(NotebookError, match="is %run recursively"):
        runner(spark, tmp_path).run(loop)


def test_exit_and_notebook_run_with_arguments_and_timeout(spark, tmp_path):
    write(tmp_path, "child.py", 'dbutils.widgets.text("x", "0")\ndbutils.notebook.exit("got " + dbutils.widgets.get("x"))')
    write(tmp_path, "slow.py", "import time\nfor _ in range(300):\n    time.sleep(0.1)  # short sleeps: the timeout's interrupt lands between them")
    from lakehouse_jobs.lib.jobs.timeouts import call_with_timeout

    nb = write(
        tmp_path, "nb.py",
        'child_value = dbutils.notebook.run("./child", 60, {"x": "7"})\nassert "x" not in dbutils.widgets.getAll()',
        'try:\n    dbutils.notebook.run("./slow", 1)\nexcept Exception as exc:\n    timed_out = type(exc).__name__',
        "dbutils.notebook.exit(child_value + ' ' + timed_out)",
        "never = True",
    )  # fmt: skip
    run = runner(spark, tmp_path, run_child=lambda fn, timeout, label: call_with_timeout(fn, timeout or None, label))
    result = run.run(nb)
    assert result.exit_value == "got 7 TaskTimeout" and result.cells_run == 2 and "never" not in run.namespace


def test_secret_values_are_redacted_from_output_errors_and_displays(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SECRET_DB_PASSWORD", "hunter22")
    nb = write(
        tmp_path, "nb.py",
        'pw = dbutils.secrets.get("db", "password")\nprint("password is", pw)\ndisplay([{"p": pw}])',
        'raise RuntimeError("login failed for " + pw)',
    )  # fmt: skip
    lines: list[str] = []
    run = runner(spark, tmp_path)
    with captured(lines.append, run.secrets), pytest.raises(NotebookError) as err:
        run.run(nb)
    assert "password is [REDACTED]" in lines and not any("hunter22" in line for line in lines)
    assert "[REDACTED]" in run.display.items[0] and "hunter22" not in run.display.items[0]
    assert str(err.value).endswith("RuntimeError: login failed for [REDACTED]")


def test_databricks_sdk_runtime_and_active_session_are_the_runs(spark, tmp_path):
    nb = write(
        tmp_path, "nb.py",
        "from databricks.sdk.runtime import dbutils as imported, spark as imported_spark\n"
        "from pyspark.sql import SparkSession\n"
        "same = (imported is dbutils, imported_spark is spark, SparkSession.builder.getOrCreate() is spark, SparkSession.getActiveSession() is spark)",
    )  # fmt: skip
    run = runner(spark, tmp_path)
    with runtime_module.bound(run.namespace):
        run.run(nb)
    assert run.namespace["same"] == (True, True, True, True)
    import databricks.sdk.runtime as sdk_runtime

    assert sdk_runtime.dbutils is None  # unbound after the run


def test_pip_install_adds_a_library_for_this_notebook_run_only(spark, tmp_path, monkeypatch):
    """Notebook-scoped libraries: a wheel the environment lacks is importable during the run, gone after it."""
    import importlib.metadata
    import importlib.util
    import sys

    from lakehouse_jobs.lib.runtime import wheels
    from lakehouse_jobs_tests.jobs.tasks.test_python_wheel import PACKAGE, build_wheel

    monkeypatch.setenv(wheels.CACHE_ENV, str(tmp_path / "cache"))
    build_wheel(tmp_path / "dist", "3.1")
    nb = write(
        tmp_path, "nb.py",
        magic("pip", f"install packaging ./dist/{PACKAGE}-3.1-py3-none-any.whl"),
        f"import {PACKAGE}\nversion = {PACKAGE}.VERSION",
    )  # fmt: skip
    run, lines = runner(spark, tmp_path), []
    with captured(lines.append):
        run.run(nb)
    assert run.namespace["version"] == "3.1"
    assert any("installed for this notebook run only" in line for line in lines), lines
    assert PACKAGE not in sys.modules and importlib.util.find_spec(PACKAGE) is None
    try:
        importlib.metadata.distribution(PACKAGE)
        raise AssertionError("the project's environment got the notebook's library")
    except importlib.metadata.PackageNotFoundError:
        pass
    assert len(list((tmp_path / "cache").iterdir())) == 1  # installed once, cached by the requirement list
