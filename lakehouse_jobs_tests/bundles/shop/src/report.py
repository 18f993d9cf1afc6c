# Databricks notebook source
import os

from databricks.sdk.runtime import dbutils

dbutils.widgets.text("greeting", "hi")
dbutils.widgets.text("out", "")

# COMMAND ----------

greeting = dbutils.widgets.get("greeting")
print(f"report: {greeting}")
out = dbutils.widgets.get("out")
if out and os.path.exists(out + ".fail"):
    raise RuntimeError("asked to fail")
if out.startswith("/"):
    with open(out, "a") as handle:
        handle.write(greeting + "\n")
