"""The lakehouse root as a Unity Catalog REST API (what Sail's `unity` provider calls), over real HTTP on 127.0.0.1.

The calls and bodies are the ones pysail 0.7.2 was measured sending; Sail itself is in test_catalog.py's Sail pass.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse_jobs.lib.catalog import unity_rest


@pytest.fixture
def api(tmp_path: Path):
    unity_rest.serve(tmp_path)
    unity_rest.bind(tmp_path)
    settings = unity_rest.sail_settings(tmp_path, ["main", "spark_catalog"])
    token = settings["SAIL_CATALOG__LIST"].split('token="')[1].split('"')[0]

    def call(method: str, path: str, body: dict | None = None, auth: bool = True) -> tuple[int, dict]:
        request = urllib.request.Request(unity_rest.serve(tmp_path) + path, method=method, data=json.dumps(body).encode() if body else None)
        if auth:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return call


def _column(name: str, type_json: object, position: int, partition_index: int | None = None) -> dict:
    column = {
        "name": name,
        "nullable": True,
        "position": position,
        "type_json": json.dumps({"name": name, "type": type_json, "nullable": True, "metadata": {}}),
    }
    return column if partition_index is None else {**column, "partition_index": partition_index}


def test_only_its_sail_server_is_answered(api):
    assert api("GET", "/schemas?catalog_name=main", auth=False)[0] == 401
    assert api("GET", "/schemas?catalog_name=main")[0] == 200


def test_schemas_are_folders_and_default_always_exists(api, tmp_path: Path):
    for folder in ("landing/orders", "_system", "silver"):
        (tmp_path / folder).mkdir(parents=True)
    assert [s["name"] for s in api("GET", "/schemas?catalog_name=main")[1]["schemas"]] == ["default", "silver"]
    status, info = api("GET", "/schemas/main.silver")
    assert status == 200 and info["properties"]["location"] == str(tmp_path / "silver")  # where Sail puts a managed table
    assert api("GET", "/schemas/main.gold")[0] == 404 and api("GET", "/schemas/main.default")[0] == 200
    assert api("POST", "/schemas", {"catalog_name": "dev", "name": "raw"})[0] == 200 and (tmp_path / "catalogs" / "dev" / "raw").is_dir()
    assert api("POST", "/schemas", {"catalog_name": "main", "name": "silver"})[0] == 409
    status, refused = api("POST", "/schemas", {"catalog_name": "main", "name": "landing"})
    assert status == 400 and "reserved" in refused["message"]


def test_a_created_table_is_an_empty_delta_table_with_its_columns_and_the_catalogs_mark(api, tmp_path: Path):
    (tmp_path / "silver").mkdir()
    columns = [_column("id", "long", 0), _column("price", "decimal(10,2)", 1), _column("tags", {"type": "array", "elementType": "string", "containsNull": True}, 2),
               _column("day", "date", 3, partition_index=0)]  # fmt: skip
    body = {"catalog_name": "main", "schema_name": "silver", "name": "orders", "columns": columns, "data_source_format": "DELTA", "table_type": "MANAGED",
            "storage_location": str(tmp_path / "silver" / "orders")}  # fmt: skip
    status, info = api("POST", "/tables", body)
    table = DeltaTable(str(tmp_path / "silver" / "orders"))
    assert status == 200 and table.version() == 0 and table.metadata().partition_columns == ["day"]
    assert table.metadata().configuration == {unity_rest.MANAGED: "true"} and info["table_type"] == "MANAGED"
    by_name = {c["name"]: c for c in info["columns"]}
    assert [by_name[n]["type_name"] for n in ("id", "price", "tags", "day")] == ["LONG", "DECIMAL", "ARRAY", "DATE"]
    assert (by_name["price"]["type_precision"], by_name["price"]["type_scale"], by_name["day"]["partition_index"]) == (10, 2, 0)
    assert api("POST", "/tables", body)[0] == 409
    assert api("POST", "/tables", {**body, "name": "p", "data_source_format": "PARQUET"})[0] == 400
    status, refused = api("POST", "/tables", {**body, "name": "elsewhere", "storage_location": "/tmp/elsewhere"})
    assert status == 400 and "by the catalog's naming rule" in refused["message"]
    assert [t["name"] for t in api("GET", "/tables?catalog_name=main&schema_name=silver")[1]["tables"]] == ["orders"]
    assert api("DELETE", "/tables/main.silver.orders")[0] == 200 and not (tmp_path / "silver" / "orders").exists()


def test_a_table_written_by_path_is_read_but_not_dropped(api, tmp_path: Path):
    write_deltalake(str(tmp_path / "bronze" / "raw"), pd.DataFrame({"id": [1], "name": ["a"]}))
    status, info = api("GET", "/tables/main.bronze.raw")
    assert status == 200 and info["table_type"] == "EXTERNAL" and info["storage_location"] == str(tmp_path / "bronze" / "raw")
    assert [(c["name"], c["type_name"]) for c in info["columns"]] == [("id", "LONG"), ("name", "STRING")]
    assert api("GET", "/tables/spark_catalog.bronze.raw")[0] == 200 and api("GET", "/tables/main.bronze.nothing")[0] == 404
    status, refused = api("DELETE", "/tables/main.bronze.raw")
    assert status == 400 and "written by path" in refused["message"] and (tmp_path / "bronze" / "raw").exists()
    status, refused = api("DELETE", "/schemas/main.bronze?force=true")
    assert status == 400 and "written by path" in refused["message"]
    assert api("DELETE", "/schemas/main.bronze")[0] == 400  # not empty, no CASCADE


ON_SAIL_WITH_A_WORKSPACE = """
import sys
from lakehouse_jobs.lib.runtime.spark import SparkResource
spark = SparkResource(engine="sail").get_session()
spark.sql("CREATE SCHEMA IF NOT EXISTS main.silver")
spark.sql("CREATE TABLE main.silver.t AS SELECT 1 AS id")
print("ROWS", spark.table("silver.t").count())
"""


def test_a_databricks_workspace_in_the_environment_gets_no_catalog_call_nor_token(tmp_path: Path):
    """Sail's Unity provider prefers DATABRICKS_HOST/DATABRICKS_TOKEN from the environment over its settings: a Databricks
    user's shell would send the lakehouse's table lookups, and their token, to their workspace. Sessions are made
    without those variables (`sail.unity_env_hidden`); a local server stands in for the workspace and hears nothing."""
    import http.server
    import os
    import subprocess
    import sys
    import threading

    heard: list[str] = []

    class Workspace(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(f"{self.path} {self.headers.get('Authorization')}")
            self.send_response(404)
            self.end_headers()

        do_POST = do_DELETE = do_GET  # noqa: N815 - http.server's method names

        def log_message(self, *args: object) -> None:
            pass

    workspace = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Workspace)
    threading.Thread(target=workspace.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "LAKEHOUSE_ROOT": str(tmp_path), "DATABRICKS_HOST": f"http://127.0.0.1:{workspace.server_address[1]}",
               "DATABRICKS_TOKEN": "dapi-not-for-the-lakehouse", "UNITY_ALLOW_HTTP_URL": "true"}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", ON_SAIL_WITH_A_WORKSPACE], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    finally:
        workspace.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ROWS 1" in done.stdout and heard == []
    assert DeltaTable(str(tmp_path / "silver" / "t")).to_pandas()["id"].tolist() == [1]
