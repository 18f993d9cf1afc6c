"""The catalog on the shared session: Unity Catalog statements on Delta folders under the root.

On the JVM every statement below goes through `LakehouseCatalog` (main and spark_catalog) and
Delta's own table code; on Sail through the root served as a Unity Catalog API
(`catalog/unity_rest.py`), table creation by name on the rule's folder (`sail_supply`). The
folders are checked on disk and read back by path with delta-rs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable as RustTable

from lakehouse_jobs.lib.catalog import bind_root, register_catalog, table_path, volume_path
from lakehouse_jobs_tests.engines import ON_SAIL


@pytest.fixture
def root(spark, lakehouse) -> Path:
    bind_root(spark, lakehouse.root)
    spark.sql("USE CATALOG main")
    spark.sql("USE SCHEMA default")
    return Path(lakehouse.root).resolve()


def test_sql_with_one_two_and_three_part_names_lands_in_schema_folders(spark, root: Path):
    spark.sql("CREATE SCHEMA IF NOT EXISTS silver")
    spark.sql("CREATE SCHEMA IF NOT EXISTS silver")  # IF NOT EXISTS: no error
    spark.sql("CREATE OR REPLACE TABLE main.silver.orders (id INT, amount INT)")
    spark.sql("INSERT INTO silver.orders VALUES (1, 10), (2, 20)")
    spark.sql("USE SCHEMA silver")
    spark.sql("MERGE INTO orders t USING (SELECT 2 AS id, 25 AS amount UNION ALL SELECT 3, 30) s ON t.id = s.id "
              "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")  # fmt: skip
    assert sorted(tuple(r) for r in spark.table("spark_catalog.silver.orders").collect()) == [(1, 10), (2, 25), (3, 30)]
    assert spark.sql("SELECT count(*) FROM main.silver.orders VERSION AS OF 1").first()[0] == 2  # time travel is Delta's
    spark.sql("INSERT OVERWRITE main.silver.orders SELECT id, amount * 2 FROM main.silver.orders WHERE id = 1")
    path = root / "silver" / "orders"
    assert table_path("main.silver.orders", root) == path
    assert RustTable(str(path)).to_pyarrow_table().to_pydict() == {"id": [1], "amount": [20]}  # by path, without Spark
    assert [r.tableName for r in spark.sql("SHOW TABLES IN main.silver").collect()] == ["orders"]  # the schema column: 'silver' (JVM), 'main.silver' (Sail)
    assert [r[0] for r in spark.sql("DESCRIBE TABLE main.silver.orders").collect()][:2] == ["id", "amount"]


def test_save_as_table_every_mode_and_delta_table_for_name(spark, root: Path):
    from delta.tables import DeltaTable

    spark.range(3).write.saveAsTable("main.gold.numbers")  # errorifexists on a new table
    spark.range(2).write.mode("append").saveAsTable("gold.numbers")
    with pytest.raises(Exception, match="already exists|TABLE_OR_VIEW_ALREADY_EXISTS"):
        spark.range(1).write.mode("error").saveAsTable("main.gold.numbers")
    spark.range(1).write.mode("ignore").saveAsTable("main.gold.numbers")
    assert spark.read.table("main.gold.numbers").count() == 5
    spark.range(7).write.mode("overwrite").saveAsTable("main.gold.numbers")
    assert spark.table("gold.numbers").count() == 7 and len(RustTable(str(root / "gold" / "numbers")).history()) == 3
    if not ON_SAIL:  # delta-spark's DeltaTable is a JVM API
        assert DeltaTable.forName(spark, "main.gold.numbers").toDF().count() == 7
        assert DeltaTable.forName(spark, "main.gold.numbers").history().count() == 3  # delta-spark looks 1-/2-part names up in Spark's own catalog
    spark.sql("CREATE OR REPLACE TABLE main.gold.copy AS SELECT id FROM gold.numbers WHERE id < 2")
    assert RustTable(str(root / "gold" / "copy")).to_pyarrow_table().num_rows == 2


def test_schemas_are_folders_reserved_folders_are_not_and_drop_deletes_managed_tables(spark, root: Path):
    for folder in ("landing/orders", "_system/x", "volumes/main", "catalogs/dev"):
        (root / folder).mkdir(parents=True)
    spark.sql("CREATE SCHEMA main.bronze")
    with pytest.raises(Exception, match="SCHEMA_ALREADY_EXISTS|already exists"):
        spark.sql("CREATE SCHEMA main.bronze")
    assert {r[0] for r in spark.sql("SHOW SCHEMAS IN main").collect()} == {"default", "bronze"}
    spark.sql("CREATE TABLE main.bronze.t0 AS SELECT 1 AS id")
    spark.sql("ALTER TABLE main.bronze.t0 RENAME TO main.bronze.t")
    assert not (root / "bronze" / "t0").exists() and spark.table("bronze.t").count() == 1
    spark.sql("DROP TABLE main.bronze.t")
    assert not (root / "bronze" / "t").exists()
    with pytest.raises(Exception, match="does not support (creating )?views"):  # Sail: "Open source Unity Catalog does not support creating views"
        spark.sql("CREATE VIEW main.bronze.v AS SELECT 1 AS id")
    spark.sql("DROP TABLE IF EXISTS main.bronze.t")
    spark.range(1).write.format("delta").save(str(root / "bronze" / "by_path"))  # written by path: not the catalog's to delete
    with pytest.raises(Exception, match="written by path"):
        spark.sql("DROP TABLE main.bronze.by_path")
    assert spark.table("main.bronze.by_path").count() == 1
    spark.sql("CREATE TABLE main.default.t2 AS SELECT 1 AS id")
    spark.sql("DROP SCHEMA main.default CASCADE")
    assert not (root / "default").exists()


def test_other_catalogs_live_under_catalogs_and_register_at_runtime(spark, root: Path):
    register_catalog(spark, "dev")
    spark.sql("CREATE SCHEMA IF NOT EXISTS dev.sales")
    spark.sql("USE CATALOG dev")
    try:
        spark.sql("CREATE TABLE sales.orders AS SELECT 'a' AS k")
        assert spark.table("dev.sales.orders").count() == 1
    finally:
        spark.sql("USE CATALOG main")
    assert RustTable(str(root / "catalogs" / "dev" / "sales" / "orders")).to_pyarrow_table().to_pydict() == {"k": ["a"]}
    assert spark.sql("SHOW SCHEMAS IN dev").count() == 2  # default, sales


@pytest.mark.parametrize("name", ["main.silver.`a;b`", "main.silver.`a\nb`", "main.`_system`.t"])
def test_bad_identifiers_are_refused_before_reaching_a_path(spark, root: Path, name: str):
    with pytest.raises(Exception) as raised:
        spark.sql(f"CREATE TABLE {name} AS SELECT 1 AS id")
    message = str(raised.value).splitlines()[0]
    assert "Invalid" in message and "letters, digits and _" in message
    assert sorted(p.name for p in root.iterdir()) == []


def test_volume_files_read_by_spark_through_volume_path(spark, root: Path):
    target = volume_path("/Volumes/main/raw/landing/x.csv", root)
    target.parent.mkdir(parents=True)
    target.write_text("id,name\n1,a\n")
    rows = spark.read.option("header", True).csv(str(volume_path("/Volumes/main/raw/landing/x.csv", root))).collect()
    assert [tuple(r) for r in rows] == [("1", "a")]


def test_dataframe_reads_and_writes_of_volume_paths_land_under_the_root(spark, root: Path):
    """`spark.read.csv("/Volumes/...")` and a Delta save to a volume, unchanged, on either engine (the JVM maps them in
    its file system, Sail's session in its reader and writer): the files are under <root>/volumes, nothing outside."""
    target = volume_path("/Volumes/main/Raw/landing/orders/o.csv", root)
    target.parent.mkdir(parents=True)
    target.write_text("id,name\n1,a\n2,b\n")
    rows = spark.read.option("header", True).csv("/Volumes/main/Raw/landing/orders/").collect()  # the catalog parts are case-insensitive
    assert sorted(tuple(r) for r in rows) == [("1", "a"), ("2", "b")]
    assert spark.read.format("text").load(["/Volumes/main/raw/landing/orders/o.csv"]).count() == 3
    spark.range(3).write.format("delta").mode("overwrite").save("/Volumes/main/raw/landing/out")
    assert RustTable(str(root / "volumes" / "main" / "raw" / "landing" / "out")).to_pandas()["id"].tolist() == [0, 1, 2]
    assert spark.read.format("delta").load("/Volumes/main/raw/landing/out").count() == 3
    assert not Path("/Volumes").exists()  # nothing was written outside the root
    assert spark.read.text("/Volumes/main/raw/landing/orders/../orders/o.csv").count() == 3  # `..` stays inside the volume


def test_spark_reads_and_writes_volume_paths_as_databricks_code_writes_them(spark, root: Path):
    """`spark.read.csv("/Volumes/...")`, SQL on a volume file and a Delta save to a volume, unchanged: the files are under <root>/volumes."""
    target = volume_path("/Volumes/main/Raw/landing/orders/o.csv", root)
    target.parent.mkdir(parents=True)
    target.write_text("id,name\n1,a\n2,b\n")
    rows = spark.read.option("header", True).csv("/Volumes/main/Raw/landing/orders/").collect()  # the catalog parts are case-insensitive
    assert sorted(tuple(r) for r in rows) == [("1", "a"), ("2", "b")]
    counted = spark.sql("SELECT count(*) AS n FROM csv.`/Volumes/main/raw/landing/orders/o.csv`").collect()  # SQL on a file path
    assert counted[0]["n"] == 3  # no header option here: the header line is a row
    [path] = {r.p for r in spark.read.csv("/Volumes/main/raw/landing/orders").selectExpr("_metadata.file_path AS p").collect()}
    assert path == "file:/Volumes/main/raw/landing/orders/o.csv"  # lineage names the volume, as on Databricks
    spark.range(3).write.format("delta").mode("overwrite").save("/Volumes/main/raw/landing/out")
    assert RustTable(str(root / "volumes" / "main" / "raw" / "landing" / "out")).to_pandas()["id"].tolist() == [0, 1, 2]
    assert not Path("/Volumes").exists()  # nothing was written outside the root
    # `..` is resolved before the mapping (Hadoop paths are normalized): inside a volume it stays inside it
    assert spark.read.text("/Volumes/main/raw/landing/orders/../orders/o.csv").count() == 3


def test_create_drop_and_a_table_written_by_path(spark, root: Path):
    """A table created by name is the catalog's to drop (its folder goes); one written by path is kept, in one sentence."""
    spark.sql("CREATE TABLE main.silver.made (id INT)")
    spark.sql("CREATE TABLE IF NOT EXISTS silver.made (id INT)")  # exists: nothing happens
    with pytest.raises(Exception, match="already exists|TABLE_OR_VIEW_ALREADY_EXISTS"):
        spark.sql("CREATE TABLE main.silver.made (id INT)")
    spark.sql("INSERT INTO main.silver.made VALUES (1)")
    assert spark.table("silver.made").count() == 1
    spark.sql("DROP TABLE main.silver.made")
    assert not (root / "silver" / "made").exists()
    spark.range(1).write.format("delta").save(str(root / "silver" / "by_path"))
    with pytest.raises(Exception, match="written by path"):
        spark.sql("DROP TABLE main.silver.by_path")
    assert spark.table("main.silver.by_path").count() == 1


def test_a_tasks_sql_writes_by_name_to_a_table_with_the_change_data_feed(spark, root: Path):
    """A table the project made (it has the change data feed) written by a task's SQL: INSERT by name on either engine
    (on Sail committed by delta-rs); a MERGE there runs on the JVM and is refused on Sail in one sentence, before
    anything is written (Sail cannot write the feed; docs/engines.md)."""
    from lakehouse_jobs.lib.tables.delta_io import WriteSpec, write_delta

    write_delta(spark, spark.createDataFrame([(1, 10)], "id INT, amount INT"), root / "silver" / "fed", WriteSpec())
    spark.sql("INSERT INTO main.silver.fed VALUES (2, 20)")
    spark.sql("INSERT INTO silver.fed SELECT 3, 30")
    assert sorted(tuple(r) for r in spark.table("main.silver.fed").collect()) == [(1, 10), (2, 20), (3, 30)]
    merge = "MERGE INTO main.silver.fed t USING (SELECT 1 AS id, 11 AS amount) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *"
    if ON_SAIL:
        with pytest.raises(Exception, match=r"^MERGE INTO main\.silver\.fed: the table has the change data feed .* which Sail cannot write"):
            spark.sql(merge)
        assert RustTable(str(root / "silver" / "fed")).version() == 2
    else:
        spark.sql(merge)
        assert spark.table("silver.fed").where("id = 1").first().amount == 11


def test_the_catalogs_refusals_reach_the_user_in_its_own_words(spark, root: Path):
    """A reserved schema, another LOCATION, DROP SCHEMA over a table written by path: the catalog's sentence on both
    engines (Sail reports its catalog server's refusals as a bare HTTP status: the session's `sql` adds the server's)."""
    with pytest.raises(Exception, match="'landing'.* is reserved: the lakehouse root keeps catalogs.*landing"):
        spark.sql("CREATE SCHEMA main.landing")
    with pytest.raises(Exception, match="Table main.default.loc lives at .*/default/loc by the catalog's naming rule; LOCATION .*not supported"):
        spark.sql(f"CREATE TABLE main.default.loc (id INT) USING delta LOCATION '{root.parent / 'elsewhere'}'")
    spark.sql("CREATE SCHEMA main.silver")
    spark.range(1).write.format("delta").save(str(root / "silver" / "by_path"))
    with pytest.raises(Exception, match="Schema main.silver holds by_path, .*written by path, not created through .*catalog.*: DROP SCHEMA keeps it"):
        spark.sql("DROP SCHEMA main.silver CASCADE")
    assert RustTable(str(root / "silver" / "by_path")).version() == 0 and not (root / "default" / "loc").exists()


def test_show_tables_show_schemas_and_describe_history_by_name_answer_as_on_the_jvm(spark, root: Path):
    """Sail's own SHOW answers name their columns and schemas otherwise (`database` = `main.silver`): its session
    reshapes them to the JVM's (catalog/sail_statements.py), so code reading `row.namespace` runs on both."""
    spark.sql("CREATE TABLE main.silver.hist (id INT)")
    spark.sql("INSERT INTO silver.hist VALUES (1)")
    tables = spark.sql("SHOW TABLES IN main.silver")
    assert tables.columns == ["namespace", "tableName", "isTemporary"]
    assert [(r.namespace, r.tableName, r.isTemporary) for r in tables.collect()] == [("silver", "hist", False)]
    schemas = spark.sql("SHOW SCHEMAS")
    assert schemas.columns == ["namespace"] and sorted(r.namespace for r in schemas.collect()) == ["default", "silver"]
    assert [r["version"] for r in spark.sql("DESCRIBE HISTORY main.silver.hist").collect()] == [1, 0]
