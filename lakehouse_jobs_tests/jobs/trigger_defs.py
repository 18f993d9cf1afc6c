"""A code location for the daemon test: a spec job triggered by a Delta table update.

The task records `{{job.trigger.type}}` in a file under $LAKEHOUSE_ROOT, so the
test sees what the launched run saw.
"""

import os
from pathlib import Path

from lakehouse_jobs.lib.jobs import build_definitions, load_spec

SPEC = {
    "resources": {
        "jobs": {
            "on_orders": {
                "name": "on_orders",
                "trigger": {"table_update": {"table_names": ["silver.orders"], "condition": "ANY_UPDATED"}},
                "tasks": [
                    {
                        "task_key": "record",
                        "python_callable_task": {
                            "callable": "lakehouse_jobs_tests.jobs.trigger_defs:record",
                            "named_parameters": {"trigger": "{{job.trigger.type}}"},
                        },
                    }
                ],
            }
        }
    }
}


def record(trigger: str) -> None:
    Path(os.environ["LAKEHOUSE_ROOT"], "seen_trigger.txt").write_text(trigger)


defs = build_definitions(load_spec(SPEC))
