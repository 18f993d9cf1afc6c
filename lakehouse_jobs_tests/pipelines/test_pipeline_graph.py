"""Pipeline settings and graphs without Spark: field problems, the graph's checks, the Dagster assets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.pipelines.assets import pipeline_assets
from lakehouse_jobs.lib.pipelines.graph import PipelineError
from lakehouse_jobs.lib.pipelines.sources import load_graph
from lakehouse_jobs.lib.pipelines.spec import check_pipeline, pipeline_spec
from lakehouse_jobs.lib.tables.delta_io import is_delta_table
from lakehouse_jobs_tests.pipelines.conftest import FIXTURES, python_settings, sql_settings


def test_settings_problems_have_field_paths(tmp_path):
    problems = check_pipeline(
        {
            "libraries": [{"file": {"path": "missing.py"}}, {"jar": "x.jar"}],
            "schema": "a-b",
            "continuous": "yes",
            "clusters": [{}],
            "colour": 1,
            "ingestion_definition": {},
        },
        "resources.pipelines.p",
        tmp_path,
    )
    paths = {path for path, _ in problems}
    assert paths == {
        "resources.pipelines.p.libraries[0].file.path",
        "resources.pipelines.p.libraries[1]",
        "resources.pipelines.p.schema",
        "resources.pipelines.p.continuous",
        "resources.pipelines.p.colour",
        "resources.pipelines.p.ingestion_definition",
    }
    assert check_pipeline({"libraries": []}, "p") == [("p.libraries", "expected a non-empty list of notebook, file or glob libraries")]
    with pytest.raises(SpecError) as error:
        pipeline_spec("p", {"libraries": [{"glob": {"include": "nothing/**"}}]}, tmp_path)
    assert error.value.path == "resources.pipelines.p.libraries[0].glob.include"


def graph_of(tmp_path: Path, text: str, suffix: str = ".py"):
    source = tmp_path / f"pipeline{suffix}"
    source.write_text(text)
    return load_graph(pipeline_spec("p", {"libraries": [{"file": {"path": str(source)}}], "schema": "silver"}, tmp_path)), source


def test_a_dataset_defined_twice_is_one_line(tmp_path):
    text = "import dlt\n\n@dlt.table(name='x')\ndef a():\n    return spark.range(1)\n\n@dlt.table(name='x')\ndef b():\n    return spark.range(2)\n"
    with pytest.raises(PipelineError) as error:
        graph_of(tmp_path, text)
    assert str(error.value) == f"pipeline p: dataset main.silver.x is defined twice ({tmp_path / 'pipeline.py'}:3 and {tmp_path / 'pipeline.py'}:7)"


def test_a_dataset_reading_a_table_no_one_produces_is_one_line(tmp_path):
    graph, source = graph_of(tmp_path, "CREATE OR REFRESH MATERIALIZED VIEW x AS SELECT * FROM nowhere;\n", ".sql")
    with pytest.raises(PipelineError) as error:
        graph.check_inputs(tmp_path / "lake", is_delta_table)
    assert str(error.value) == (
        f"pipeline p: dataset main.silver.x ({source}, statement 1 (line 1)) reads main.silver.nowhere, "
        "which no dataset of the pipeline produces and which is not a table of the lakehouse"
    )


def test_user_errors_while_loading_name_the_line(tmp_path):
    with pytest.raises(PipelineError) as error:
        graph_of(tmp_path, "import dlt\n\nx = 1\nraise ValueError('no config')\n")
    assert str(error.value) == f"pipeline source {tmp_path / 'pipeline.py'}, line 4: ValueError: no config"
    with pytest.raises(PipelineError) as error:
        graph_of(tmp_path, "CREATE OR REFRESH STREAMING TABLE s AS SELECT 1;\nDROP TABLE s;\n", ".sql")
    assert "statement 2 (line 2): 'DROP TABLE s'... is not a pipeline statement" in str(error.value)


def test_the_dlt_module_is_only_there_while_a_pipeline_loads():
    import sys

    load_graph(pipeline_spec("orders_py", python_settings(), FIXTURES))
    assert "dlt" not in sys.modules
    from pyspark import pipelines

    assert hasattr(pipelines, "create_sink") and not hasattr(pipelines, "expect")  # Spark's own module is back


@pytest.mark.parametrize("settings,schema,orders", [(python_settings, "silver", "orders"), (sql_settings, "gold", "orders_silver")])
def test_datasets_are_assets_with_deps_and_checks(settings, schema, orders):
    [assets] = pipeline_assets("orders", settings(), FIXTURES)
    keys = {k.to_user_string() for k in assets.keys}
    assert keys == {
        f"{schema}/{t}"
        for t in ("orders_bronze" if schema == "gold" else "orders_raw", orders, "revenue", "customer_changes", "customers", "customers_history")
    }
    deps = {k.to_user_string(): sorted(d.to_user_string() for d in v) for k, v in assets.asset_deps.items()}
    raw = "orders_bronze" if schema == "gold" else "orders_raw"
    assert deps[f"{schema}/{orders}"] == [f"{schema}/{raw}"]  # through the temporary view
    assert deps[f"{schema}/revenue"] == [f"{schema}/{orders}"]
    assert deps[f"{schema}/customers_history"] == [f"{schema}/customer_changes"]
    checks = {(c.asset_key.to_user_string(), c.name): c.blocking for c in assets.check_specs}
    assert checks == {
        (f"{schema}/{orders}", "has_customer"): False,
        (f"{schema}/{orders}", "positive_amount"): False,
        (f"{schema}/revenue", "non_negative"): True,
    }
    spec = assets.specs_by_key[dg.AssetKey([schema, "revenue"])]
    assert spec.metadata["dagster/table_name"] == f"main.{schema}.revenue"


def test_notebooks_python_and_sql_cells_and_ipynb(tmp_path):
    notebook = tmp_path / "nb.py"
    notebook.write_text(
        "# Databricks notebook source\n"
        "import dlt\n\n"
        "@dlt.table\n@dlt.expect_all_or_drop({'valid id': 'id IS NOT NULL'})\ndef a():\n    return spark.range(3)\n\n"
        "# COMMAND ----------\n\n"
        "# MAGIC %md\n# MAGIC notes\n\n"
        "# COMMAND ----------\n\n"
        "# MAGIC %sql\n# MAGIC CREATE OR REFRESH MATERIALIZED VIEW b AS SELECT * FROM a\n"
    )
    ipynb = tmp_path / "c.ipynb"
    ipynb.write_text(
        '{"cells": [{"id": "c1", "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": ['
        '"import dlt\\n", "\\n", "@dlt.materialized_view\\n", "def c():\\n", "    return dlt.read(\\"b\\")\\n"]}],'
        ' "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}'
    )
    spec = pipeline_spec("nb", {"libraries": [{"notebook": {"path": "nb"}}, {"notebook": {"path": str(ipynb)}}], "schema": "silver"}, tmp_path)
    graph = load_graph(spec)
    by_table = {name.table: dataset for name, dataset in graph.datasets.items()}
    assert sorted(by_table) == ["a", "b", "c"]
    assert [(e.name, e.action) for e in by_table["a"].expectations] == [("valid_id", "drop")]
    assert {n.table for n in by_table["b"].reads} == {"a"} and {n.table for n in by_table["c"].reads} == {"b"}
    assert [d.name.table for d in graph.order()] == ["a", "b", "c"]


def test_a_cycle_and_unsupported_cdc_options_are_one_line(tmp_path):
    graph, source = graph_of(
        tmp_path,
        "CREATE TEMPORARY VIEW a AS SELECT * FROM b;\nCREATE OR REFRESH MATERIALIZED VIEW b AS SELECT * FROM a;\n",
        ".sql",
    )
    with pytest.raises(
        PipelineError, match=r"^pipeline p: datasets read each other in a cycle: main\.silver\.(a|b) -> main\.silver\.(a|b) -> main\.silver\.(a|b)$"
    ):
        graph.order()
    text = "import dlt\ndlt.create_streaming_table('t')\ndlt.apply_changes(target='t', source='s', keys=['id'], sequence_by='seq', ignore_null_updates=True)\n"
    with pytest.raises(PipelineError) as error:
        graph_of(tmp_path, text)
    assert str(error.value) == f"apply_changes at {source.with_suffix('.py')}:3: ignore_null_updates is not supported here (see docs/bundles.md, Pipelines)"
    with pytest.raises(PipelineError, match="TRACK HISTORY is not supported here"):
        graph_of(
            tmp_path,
            "CREATE OR REFRESH STREAMING TABLE t;\nAPPLY CHANGES INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY seq TRACK HISTORY ON * EXCEPT (x);\n",
            ".sql",
        )
