"""The lakehouse root served as a Unity Catalog REST API, so Sail resolves catalog names by the naming rule.

On the JVM, names resolve through the project's catalog plugin (`plugin.py`, Java). Sail has no
plugin interface, but pysail 0.7.2 can hand a catalog to a Unity Catalog server (its `unity`
catalog provider, configured when the server starts: `SAIL_CATALOG__LIST`). This module is that
server for the lakehouse root, on 127.0.0.1 in the process that embeds Sail, answering the
calls the provider makes (measured): a schema's and a table's GET, listing, POST and DELETE
under `/api/2.1/unity-catalog`. The filesystem is its only state, as with the JVM plugin
(`names.py`'s rule): a schema is a folder (its `location` property, where Sail puts a managed
table: `<schema folder>/<table>`), a table is a Delta table folder, read with delta-rs; a table
created through the catalog is written empty at once (Sail registers it first, then writes),
marked `lakehouse_jobs.managed` as the plugin marks it, and only such a table is deleted by
DROP TABLE. Refused as on the JVM: another format than Delta, a LOCATION other than the rule's
folder, reserved schema names. Not served (Sail's provider refuses them itself): views, CREATE
OR REPLACE, ALTER TABLE. The root is the process's lakehouse root (`bind`, like `bind_root`). Only its Sail
server is answered: a bearer token made per process, given to Sail in its settings (never logged); others get 401.
"""

from __future__ import annotations

import hmac
import json
import secrets
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.catalog.names import DEFAULT_SCHEMA, RESERVED, catalog_path, check_part
from lakehouse_jobs.lib.errors import SpecError

