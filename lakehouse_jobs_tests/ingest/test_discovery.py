"""Landing files are found one way, for the sensor and by hand, and never read outside the landing folder.

Real symbolic links to a real file outside the lakehouse (a `passwd`-like file whose
lines must never reach bronze or the quarantine), real Dagster materializations.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.ingest.asset import ingestion_asset
from lakehouse_jobs.lib.ingest.discovery import discover
from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingest.ingest import files_run_config, ingest
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.delta_io import read_delta
from lakehouse_jobs.lib.tables.quarantine import read_quarantine

from .helpers import write_csv

SPEC = IngestSpec(source="src", table="events", format="csv", columns=["id", "name"])
SECRET = "root:x:0:0:SECRET"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the lakehouse: a passwd-like file and a CSV whose rows must never be ingested."""
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "passwd").write_text(f"{SECRET}\nid,name\ndaemon:x:1:1\n", encoding="utf-8")
    write_csv(folder / "elsewhere.csv", ["id", "name"], [["OUTSIDE-ID", SECRET]])
    return folder


def _landing(lakehouse, outside: Path) -> Path:
    landing = lakehouse.landing_path("src")
    write_csv(landing / "good.csv", ["id", "name"], [["1", "a"], ["2", "b"]])
    (landing / "passwd.csv").symlink_to(outside / "passwd")  # a file link leaving the root
    (landing / "ext").symlink_to(outside)  # a folder link leaving the root
    return landing


def _everything(spark, lakehouse) -> str:
    bronze = read_delta(spark, lakehouse.table_path("bronze", "events")).collect()
    refused = read_quarantine(spark, lakehouse).collect()
    return repr(bronze) + repr(refused)


def _materialize(spark_resource, lakehouse, instance, run_config=None):
    asset = ingestion_asset(SPEC)
    return dg.materialize([asset], resources={"spark": spark_resource, "lakehouse": lakehouse}, instance=instance, run_config=run_config or {})


def _warnings(instance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.level == 30 and e.user_message]  # logging.WARNING


def test_materialize_by_hand_skips_links_leaving_the_landing_folder_with_a_warning(spark, spark_resource, lakehouse, outside):
    landing = _landing(lakehouse, outside)
    with dg.instance_for_test() as instance:
        result = _materialize(spark_resource, lakehouse, instance)
        assert result.success
        warnings = " ".join(_warnings(instance, result.run_id))
        metadata = result.asset_materializations_for_node("bronze__events")[0].metadata
    assert f"{landing / 'passwd.csv'}" in warnings and str(outside / "passwd") in warnings
    assert f"{landing / 'ext'}" in warnings and str(outside) in warnings
    assert metadata["rows_ingested"].value == 2 and metadata["files_refused"].value == 2
    everything = _everything(spark, lakehouse)
    assert SECRET not in everything and "OUTSIDE-ID" not in everything and "daemon" not in everything
    refused = {Path(r["file"]).name: r for r in read_quarantine(spark, lakehouse, "bronze.events").collect()}
    assert set(refused) == {"passwd.csv", "ext"}
    assert refused["passwd.csv"]["raw"] is None and str(outside / "passwd") in refused["passwd.csv"]["reason"]


def test_a_sensor_batch_with_a_link_outside_ingests_the_rest_and_reports_the_link_once(spark, spark_resource, lakehouse, outside):
    landing = _landing(lakehouse, outside)
    sensor = file_arrival_sensor(name="s", location=landing, job_name="ingest", run_config_for_files=files_run_config(SPEC))
    with dg.instance_for_test() as instance:
        (request,) = sensor(dg.build_sensor_context(instance=instance)).run_requests
        assert str(landing / "passwd.csv") in request.run_config["ops"]["bronze__events"]["config"]["files"]
        first = _materialize(spark_resource, lakehouse, instance, request.run_config)
        assert first.success
        assert any("passwd.csv" in w and str(outside / "passwd") in w for w in _warnings(instance, first.run_id))
        again = _materialize(spark_resource, lakehouse, instance)  # by hand, later: nothing new, nothing re-reported
        assert again.success and _warnings(instance, again.run_id) == []
        assert again.asset_materializations_for_node("bronze__events") == []  # no new row: no materialization
        infos = [e.user_message for e in instance.all_logs(again.run_id) if e.level == 20 and e.user_message]
    assert any("0 row(s) ingested" in m and "3 already ingested" in m for m in infos)  # the link is neither read nor refused again
    assert sorted(r["id"] for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect()) == ["1", "2"]
    assert read_quarantine(spark, lakehouse, "bronze.events").count() == 2  # the two links, recorded once with their reason
    assert SECRET not in _everything(spark, lakehouse)


def test_a_path_through_a_linked_folder_given_by_a_run_is_skipped_not_read(spark, lakehouse, outside):
    landing = _landing(lakehouse, outside)
    result = ingest(spark, lakehouse, SPEC, [str(landing / "ext" / "elsewhere.csv"), str(landing / "good.csv")])
    assert result.rows_ingested == 2 and [r.name for r in result.refused] == ["ext/elsewhere.csv"]
    assert str(outside / "elsewhere.csv") in result.refused[0].reason
    assert "OUTSIDE-ID" not in _everything(spark, lakehouse)


def test_links_inside_the_landing_folder_are_read_once_at_their_real_place(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "real" / "a.csv", ["id"], [["1"]])
    (landing / "alias.csv").symlink_to(landing / "real" / "a.csv")
    (landing / "also").symlink_to(landing / "real")
    found = discover(landing, (".csv",))
    assert found.files == [landing / "real" / "a.csv"] and found.refused == []
    given = discover(landing, (".csv",), [str(landing / "alias.csv"), "also/a.csv"])
    assert given.files == [landing / "real" / "a.csv"] and given.refused == []


def test_file_names_with_glob_characters_are_read_as_named(spark, lakehouse):
    """Spark reads paths as glob patterns: `a[1].csv` would match nothing and `*` every file."""
    landing = lakehouse.landing_path("src")
    write_csv(landing / "a[1].csv", ["id", "name"], [["1", "x"]])
    write_csv(landing / "b*.csv", ["id", "name"], [["2", "y"]])
    write_csv(landing / "b-other.csv", ["id", "name"], [["3", "z"]])
    result = ingest(spark, lakehouse, SPEC, [str(landing / "a[1].csv"), str(landing / "b*.csv")])
    assert result.rows_ingested == 2
    assert sorted(r["id"] for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect()) == ["1", "2"]
