"""`lakehouse-jobs`: the command line of the plugin and the example lakehouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lakehouse_jobs.lib.errors import LakehouseError


def _generate(args: argparse.Namespace) -> int:
    from lakehouse_jobs.defs.generate import GenerateConfig, generate
    from lakehouse_jobs.defs.paths import lakehouse_root

    root = Path(args.root or lakehouse_root())
    cfg = GenerateConfig(args.orders, args.customers, args.events, args.files, args.seed, args.malformed_rate, args.duplicate_rate)
    written = generate(root / "landing", cfg, prefix=args.prefix)
    for source, files in written.items():
        print(f"{source}: {len(files)} file(s) under {root / 'landing' / source}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    """Everything a run needs before Dagster starts: Java, Delta jars (fetched once), the JVM's class archive."""
    from lakehouse_jobs.lib.runtime import class_archive
    from lakehouse_jobs.lib.runtime.jars import resolve_delta_jars
    from lakehouse_jobs.lib.runtime.java import check_java

    major = check_java()
    jars = resolve_delta_jars()
    print(f"Java {major}; {len(jars)} Delta jars ready in {Path(jars[0]).parent}")
    archive, status = class_archive.build()
    print(f"Spark class archive {status}" + (f": {archive}" if archive else ""))
    from lakehouse_jobs.defs.paths import REPO_ROOT
    from lakehouse_jobs.lib.integrations.dbt import dbt_project

    print(f"dbt manifest ready: {dbt_project(REPO_ROOT / 'dbt_project').manifest_path}")  # `dbt parse` when stale
    return 0


def _clusters(args: argparse.Namespace) -> int:
    """List the job clusters alive (warm ones wait for their auto-termination), or stop them."""
    from lakehouse_jobs.lib.runtime import job_cluster

    state_dir = Path(args.state_dir) if args.state_dir else job_cluster.default_state_dir()
    clusters = job_cluster.running(state_dir)
    for cluster in clusters:
        runs = ", ".join(cluster["leases"]) or "none (idle)"
        print(f"{cluster['directory'].name}: {cluster.get('status')} on 127.0.0.1:{cluster.get('port')}, "
              f"jvm pid {cluster.get('jvm_pid', '-')}, runs attached: {runs}")
    if args.stop:
        for directory in job_cluster.stop_all(state_dir):
            print(f"stopped {directory.name}")
    elif not clusters:
        print(f"no job cluster running under {state_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write seeded sample landing files")
    gen.add_argument("--orders", type=int, default=400)
    gen.add_argument("--customers", type=int, default=60)
    gen.add_argument("--events", type=int, default=1500)
    gen.add_argument("--files", type=int, default=3, help="files per source")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--malformed-rate", type=float, default=0.02)
    gen.add_argument("--duplicate-rate", type=float, default=0.02)
    gen.add_argument("--prefix", default="part", help="file name prefix (new batches need a new one)")
    gen.add_argument("--root", help="lakehouse root (default $LAKEHOUSE_ROOT or data/)")
    gen.set_defaults(func=_generate)

    prep = commands.add_parser("prepare", help="check Java, fetch the Delta jars and build the Spark class archive (once)")
    prep.set_defaults(func=_prepare)

    clusters = commands.add_parser("clusters", help="list the running job clusters (Spark Connect servers); --stop terminates them")
    clusters.add_argument("--stop", action="store_true", help="terminate them now instead of at their auto-termination")
    clusters.add_argument("--state-dir", help="job-cluster state folder (default $LAKEHOUSE_CLUSTER_STATE_DIR or a private temp folder)")
    clusters.set_defaults(func=_clusters)

    from lakehouse_jobs.lib.jobs.cli import add_commands as add_job_commands

    add_job_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LakehouseError as exc:
        print(f"lakehouse-jobs: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