PREFIX = "/api/2.1/unity-catalog"
MANAGED = "lakehouse_jobs.managed"  # the JVM plugin's mark of a table created through the catalog (LakehouseCatalog.MANAGED)
SAIL_MANAGED = "delta." + MANAGED  # the same mark written by Sail, whose writer keeps only `delta.*` options as table properties
_PRIMITIVE = {"integer": "INT", "timestamp_ntz": "TIMESTAMP_NTZ"}  # Delta type name -> UC ColumnTypeName (others: upper case)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class Catalog:
    """The calls, on `root` (folders and Delta tables only; no state of its own)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _schema_dir(self, catalog: str, schema: str) -> Path:
        try:
            schema = check_part(schema, "schema", f"{catalog}.{schema}")
            base = catalog_path(self.root, catalog)
        except SpecError as exc:
            raise Refused(400, "INVALID_PARAMETER_VALUE", str(exc)) from None
        if schema in RESERVED:
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"schema name {schema!r} is reserved: the lakehouse root keeps {', '.join(RESERVED)} there")
        return base / schema

    def _table_dir(self, full: str) -> tuple[str, str, str, Path]:
        parts = full.split(".")
        if len(parts) != 3:
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"expected catalog.schema.table, got {full!r}")
        catalog, schema, table = parts
        try:
            table = check_part(table, "table", full)
        except SpecError as exc:
            raise Refused(400, "INVALID_PARAMETER_VALUE", str(exc)) from None
        return catalog, schema, table, self._schema_dir(catalog, schema) / table

    def schema(self, full: str) -> dict[str, Any]:
        catalog, _, schema = full.partition(".")
        folder = self._schema_dir(catalog, schema)
        if not folder.is_dir() and folder.name != DEFAULT_SCHEMA:  # `default` always exists, as with the JVM plugin
            raise Refused(404, "SCHEMA_DOES_NOT_EXIST", f"Schema not found: {full}")
        return _schema_info(catalog, folder)

    def schemas(self, catalog: str) -> dict[str, Any]:
        base = catalog_path(self.root, catalog)
        folders = {d.name: d for d in (base.iterdir() if base.is_dir() else ()) if d.is_dir() and _is_schema(d)}
        folders.setdefault(DEFAULT_SCHEMA, base / DEFAULT_SCHEMA)
        return {"schemas": [_schema_info(catalog, folders[n]) for n in sorted(folders)]}

    def create_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        folder = self._schema_dir(body.get("catalog_name", ""), body.get("name", ""))
        if folder.is_dir():
            raise Refused(409, "SCHEMA_ALREADY_EXISTS", f"Schema already exists: {body.get('catalog_name')}.{body.get('name')}")
        folder.mkdir(parents=True)
        return _schema_info(body["catalog_name"], folder)

    def delete_schema(self, full: str, force: bool) -> None:
        catalog, _, schema = full.partition(".")
        folder = self._schema_dir(catalog, schema)
        if not folder.is_dir():
            raise Refused(404, "SCHEMA_DOES_NOT_EXIST", f"Schema not found: {full}")
        tables = [d for d in folder.iterdir() if _delta_table(d)]
        if tables and not force:
            raise Refused(400, "SCHEMA_NOT_EMPTY", f"Schema {full} is not empty: DROP SCHEMA ... CASCADE drops its tables")
        kept = [d.name for d in tables if not created_through_catalog(d)]
        if kept:
            raise Refused(400, "INVALID_STATE", f"Schema {full} holds {', '.join(kept)}, written by path, not created through the catalog: "
                          f"DROP SCHEMA keeps it (delete the folder {folder} to remove it)")  # fmt: skip
        shutil.rmtree(folder)

    def table(self, full: str) -> dict[str, Any]:
        catalog, schema, table, folder = self._table_dir(full)
        if not _delta_table(folder):
            raise Refused(404, "TABLE_DOES_NOT_EXIST", f"Table not found: {full}")
        return _table_info(catalog, schema, table, folder)

    def tables(self, catalog: str, schema: str) -> dict[str, Any]:
        folder = self._schema_dir(catalog, schema)
        found = sorted(d for d in folder.iterdir() if _delta_table(d)) if folder.is_dir() else []
        return {"tables": [_table_info(catalog, schema, d.name, d) for d in found]}

    def create_table(self, body: dict[str, Any]) -> dict[str, Any]:
        from deltalake import DeltaTable, Schema

        full = f"{body.get('catalog_name')}.{body.get('schema_name')}.{body.get('name')}"
        catalog, schema, table, folder = self._table_dir(full)
        if str(body.get("data_source_format", "DELTA")).upper() != "DELTA":
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"Table {full}: the lakehouse keeps Delta tables only, not {body.get('data_source_format')}")
        location = body.get("storage_location")
        if location and Path(urllib.parse.urlparse(location).path or location).resolve() != folder:
            raise Refused(400, "INVALID_PARAMETER_VALUE", f"Table {full} lives at {folder} by the catalog's naming rule, not at {location}")
        if not folder.parent.is_dir():
            raise Refused(404, "SCHEMA_DOES_NOT_EXIST", f"Schema not found: {catalog}.{schema}")
        if _delta_table(folder):
            raise Refused(409, "TABLE_ALREADY_EXISTS", f"Table already exists: {full}")
        columns = sorted(body.get("columns") or [], key=lambda c: c.get("position", 0))
        fields = [_field(c) for c in columns]
        partitions = [c["name"] for c in sorted((c for c in columns if c.get("partition_index") is not None), key=lambda c: c["partition_index"])]
        delta_schema = Schema.from_json(json.dumps({"type": "struct", "fields": fields}))
        DeltaTable.create(str(folder), schema=delta_schema, partition_by=partitions or None, configuration={MANAGED: "true"}, raise_if_key_not_exists=False)
        return _table_info(catalog, schema, table, folder)

    def delete_table(self, full: str) -> None:
        _, _, _, folder = self._table_dir(full)
        if not _delta_table(folder):
            raise Refused(404, "TABLE_DOES_NOT_EXIST", f"Table not found: {full}")
        if not created_through_catalog(folder):
            raise Refused(400, "INVALID_STATE", f"Table {full} was written by path, not created through the catalog: DROP TABLE keeps it "
                          f"(delete the folder {folder} to remove it)")  # fmt: skip
        shutil.rmtree(folder)


def _is_schema(folder: Path) -> bool:
    name = folder.name
    return not name.startswith(("_", ".")) and name not in RESERVED and name == name.lower()


def _delta_table(folder: Path) -> bool:
    from lakehouse_jobs.lib.tables.lakehouse import is_delta_table

    return is_delta_table(folder)


def created_through_catalog(folder: Path) -> bool:
    """Whether the Delta table in `folder` was created through the catalog (either engine's mark): DROP TABLE deletes it."""
    from deltalake import DeltaTable

    return _marked(DeltaTable(str(folder)).metadata().configuration)


def _marked(configuration: dict[str, str]) -> bool:
    return "true" in (configuration.get(MANAGED), configuration.get(SAIL_MANAGED))


def _schema_info(catalog: str, folder: Path) -> dict[str, Any]:
    return {"name": folder.name, "catalog_name": catalog, "full_name": f"{catalog}.{folder.name}", "properties": {"location": str(folder)}}


def _field(column: dict[str, Any]) -> dict[str, Any]:
    """A column of a create call as a Delta schema field (its `type_json` is a Spark StructField, or just the type)."""
    parsed = json.loads(column.get("type_json") or "null")
    if isinstance(parsed, dict) and "name" in parsed and "type" in parsed:
        return {"metadata": {}, **parsed, "name": column["name"], "nullable": bool(column.get("nullable", True))}
    kind = parsed.get("type", parsed) if isinstance(parsed, dict) else parsed or column.get("type_text")
    return {"name": column["name"], "type": kind, "nullable": bool(column.get("nullable", True)), "metadata": {}}


def _type_name(kind: Any) -> tuple[str, dict[str, int]]:
    """A Delta field type -> (UC ColumnTypeName, precision/scale for decimals)."""
    if isinstance(kind, dict):
        return {"array": "ARRAY", "map": "MAP", "struct": "STRUCT"}[kind["type"]], {}
    if kind.startswith("decimal"):
        precision, scale = (int(n) for n in kind[kind.index("(") + 1 : -1].split(","))
        return "DECIMAL", {"type_precision": precision, "type_scale": scale}
    return _PRIMITIVE.get(kind, kind.upper()), {}


def _table_info(catalog: str, schema: str, table: str, folder: Path) -> dict[str, Any]:
    from deltalake import DeltaTable

    log = DeltaTable(str(folder))
    metadata = log.metadata()
    partitions = list(metadata.partition_columns)
    columns = []
    for position, field in enumerate(json.loads(log.schema().to_json())["fields"]):
        name, extra = _type_name(field["type"])
        text = field["type"] if isinstance(field["type"], str) else json.dumps(field["type"])
        column = {
            "name": field["name"],
            "type_name": name,
            "type_text": text,
            "type_json": json.dumps(field),
            "nullable": field["nullable"],
            "position": position,
        }
        if field["name"] in partitions:
            column["partition_index"] = partitions.index(field["name"])
        columns.append({**column, **extra})
    return {
        "name": table, "catalog_name": catalog, "schema_name": schema, "full_name": f"{catalog}.{schema}.{table}",
        "table_type": "MANAGED" if _marked(metadata.configuration) else "EXTERNAL",
        "data_source_format": "DELTA", "storage_location": str(folder), "columns": columns, "properties": dict(metadata.configuration),
    }  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        catalog = self.server.catalog
        try:
            if not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {self.server.token}"):
                raise Refused(401, "UNAUTHENTICATED", "this catalog answers its Sail server only")
            if not path.startswith(PREFIX + "/"):
                raise Refused(404, "NOT_FOUND", f"no such endpoint: {path}")
            kind, _, name = path[len(PREFIX) + 1 :].partition("/")
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            if (kind, method, bool(name)) == ("schemas", "GET", True):
                answer = catalog.schema(name)
            elif (kind, method, bool(name)) == ("schemas", "GET", False):
                answer = catalog.schemas(query.get("catalog_name", ""))
            elif (kind, method) == ("schemas", "POST"):
                answer = catalog.create_schema(body)
            elif (kind, method) == ("schemas", "DELETE"):
                answer = catalog.delete_schema(name, query.get("force", "false") == "true") or {}
            elif (kind, method, bool(name)) == ("tables", "GET", True):
                answer = catalog.table(name)
            elif (kind, method, bool(name)) == ("tables", "GET", False):
                answer = catalog.tables(query.get("catalog_name", ""), query.get("schema_name", ""))
            elif (kind, method) == ("tables", "POST"):
                answer = catalog.create_table(body)
            elif (kind, method) == ("tables", "DELETE"):
                answer = catalog.delete_table(name) or {}
            else:
                raise Refused(404, "NOT_FOUND", f"{method} {path} is not served (the lakehouse catalog serves schemas and tables)")
            status = 200
        except Refused as refused:
            status, answer = refused.status, {"error_code": refused.code, "message": str(refused)}
        except Exception as exc:  # noqa: BLE001 - the message reaches the user (`refusal_since`); the server keeps serving
            status, answer = 500, {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
        if status >= 400 and status != 401:  # what a failing statement was refused: `refusal_since`
            self.server.remember(answer["message"])
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        """Quiet: every table lookup of every query is a request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    catalog: Catalog
    token: str  # the Sail server's bearer token (its catalog settings): other local users get 401
    refusals: list[tuple[int, str]]  # (sequence number, message) of the last refused requests
    answered: int = 0

    def remember(self, message: str) -> None:
        with _LOCK:
            self.answered += 1
            self.refusals = [*self.refusals[-15:], (self.answered, message)]


_LOCK = threading.Lock()
_SERVER: list[_Server] = []


def serve(root: str | Path) -> str:
    """The process's catalog server's API URL (`http://127.0.0.1:<port>/api/2.1/unity-catalog`), started on first call."""
    with _LOCK:
        if not _SERVER:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.catalog = Catalog(root)
            server.token = secrets.token_urlsafe(32)
            server.refusals = []
            threading.Thread(target=server.serve_forever, name="lakehouse-unity-catalog", daemon=True).start()
            _SERVER.append(server)
        host, port = _SERVER[0].server_address[:2]
        return f"http://{host}:{port}{PREFIX}"


def bind(root: str | Path) -> None:
    """Serve `root` from now on (a process serving several lakehouses, one at a time: `catalog.bind_root`)."""
    with _LOCK:
        if _SERVER:
            _SERVER[0].catalog = Catalog(root)


_CATALOGS: list[str] = []  # the catalogs the Sail server was given (fixed when it starts)


def sail_catalogs() -> list[str]:
    """The catalogs the Sail server was started with. Any other catalog's names still resolve: Sail reads `c.s.t` with
    an unknown `c` as namespace `c.s` of its default catalog, which this server serves as catalog `c` (measured)."""
    return list(_CATALOGS)


def sail_settings(root: str | Path, catalogs: list[str]) -> dict[str, str]:
    """The environment a Sail server reads its catalogs from at start: each of `catalogs` served here (the default first)."""
    _CATALOGS[:] = catalogs
    url = serve(root)
    token = _SERVER[0].token
    entries = ", ".join(f'{{type="unity", name="{c}", uri="{url}", default_catalog="{c}", token="{token}"}}' for c in catalogs)
    return {"SAIL_CATALOG__LIST": f"[{entries}]", "SAIL_CATALOG__DEFAULT_CATALOG": catalogs[0]}


def served_root() -> Path | None:
    """The root whose names this process's Sail sessions resolve: its own catalog server's, or a Sail job cluster's
    (`served_remotely`); None: no names on Sail here."""
    with _LOCK:
        return _SERVER[0].catalog.root if _SERVER else (_REMOTE[0] if _REMOTE else None)


_REMOTE: list[Path] = []  # the root a Sail job cluster's server process serves to this process's sessions


def served_remotely(root: str | Path) -> None:
    """This process's Sail sessions are on a job cluster whose server process serves `root` (runtime/sail_cluster.py)."""
    with _LOCK:
        _REMOTE[:] = [Path(root).expanduser().resolve()]


def table_folder(spark: Any, name: str) -> tuple[Path, dict[str, str]]:
    """The folder of table `name` (1-3 parts, the session's current catalog and schema filling the gaps) by the naming
    rule, and the writer options that mark a table made there as created through the catalog (so DROP TABLE deletes it,
    on either engine). For what Sail's catalog cannot do itself: `CREATE TABLE <name>` and `saveAsTable` (Sail's Unity
    provider makes a managed Delta table catalog-managed, which Delta readers other than Sail cannot read). As on the
    JVM, the schema's folder is made by the write when it is missing."""
    from lakehouse_jobs.lib.catalog.names import qualify

    root = served_root()
    if root is None:
        raise SpecError(name, "table names on Sail are served by the embedded Sail server's catalog, which this process did not start")
    catalog, _, schema = spark.catalog.currentDatabase().rpartition(".")
    try:
        catalog, schema, table = qualify(name, catalog or spark.catalog.currentCatalog(), schema)
    except SpecError as exc:  # the name on one line, as the JVM plugin says it
        raise SpecError(name.encode("unicode_escape").decode(), exc.message.replace("invalid", "Invalid", 1)) from None
    return catalog_path(root, catalog) / schema / table, {SAIL_MANAGED: "true"}


def refusal_mark() -> int:
    """Where the refusals stand now: `refusal_since(mark, error)` after a statement says what it was refused."""
    with _LOCK:
        return _SERVER[0].answered if _SERVER else 0


def refusal_since(mark: int, error: BaseException) -> str | None:
    """The server's own sentence for a refusal Sail reported as a bare HTTP status (it drops the body), or None."""
    if not _SERVER or "HTTP" not in str(error):
        return None
    with _LOCK:
        messages = [message for number, message in _SERVER[0].refusals if number > mark]
    return messages[-1] if messages else None
