"""Benchmark: a generated 500-task job spec -> Dagster definitions (target: <= 2 s).

Measures parse (YAML) + validate + compile + load (Definitions resolved to a
repository, as a code server does), next to a baseline: the same DAG written
by hand as a plain Dagster op job. Run: `.venv/bin/python bench/job_spec_load.py [TASKS]`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

import dagster as dg
import yaml

from lakehouse_jobs.lib.jobs import build_definitions, load_spec
from lakehouse_jobs.lib.jobs.spec import _LOADER

TARGET_SECONDS = 2.0


def generate(n: int, seed: int = 7) -> dict:
    """A layered DAG: mostly Python tasks, some conditions with branches, some for_each loops."""
    rng = random.Random(seed)
    tasks: list[dict] = []
    for i in range(n):
        key = f"t{i:04d}"
        deps = sorted({f"t{j:04d}" for j in rng.sample(range(max(0, i - 20), i), min(i, rng.randint(1, 3)))}) if i else []
        task: dict = {"task_key": key, "depends_on": [{"task_key": d} for d in deps]}
        kind = i % 10
        if kind == 3:
            task["condition_task"] = {"left": "{{job.parameters.limit}}", "op": "GREATER_THAN", "right": str(i)}
        elif kind == 7:
            task["for_each_task"] = {
                "inputs": "[1, 2, 3]",
                "concurrency": 2,
                "task": {"task_key": f"{key}_it", "python_callable_task": {"callable": "json:dumps", "parameters": ["{{input}}"]}},
            }
        else:
            task["python_callable_task"] = {"callable": "json:dumps", "named_parameters": {"obj": "{{job.parameters.limit}}"}}
            task["run_if"] = rng.choice(["ALL_SUCCESS", "ALL_DONE", "NONE_FAILED"])
            task["max_retries"] = 1
        tasks.append(task)
    return {"resources": {"jobs": {"big": {"name": "Big", "parameters": [{"name": "limit", "default": "100"}], "tasks": tasks}}}}


def load_spec_text(text: str) -> dg.Definitions:
    defs = build_definitions(load_spec(yaml.load(text, Loader=_LOADER)))
    defs.get_repository_def().get_all_jobs()
    return defs


def baseline(document: dict) -> dg.Definitions:
    """The same DAG as a hand-written Dagster op job: the floor any compiler pays."""
    tasks = document["resources"]["jobs"]["big"]["tasks"]
    nodes, deps = [], {}
    for task in tasks:
        key = task["task_key"]
        upstream = [d["task_key"] for d in task["depends_on"]]

        @dg.op(name=key, ins={f"after_{u}": dg.In(dg.Nothing) for u in upstream})
        def _op() -> None:
            return None

        nodes.append(_op)
        deps[key] = {f"after_{u}": dg.DependencyDefinition(u) for u in upstream}
    job = dg.GraphDefinition(name="big", node_defs=nodes, dependencies=deps).to_job()
    defs = dg.Definitions(jobs=[job])
    defs.get_repository_def().get_all_jobs()
    return defs


def timed(fn, *args, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(n: int = 500) -> int:
    document = generate(n)
    text = yaml.safe_dump(document)
    parse = timed(yaml.load, text, _LOADER)
    validate = timed(load_spec, document)
    spec_total = timed(load_spec_text, text)
    hand = timed(baseline, document)
    print(f"{n}-task job spec ({len(text) / 1024:.0f} KiB of YAML), median of 5")
    print(f"  YAML parse                         {parse:7.3f} s")
    print(f"  validate + model                   {validate:7.3f} s")
    print(f"  spec -> loaded Dagster definitions {spec_total:7.3f} s   (target <= {TARGET_SECONDS:.1f} s)")
    print(f"  baseline: hand-written op job      {hand:7.3f} s")
    print(f"  ratio spec / baseline              {spec_total / hand:7.2f} x")
    return 0 if spec_total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
