"""What Sail runs of what this project asks of Spark, measured on both engines (issue #19).

Each probe is a small piece of PySpark the project relies on, returning a plain
value; the JVM's value is the reference. A probe on an engine either passes (its
value equals the JVM's), differs (it ran but answered otherwise: never to be
trusted silently), or fails (with its error's first line).

    python -m lakehouse_jobs.lib.runtime.engine_probe --write docs/engines.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.runtime.engine_notes import NOTES  # measured outside the probes (pysail 0.7.2, pyspark 4.2.0)
from lakehouse_jobs.lib.runtime.engine_probe_statements import PROBES as STATEMENT_PROBES
from lakehouse_jobs.lib.runtime.engine_probe_tables import PROBES as TABLE_PROBES
from lakehouse_jobs.lib.runtime.engine_probe_tables import Probe

FIGURES = "\n## Figures"

PROBES: dict[str, tuple[str, Probe]] = {**TABLE_PROBES, **STATEMENT_PROBES}  # the matrix's rows, in this order
RUN_SESSION = "sail, a run's session"  # the matrix's third column


@contextlib.contextmanager
def engine_mode(spark: Any) -> Iterator[None]:
    """PySpark's functions build Connect or classic columns by one process-wide flag: set it for `spark`.

    `SparkSession.builder.remote()` sets SPARK_CONNECT_MODE_ENABLED for the whole process, after
    which `F.udf`, `F.input_file_name()`, `Observation` refuse a classic session's DataFrames;
    one process probing both engines sets the flag around each engine's calls.
    """
    key = "SPARK_CONNECT_MODE_ENABLED"
    saved = os.environ.get(key)
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        os.environ[key] = "1"
    else:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


@dataclass(frozen=True)
class Outcome:
    status: str  # passes | differs | fails
    value: Any = None
    reason: str = ""
    seconds: float = 0.0

    def cell(self) -> str:
        return self.status if self.status == "passes" else f"{self.status}: {self.reason}"


_VARYING = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"(?:file:)?/tmp/[^\s'\"`),;]*"), "<tmp>"),
    (re.compile(r"_[0-9a-f]{8}\b"), "_<id>"),
)


def _first_line(exc: BaseException) -> str:
    """The error's first line, without what changes from run to run (ports, temporary paths, generated names)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for pattern, stand_in in _VARYING:
        text = pattern.sub(stand_in, text)
    return f"{type(exc).__name__}: {text}"[:160]


def run_probe(name: str, spark: Any, folder: Path, reference: Outcome | None = None) -> Outcome:
    """One probe on one session; `reference` (the JVM's outcome) decides passes vs differs."""
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    from lakehouse_jobs.lib.runtime.sail_supply import functions_as_sail

    raw_sail = type(spark).__module__.startswith("pyspark.sql.connect") and not getattr(spark, "_lakehouse_supplied", False)
    try:
        with engine_mode(spark), functions_as_sail() if raw_sail else contextlib.nullcontext():
            value = PROBES[name][1](spark, target)
    except Exception as exc:  # noqa: BLE001 - a probe's failure is its result
        return Outcome("fails", reason=_first_line(exc), seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if reference is not None and reference.status == "fails":
        return Outcome("differs", value, f"runs (got {value!r}) where the JVM fails"[:200], seconds)
    if reference is not None and reference.status == "passes" and value != reference.value:
        return Outcome("differs", value, f"got {value!r}, the JVM {reference.value!r}"[:200], seconds)
    return Outcome("passes", value, seconds=seconds)


def run_all(sessions: dict[str, Any], folder: Path, names: list[str] | None = None) -> dict[str, dict[str, Outcome]]:
    """Every probe on every engine ({"spark": jvm, "sail": ...}); the "spark" session is the reference."""
    results: dict[str, dict[str, Outcome]] = {}
    for name in names or list(PROBES):
        reference = run_probe(name, sessions["spark"], folder / "spark")
        results[name] = {"spark": reference}
        for engine, spark in sessions.items():
            if engine != "spark":
                results[name][engine] = run_probe(name, spark, folder / re.sub(r"\W+", "_", engine), reference)  # a plain folder name
    return results


def render(results: dict[str, dict[str, Outcome]], versions: dict[str, str], command: str, figures: str = "") -> str:
    engines = list(next(iter(results.values())))
    lines = [
        "# Engines: what runs on Sail, measured",
        "",
        f"Generated {dt.date.today().isoformat()} with {', '.join(f'{k} {v}' for k, v in versions.items())}:",
        "",
        f"    {command}",
        "",
        "Each probe (`runtime/engine_probe_tables.py`, `runtime/engine_probe_statements.py`) runs on the JVM (`spark`: embedded local Spark with",
        "delta-spark) and on Sail (`sail`: pysail's embedded Spark Connect server, PySpark's Connect client, with the",
        f"lakehouse root as its catalog), then on `{RUN_SESSION}`: the same server with what the project supplies on",
        "the session a run gets there (`runtime/sail_supply.py`). *passes*: the same result as the JVM; *differs*: it ran",
        "and answered otherwise (or ran where the JVM refuses); *fails*: the error's first line.",
        f"`lakehouse_jobs_tests/runtime/test_engines.py` keeps the ones that pass on `{RUN_SESSION}` passing.",
        "",
        "| feature | probe | " + " | ".join(engines) + " |",
        "|---|---|" + "---|" * len(engines),
    ]
    for name, outcomes in results.items():
        cells = [outcomes[e].cell().replace("|", "\\|").replace("\n", " ") for e in engines]
        lines.append(f"| {PROBES[name][0]} | `{name}` | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", NOTES, figures.strip(), ""]) if figures.strip() else "\n".join([*lines, "", NOTES])


def versions() -> dict[str, str]:
    import delta
    import pysail
    import pyspark

    return {"pyspark": pyspark.__version__, "delta-spark": getattr(delta, "__version__", _dist("delta-spark")), "pysail": pysail.__version__}


def _dist(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="write the matrix as Markdown here (else print it)")
    args = parser.parse_args(argv)
    out = Path(args.write).resolve() if args.write else None
    old = out.read_text() if out and out.exists() else ""
    figures = old[old.index(FIGURES) :] if FIGURES in old else ""  # bench/engines.py's figures, written by hand, survive
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="engine_probe_") as tmp:
        os.environ["LAKEHOUSE_ROOT"] = str(Path(tmp) / "lake")  # managed tables of the JVM's catalog land here, not in data/
        os.chdir(tmp)  # Sail puts managed tables under ./spark-warehouse
        try:
            from lakehouse_jobs.lib.runtime import sail
            from lakehouse_jobs.lib.runtime.sail_supply import supply
            from lakehouse_jobs.lib.runtime.spark import SparkResource

            sessions = {"spark": SparkResource().get_session(), "sail": sail.connect(), RUN_SESSION: supply(sail.mark(sail.connect()))}
            results = run_all(sessions, Path(tmp) / "probes")
        finally:
            os.chdir(cwd)
    text = render(results, versions(), "python -m lakehouse_jobs.lib.runtime.engine_probe --write docs/engines.md", figures)
    if out:
        out.write_text(text)
        print(f"wrote {args.write}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
