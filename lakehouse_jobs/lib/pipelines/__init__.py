"""Lakeflow Declarative Pipelines (`resources.pipelines.<key>`, `import dlt`, `CREATE OR REFRESH ...`) run locally.

spec.py (the pipeline settings), graph.py (datasets and flows), api.py (the `dlt` / `pyspark.pipelines`
Python API), sql.py (the pipeline SQL dialect), sources.py (loading the libraries into a graph),
files.py (`read_files` / Auto Loader), naming.py (dataset names -> tables under the lakehouse root),
runner.py (one update), assets.py (each dataset a Dagster asset).
"""
