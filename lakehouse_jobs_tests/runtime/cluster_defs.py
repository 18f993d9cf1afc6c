"""A code location for the compute tests: the example lakehouse plus two probe tasks.

Run in a subprocess (`dagster asset materialize -f cluster_defs.py`) so the run
has its own process, as under the daemon. Settings come from the environment:
  LJ_SPARK     JSON of SparkResource fields (default: a job cluster)
  LJ_PROBES    file where each probe appends {step_pid, jvm_pid (the server's), url, start, end}
  LJ_PROBE_S   how long a probe holds its step after attaching
  LJ_EXECUTOR  multiprocess (default) or in_process
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from lakehouse_jobs.definitions import medallion_assets
from lakehouse_jobs.defs.paths import lakehouse_root
from lakehouse_jobs.lib import LakehouseResource, SparkResource
from lakehouse_jobs.lib.runtime.spark import active_session


def _probe(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name="probes", required_resource_keys={"spark"})
    def probe(context) -> None:
        resource = context.resources.spark
        spark = resource.get_session()
        start = time.time()
        rows = spark.range(1000).count()
        state = json.loads((resource.cluster_directory() / "state.json").read_text())
        record = {
            "probe": name,
            "step_pid": os.getpid(),
            "jvm_pid": state["jvm_pid"],
            "watchdog_pid": state["watchdog_pid"],
            "port": state["port"],
            "rows": rows,
            "start": start,
            "session": type(spark).__module__,
            "local_jvm": active_session() is not None,
            "jvm_loaded": "libjvm" in Path("/proc/self/maps").read_text(),
        }
        with open(os.environ["LJ_PROBES"], "a") as handle:
            handle.write(json.dumps(record) + "\n")
        time.sleep(float(os.environ.get("LJ_PROBE_S", "3")))
        record["end"] = time.time()
        with open(os.environ["LJ_PROBES"], "a") as handle:
            handle.write(json.dumps(record) + "\n")

    return probe


spark_settings = json.loads(os.environ.get("LJ_SPARK") or '{"job_cluster": true}')

defs = dg.Definitions(
    assets=[*medallion_assets, _probe("probe_a"), _probe("probe_b")],
    resources={"spark": SparkResource(**spark_settings), "lakehouse": LakehouseResource(root=lakehouse_root())},
    executor=dg.in_process_executor if os.environ.get("LJ_EXECUTOR") == "in_process" else dg.multiprocess_executor.configured({"max_concurrent": 2}),
)
