# Databricks notebook source
# MAGIC %md
# MAGIC ### Shared setup
# MAGIC Every notebook of the job runs this with `%run ./setup`: it defines where the tables live.

# COMMAND ----------

import os

dbutils.widgets.text("lakehouse_root", "data")
root = os.path.abspath(dbutils.widgets.get("lakehouse_root"))


def table_path(layer, name):
    """Path-based Delta tables, one folder per layer (the lakehouse's own layout)."""
    return f"{root}/{layer}/{name}"
