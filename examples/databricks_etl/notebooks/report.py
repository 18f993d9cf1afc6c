# Databricks notebook source
# MAGIC %md
# MAGIC ## Report (its own job, started by the ETL job's `run_job_task`)

# COMMAND ----------

# MAGIC %run ./setup

# COMMAND ----------

import json

best = spark.read.format("delta").load(table_path("gold", "etl_daily_revenue")).orderBy("revenue", ascending=False).first()
dbutils.notebook.exit(json.dumps({"best_day": str(best["order_date"]), "revenue": str(best["revenue"])}))
