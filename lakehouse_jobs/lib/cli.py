"""The plugin's command line: prepare, clusters, and the job commands (validate, list, run, repair).

An application adds its own subcommands with a hook: a function that receives
argparse's subcommands object, adds its parsers, and sets `func` on each (called
with the parsed arguments, returns the exit code; a LakehouseError it raises is
printed as one line, exit code 1):

    from lakehouse_jobs.lib.cli import main

    def add_my_commands(commands):
        hello = commands.add_parser("hello", help="say hello")
        hello.add_argument("--name", default="world")
        hello.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    def my_main(argv=None):  # [project.scripts] my-lake = "my_lake.cli:my_main"
        return main(argv, commands=[add_my_commands], prog="my-lake")

`prepare` also parses the dbt projects an application names, by `--dbt-project PATH`
(repeatable, relative to the current directory) or in its pyproject.toml (paths
relative to that file):

    [tool.lakehouse_jobs]
    dbt_projects = ["dbt_project"]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from lakehouse_jobs.lib.errors import LakehouseError

CommandsHook = Callable[[argparse._SubParsersAction], None]
"""Adds subcommands to the parser: `hook(commands)` calls `commands.add_parser(...)` and sets `func`."""

PROG = "lakehouse-jobs"
SETTINGS = "lakehouse_jobs"  # [tool.lakehouse_jobs] in pyproject.toml


def dbt_projects(given: Sequence[str] = (), start: Path | None = None) -> list[Path]:
    """The dbt project folders `prepare` parses: `given` (relative to the current directory), then the
    `[tool.lakehouse_jobs] dbt_projects` of the nearest pyproject.toml (relative to that file); each once."""
    from lakehouse_jobs.lib.jobs.cli import pyproject_tool

    folders = [Path(p).resolve() for p in given]
    pyproject, settings = pyproject_tool(SETTINGS, start)
    listed = settings.get("dbt_projects", [])
    if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
        raise LakehouseError(f"{pyproject}: [tool.{SETTINGS}] dbt_projects must be a list of paths (strings), got {listed!r}")
    if pyproject is not None:
        folders += [(pyproject.parent / p).resolve() for p in listed]
    return list(dict.fromkeys(folders))


def _prepare(args: argparse.Namespace) -> int:
    """Everything a run needs before Dagster starts: Java, Delta jars (fetched once), the catalog plugin, the JVM's class archive, dbt manifests."""
    from lakehouse_jobs.lib.runtime import class_archive
    from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
    from lakehouse_jobs.lib.runtime.java import check_java

    projects = dbt_projects(args.dbt_project or [])  # a bad setting fails before the slow steps
    major = check_java()
    jars = resolve_delta_jars()
    print(f"Java {major}; {len(jars)} Delta jars ready in {Path(jars[0]).parent}")
    from lakehouse_jobs.lib.catalog import plugin

    catalog_jar = plugin.build()  # three-part names (catalog.schema.table) need it
    print(f"Catalog plugin ready: {catalog_jar}" if catalog_jar else f"Catalog plugin skipped: {plugin.NO_JAVAC}.")
    archive, status = class_archive.build()
    print(f"Spark class archive {status}" + (f": {archive}" if archive else ""))
    if projects:
        from lakehouse_jobs.lib.integrations.dbt import dbt_project

        for folder in projects:
            print(f"dbt manifest ready: {dbt_project(folder).manifest_path}")  # `dbt parse` when stale
    return 0


def _clusters(args: argparse.Namespace) -> int:
    """List the job clusters alive (warm ones wait for their auto-termination), or stop them."""
    from lakehouse_jobs.lib.runtime import job_cluster

    state_dir = Path(args.state_dir) if args.state_dir else job_cluster.default_state_dir()
    clusters = job_cluster.running(state_dir)
    for cluster in clusters:
        runs = ", ".join(cluster["leases"]) or "none (idle)"
        print(
            f"{cluster['directory'].name}: {cluster['engine']}, {cluster.get('status')} on 127.0.0.1:{cluster.get('port')}, "
            f"server pid {cluster.get('jvm_pid', '-')}, runs attached: {runs}"
        )
    if args.stop:
        for directory in job_cluster.stop_all(state_dir):
            print(f"stopped {directory.name}")
    elif not clusters:
        print(f"no job cluster running under {state_dir}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The plugin's subcommands: prepare, clusters, validate, list, run, repair."""
    prep = commands.add_parser("prepare", help="check Java, fetch the Delta jars, build the Spark class archive (once) and parse the dbt projects")
    prep.add_argument(
        "--dbt-project",
        action="append",
        metavar="PATH",
        help=f"a dbt project to parse (repeatable; also read: [tool.{SETTINGS}] dbt_projects in pyproject.toml)",
    )
    prep.set_defaults(func=_prepare)

    clusters = commands.add_parser("clusters", help="list the running job clusters (Spark Connect servers); --stop terminates them")
    clusters.add_argument("--stop", action="store_true", help="terminate them now instead of at their auto-termination")
    clusters.add_argument("--state-dir", help="job-cluster state folder (default $LAKEHOUSE_CLUSTER_STATE_DIR or a private temp folder)")
    clusters.set_defaults(func=_clusters)

    from lakehouse_jobs.lib.jobs.cli import add_commands as add_job_commands

    add_job_commands(commands)


def build_parser(commands: Iterable[CommandsHook] = (), *, prog: str = PROG, description: str | None = None) -> argparse.ArgumentParser:
    """The plugin's parser, plus the subcommands each hook of `commands` adds."""
    parser = argparse.ArgumentParser(prog=prog, description=description or __doc__.split("\n\n")[0])
    subcommands = parser.add_subparsers(dest="command", required=True)
    add_commands(subcommands)
    for hook in commands:
        hook(subcommands)
    return parser


def main(argv: list[str] | None = None, *, commands: Iterable[CommandsHook] = (), prog: str = PROG, description: str | None = None) -> int:
    """Parse `argv` (default: sys.argv), run the subcommand; a LakehouseError is one line on stderr and exit code 1."""
    args = build_parser(commands, prog=prog, description=description).parse_args(argv)
    try:
        return args.func(args)
    except LakehouseError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
