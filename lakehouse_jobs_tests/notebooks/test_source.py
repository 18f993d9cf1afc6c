"""Notebook parsing: Databricks source .py/.sql, .ipynb, plain .py; paths and SQL splitting."""

from __future__ import annotations

import json

import pytest

from lakehouse_jobs.lib.notebooks import paths
from lakehouse_jobs.lib.notebooks.source import NotebookSourceError, parse_file

PY = """# Databricks notebook source
import os
x = 1

# COMMAND ----------

# DBTITLE 1,Load it
# MAGIC %sql
# MAGIC SELECT 1 AS one;
# MAGIC SELECT 2

# COMMAND ----------

# MAGIC %run ./setup $env="dev"

# COMMAND ----------

# MAGIC %md
# MAGIC # Title
# MAGIC
# MAGIC text
"""


def test_source_py_cells_keep_numbers_lines_and_magics(tmp_path):
    path = tmp_path / "nb.py"
    path.write_text(PY)
    nb = parse_file(path)
    assert [(c.number, c.kind, c.line) for c in nb.cells] == [(1, "python", 2), (2, "sql", 9), (3, "run", 14), (4, "md", 19)]
    assert nb.cells[0].source == "import os\nx = 1"
    assert nb.cells[1].source == "SELECT 1 AS one;\nSELECT 2" and nb.cells[1].title == "Load it"
    assert nb.cells[2].argument == './setup $env="dev"'
    assert nb.cells[3].source == "# Title\n\ntext"


def test_sql_source_notebook_and_python_magic(tmp_path):
    path = tmp_path / "q.sql"
    path.write_text("-- Databricks notebook source\nSELECT 1\n\n-- COMMAND ----------\n\n-- MAGIC %python\n-- MAGIC print('hi')\n")
    nb = parse_file(path)
    assert nb.language == "sql"
    assert [(c.kind, c.source, c.line) for c in nb.cells] == [("sql", "SELECT 1", 2), ("python", "print('hi')", 7)]


def test_plain_py_is_one_cell_and_bad_magic_line_is_named(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("a = 1\n# COMMAND ----------\nb = 2\n")
    nb = parse_file(plain)
    assert len(nb.cells) == 1 and nb.cells[0].line == 1
    broken = tmp_path / "broken.py"
    broken.write_text("# Databricks notebook source\n# MAGIC %sql\nSELECT 1\n")
    with pytest.raises(NotebookSourceError, match=r"broken.py, line 3"):
        parse_file(broken)


def test_ipynb_with_magics_and_language_metadata(tmp_path):
    doc = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"application/vnd.databricks.v1+notebook": {"language": "python"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Hello", "id": "a"},
            {"cell_type": "code", "metadata": {}, "source": "%sql\nSELECT 1", "outputs": [], "execution_count": None, "id": "b"},
            {"cell_type": "code", "metadata": {}, "source": "y = 2", "outputs": [], "execution_count": None, "id": "c"},
        ],
    }  # fmt: skip
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(doc))
    nb = parse_file(path)
    assert [(c.number, c.kind, c.source) for c in nb.cells] == [(1, "md", "# Hello"), (2, "sql", "SELECT 1"), (3, "python", "y = 2")]
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(NotebookSourceError, match="bad.ipynb is not a valid .ipynb"):
        parse_file(tmp_path / "bad.ipynb")


def test_paths_extension_order_workspace_mapping_and_confinement(tmp_path, monkeypatch):
    (tmp_path / "a.sql").write_text("SELECT 1")
    (tmp_path / "a.ipynb").write_text("{}")
    assert paths.resolve("./a", tmp_path, tmp_path) == tmp_path / "a.sql"
    (tmp_path / "Users" / "me").mkdir(parents=True)
    (tmp_path / "Users" / "me" / "nb.py").write_text("x=1")
    monkeypatch.setenv(paths.WORKSPACE_ROOT_ENV, str(tmp_path))
    root = paths.workspace_root(None)
    assert paths.resolve("/Workspace/Users/me/nb", None, root) == tmp_path / "Users" / "me" / "nb.py"
    assert paths.resolve("/Users/me/nb", None, root) == tmp_path / "Users" / "me" / "nb.py"
    with pytest.raises(paths.NotebookPathError, match="not found"):
        paths.resolve("./missing", tmp_path, root)
    outside = tmp_path.parent / f"{tmp_path.name}_outside.py"
    outside.write_text("x = 1")
    with pytest.raises(paths.NotebookPathError, match="outside the workspace root"):
        paths.resolve(f"../{outside.name}", tmp_path, root)
    (tmp_path / "link.py").symlink_to(outside)
    with pytest.raises(paths.NotebookPathError, match="outside the workspace root"):
        paths.resolve("./link", tmp_path, root)
