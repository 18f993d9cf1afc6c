"""The naming rule in Python: names -> folders under the root, volumes, and bad names refused before any SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs.lib.catalog import create_schema, create_volume, schema_path, split_name, table_path, volume_path
from lakehouse_jobs.lib.catalog.names import catalogs_on_disk, qualify
from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.notebooks.fs import FsPathError, LocalFS


def test_default_catalog_schemas_are_the_root_folders_and_other_catalogs_live_under_catalogs(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_CATALOG", raising=False)
    root = tmp_path.resolve()
    assert table_path("main.bronze.orders", root) == root / "bronze" / "orders"
    assert table_path("silver.x", root) == table_path("spark_catalog.silver.x", root) == root / "silver" / "x"
    assert table_path("x", root) == root / "default" / "x"
    assert table_path("Main.Silver.`Orders`", root) == root / "silver" / "orders"  # case-insensitive, as in Unity Catalog
    assert table_path("dev.sales.orders", root) == root / "catalogs" / "dev" / "sales" / "orders"
    assert schema_path(root, "dev", "sales") == root / "catalogs" / "dev" / "sales"
    monkeypatch.setenv("LAKEHOUSE_CATALOG", "prod")
    assert table_path("prod.silver.x", root) == root / "silver" / "x"
    assert table_path("main.silver.x", root) == root / "catalogs" / "main" / "silver" / "x"


@pytest.mark.parametrize(
    "name",
    ["main.silver.`a;b`", "main.silver.`a\nb`", "main.`../x`.t", "main._system.t", "main.volumes.t", "a.b.c.d", "main..t", "", "main.silver.`t`x"],
)
def test_bad_names_are_refused_with_one_sentence(name: str, tmp_path: Path):
    with pytest.raises(SpecError) as raised:
        table_path(name, tmp_path)
    assert any(word in str(raised.value) for word in ("invalid", "reserved", "expected", "at most"))


def test_split_name_reads_backticks_as_spark_does():
    assert split_name("`my.cat`.s.`t``x`") == ["my.cat", "s", "t`x"]
    assert qualify("t", "c", "s") == ("c", "s", "t")


def test_volume_paths_map_under_volumes_for_spark_reads_and_dbutils_fs(tmp_path: Path):
    root = tmp_path.resolve()
    expected = root / "volumes" / "main" / "raw" / "landing" / "x.csv"
    assert volume_path("/Volumes/main/raw/landing/x.csv", root) == expected
    assert volume_path("dbfs:/Volumes/Main/raw/landing/x.csv", root) == expected
    assert LocalFS(root).to_local("/Volumes/main/raw/landing/x.csv") == expected  # dbutils.fs uses the same rule
    for bad in ("/Volumes/a/b", "/Volumes/main/raw/landing/../../../../etc", "/Volumes/main/r;w/v/x", "/tmp/x"):
        with pytest.raises(SpecError):
            volume_path(bad, root)
    with pytest.raises(FsPathError, match="volume path"):
        LocalFS(root).to_local("/Volumes/main/r;w/v/x")


def test_catalog_folders_found_on_disk(tmp_path: Path):
    for name in ("dev", "Bad-Name", "_hidden"):
        (tmp_path / "catalogs" / name).mkdir(parents=True)
    assert catalogs_on_disk(tmp_path) == ["dev"]


def test_bundle_schemas_and_volumes_are_created_as_folders(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_CATALOG", raising=False)
    root = tmp_path.resolve()
    assert create_schema("main", "silver", root) == root / "silver" and (root / "silver").is_dir()
    assert create_schema("dev", "sales", root) == root / "catalogs" / "dev" / "sales"
    assert create_volume("main", "raw", "landing", root) == root / "volumes" / "main" / "raw" / "landing"
    create_volume("main", "raw", "landing", root)  # idempotent
    with pytest.raises(SpecError):
        create_schema("main", "../x", root)
