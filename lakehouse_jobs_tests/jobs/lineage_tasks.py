"""Task callables for the observed-lineage tests, named 'lakehouse_jobs_tests.jobs.lineage_tasks:<fn>'.

They write path-based Delta tables under a lakehouse root through the process's shared
session, the way a notebook or script would, and nothing reports what they wrote:
lineage must find it in the Delta logs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lakehouse_jobs.lib import SparkResource

# Another process committing to a table under the root while the task runs (delta-rs, no JVM).
OTHER_WRITER = """
import sys
import pandas as pd
from deltalake import write_deltalake
write_deltalake(sys.argv[1], pd.DataFrame({"id": [1, 2, 3, 4, 5]}), mode="append")
"""


def write_two(root: str) -> None:
    """bronze/events: 3 rows then 2 more (two commits); silver/events: 4 rows via SQL."""
    spark = SparkResource().get_session()
    bronze, silver = Path(root) / "bronze" / "events", Path(root) / "silver" / "events"
    spark.range(3).write.format("delta").mode("overwrite").save(str(bronze))
    spark.range(2).write.format("delta").mode("append").save(str(bronze))
    spark.sql(f"CREATE TABLE delta.`{silver}` (id BIGINT) USING delta")
    spark.sql(f"INSERT INTO delta.`{silver}` VALUES (1), (2), (3), (4)")


def write_with_others(root: str) -> None:
    """Two tables of its own, while another process and another run commit to other tables."""
    write_two(root)
    spark = SparkResource().get_session()
    other_run = Path(root) / "gold" / "other_run"
    spark.range(7).write.format("delta").option("userMetadata", "lakehouse_jobs:another-run:writer:1").save(str(other_run))
    subprocess.run([sys.executable, "-c", OTHER_WRITER, str(Path(root) / "bronze" / "other_process")], check=True, timeout=120)


def write_then_fail(root: str) -> None:
    spark = SparkResource().get_session()
    spark.range(6).write.format("delta").save(str(Path(root) / "bronze" / "partial"))
    raise RuntimeError("fails after its first write")
