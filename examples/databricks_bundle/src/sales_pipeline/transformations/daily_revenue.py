from pyspark import pipelines as dp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dp.materialized_view(comment="Revenue and order count per day.")
def daily_revenue() -> DataFrame:
    return spark.read.table("orders").groupBy("order_date").agg(F.sum("amount").alias("revenue"), F.count("*").alias("orders"))  # noqa: F821
