"""Benchmark: the job-spec validator at 10,000 tasks, a chain and independent tasks (target: <= 2 s, <= 500 MB).

Each case runs in its own subprocess so its peak memory is its own: the child builds
the spec, resets its peak-RSS mark (Linux `clear_refs`), validates, and reports the
best time of three and the peak resident memory (total, and the growth during validation). The
baseline is the same shapes at 1,000 tasks, measured in the same run: linear
validation takes ~10x the baseline time at 10x the tasks.

Run: `.venv/bin/python bench/validate.py [TASKS] [BASELINE_TASKS]`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 2.0
TARGET_MB = 500.0
SHAPES = ("chain", "independent", "chain_to_root")
REPEAT = 3


def generate(shape: str, n: int) -> dict:
    """A job of `n` python_callable tasks; each reads a job parameter and (chains) an upstream task value."""
    tasks = []
    for i in range(n):
        body = {"callable": "json:dumps", "named_parameters": {"obj": "{{job.parameters.p}}"}}
        task: dict = {"task_key": f"t{i}", "python_callable_task": body}
        if i and shape != "independent":
            upstream = f"t{i - 1}"
            task["depends_on"] = [{"task_key": upstream}]
            referenced = "t0" if shape == "chain_to_root" else upstream  # chain_to_root: the farthest ancestor
            body["parameters"] = [f"{{{{tasks.{referenced}.values.x}}}}"]
        tasks.append(task)
    return {"resources": {"jobs": {"big": {"name": "Big", "parameters": [{"name": "p", "default": "1"}], "tasks": tasks}}}}


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(shape: str, n: int) -> None:
    """Measure one case in this process and print it as JSON."""
    from lakehouse_jobs.lib.jobs.validate import validate_document

    validate_document(generate("chain", 10))  # imports and the task registry, outside the measure
    document = generate(shape, n)
    before = _rss_mb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak mark to the current RSS
    except OSError:
        pass
    seconds = float("inf")
    for _ in range(REPEAT):  # the best of a few: the machine is shared
        started = time.perf_counter()
        problems = validate_document(document)
        seconds = min(seconds, time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "peak_mb": _rss_mb("VmHWM"), "growth_mb": _rss_mb("VmHWM") - before, "problems": len(problems)}))


def measure(shape: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", shape, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    base_n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    print(f"validate_document: {n:,} tasks vs a {base_n:,}-task baseline (one subprocess per case)")
    print(f"{'shape':<14}{'tasks':>8}{'seconds':>10}{'x baseline':>12}{'peak MB':>10}{'growth MB':>11}")
    ok = True
    for shape in SHAPES:
        base, big = measure(shape, base_n), measure(shape, n)
        assert base["problems"] == big["problems"] == 0, (base, big)
        ratio = big["seconds"] / base["seconds"] if base["seconds"] else float("inf")
        print(f"{shape:<14}{base_n:>8,}{base['seconds']:>10.3f}{'':>12}{base['peak_mb']:>10.0f}{base['growth_mb']:>11.1f}")
        print(f"{shape:<14}{n:>8,}{big['seconds']:>10.3f}{ratio:>11.1f}x{big['peak_mb']:>10.0f}{big['growth_mb']:>11.1f}")
        ok &= big["seconds"] <= TARGET_SECONDS and big["peak_mb"] <= TARGET_MB
    print(f"target: <= {TARGET_SECONDS:g} s and <= {TARGET_MB:g} MB peak at {n:,} tasks: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(main())
