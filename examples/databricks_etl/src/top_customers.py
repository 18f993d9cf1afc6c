"""spark_python_task: the top customers by revenue, written as a gold table.

Run as `python top_customers.py --root <lakehouse root> --top N`, on Databricks or here:
`SparkSession.builder.getOrCreate()` returns the run's session.
"""

import argparse
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--top", type=int, default=10)
args = parser.parse_args()

spark = SparkSession.builder.getOrCreate()
root = os.path.abspath(args.root)
orders = spark.read.format("delta").load(f"{root}/silver/etl_orders").filter(F.col("status") == "completed")
top = orders.groupBy("customer_id").agg(F.sum("amount").alias("revenue")).orderBy(F.col("revenue").desc()).limit(args.top)
top.write.format("delta").mode("overwrite").save(f"{root}/gold/etl_top_customers")
print(f"top {args.top} customers written")
