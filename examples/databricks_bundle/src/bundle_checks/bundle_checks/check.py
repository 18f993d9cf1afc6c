"""`check --catalog c --schema s --min-rows n`: fail the task when the report has too few rows."""

import argparse

from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser(description="Check the sales report of the example bundle")
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--min-rows", type=int, default=1)
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    report = spark.table(f"{args.catalog}.{args.schema}.sales_by_country")
    rows = report.count()
    if rows < args.min_rows:
        raise SystemExit(f"{args.catalog}.{args.schema}.sales_by_country has {rows} rows, expected at least {args.min_rows}")
    print(f"{args.catalog}.{args.schema}.sales_by_country: {rows} rows")
