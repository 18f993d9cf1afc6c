"""A Sail job cluster's server process: pysail's Spark Connect server with the lakehouse's names.

The embedded Sail server resolves table names through the lakehouse root served to it as a Unity
Catalog API from its own process (catalog/unity_rest.py). A job cluster's server is another
process, so it serves the root itself, here, beside Sail: `job_cluster.py`'s watchdog runs
`python -m lakehouse_jobs.lib.runtime.sail_cluster PORT` with the run's LAKEHOUSE_ROOT in its
environment (part of the cluster's key: another root, another cluster). The sessions a run makes
on it resolve one-, two- and three-part names and write them by the naming rule, as on the
embedded server (`unity_rest.served_remotely`).
"""

from __future__ import annotations

import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    from pysail.spark import SparkConnectServer

    from lakehouse_jobs.lib.environ import environment
    from lakehouse_jobs.lib.runtime import sail

    port = int((argv if argv is not None else sys.argv[1:])[0])
    with environment(sail.catalog_settings()), sail.unity_env_hidden():  # read when the server is made (measured)
        server = SparkConnectServer("127.0.0.1", port)
    server.start(background=True)  # the catalog server's thread needs the interpreter while Sail serves
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
