import dlt
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# The pipeline's configuration (resources/sales_pipeline.pipeline.yml) is Spark conf in pipeline code.
LANDING = spark.conf.get("landing")  # noqa: F821 - `spark` is a global of pipeline code, as on Databricks


@dlt.table(comment="Order files as they landed (Auto Loader: every column a string).")
def orders_raw() -> DataFrame:
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "csv").option("header", "true").load(f"{LANDING}/orders")  # noqa: F821


@dlt.table(comment="Typed orders; rows without a positive amount are dropped.")
@dlt.expect_or_drop("positive_amount", "amount > 0")
@dlt.expect("has_customer", "customer_id IS NOT NULL")
def orders() -> DataFrame:
    return dlt.read_stream("orders_raw").select(
        F.col("order_id").cast("long").alias("order_id"),
        F.col("customer_id").cast("long").alias("customer_id"),
        F.to_date("order_date").alias("order_date"),
        F.col("amount").cast("decimal(10,2)").alias("amount"),
    )
