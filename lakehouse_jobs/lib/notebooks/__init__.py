"""Databricks notebooks run locally: parse (source), locate (paths), run (runner) with a local dbutils.

- `source.parse_file(path)`: a `.py`/`.sql` source notebook, an `.ipynb` or a plain `.py` as cells;
- `paths.resolve(notebook_path, base_dir, root)`: where a notebook path is on this machine;
- `runner.NotebookRunner(spark, lakehouse_root, workspace_root, parameters).run(path)`;
- `dbutils.DBUtils(spark, lakehouse_root, parameters)`: widgets, jobs.taskValues, notebook, fs, secrets.
"""
