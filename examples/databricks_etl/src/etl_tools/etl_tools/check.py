"""`etl-check --lakehouse_root=... --table=gold/etl_daily_revenue --min_rows=1`: fail the task when a table is too small."""

import argparse
import os
import sys

from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser(prog="etl-check")
    parser.add_argument("--lakehouse_root", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--min_rows", type=int, default=1)
    args, _ = parser.parse_known_args()  # job parameters are pushed down as --name=value too
    path = os.path.join(os.path.abspath(args.lakehouse_root), args.table)
    rows = SparkSession.builder.getOrCreate().read.format("delta").load(path).count()
    print(f"{args.table}: {rows} rows (at least {args.min_rows} expected)")
    if rows < args.min_rows:
        sys.exit(f"{args.table} has {rows} rows, fewer than {args.min_rows}")
