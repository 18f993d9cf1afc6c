# Databricks notebook source
# MAGIC %md
# MAGIC ## Bronze: raw orders
# MAGIC Reads every order file of the landing folder as text columns, with the file each row came from.

# COMMAND ----------

# MAGIC %run ./setup

# COMMAND ----------

from pyspark.sql import functions as F

dbutils.widgets.text("landing", "data/landing/orders")
landing = os.path.abspath(dbutils.widgets.get("landing"))
raw = spark.read.option("header", True).csv(landing).withColumn("_source_file", F.col("_metadata.file_path"))
raw.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(table_path("bronze", "etl_orders"))

# COMMAND ----------

# DBTITLE 1,Count what landed
bronze_rows = spark.read.format("delta").load(table_path("bronze", "etl_orders")).count()
print(f"bronze rows: {bronze_rows}")
dbutils.jobs.taskValues.set("bronze_rows", bronze_rows)
