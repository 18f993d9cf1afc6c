"""Unity Catalog names (`catalog.schema.table`, `/Volumes/...`) on the lakehouse root.

One rule (names.py) maps every name to a folder; a Spark catalog plugin (java/, built by
plugin.py) applies it inside the JVM, with Delta doing every table operation; conf.py wires it
into a session. The filesystem is the only state: every run and every process sees the same tables.
"""

from lakehouse_jobs.lib.catalog.conf import bind_root, catalog_conf, register_catalog
from lakehouse_jobs.lib.catalog.names import create_schema, create_volume, default_catalog, schema_path, split_name, table_path, volume_path

__all__ = [
    "bind_root",
    "catalog_conf",
    "create_schema",
    "create_volume",
    "default_catalog",
    "register_catalog",
    "schema_path",
    "split_name",
    "table_path",
    "volume_path",
]
