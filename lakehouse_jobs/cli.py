"""`lakehouse-jobs`: the plugin's command line (lakehouse_jobs.lib.cli) plus the example lakehouse's `generate`.

The plugin's commands (prepare, clusters, validate, list, run, repair) live in
lakehouse_jobs.lib.cli; this module adds the example's own through the plugin's
hook, as any application would.
"""

from __future__ import annotations

import argparse
import sys

from lakehouse_jobs.defs.generate import add_commands as add_example_commands
from lakehouse_jobs.lib import cli as plugin_cli

COMMANDS = [add_example_commands]


def build_parser() -> argparse.ArgumentParser:
    return plugin_cli.build_parser(COMMANDS, description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    return plugin_cli.main(argv, commands=COMMANDS, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
