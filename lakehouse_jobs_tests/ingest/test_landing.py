"""Landing files become bronze rows: all strings, lineage columns, nothing lost."""

from __future__ import annotations

from lakehouse_jobs.lib import read_landing
from lakehouse_jobs.lib.ingest.landing import CORRUPT, landing_files


def test_landing_files_skip_hidden_and_temporary_files(tmp_path):
    for name in ["a.csv", "sub/b.csv", ".hidden.csv", "_tmp/c.csv", "notes.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in landing_files(tmp_path, [".csv"])] == ["a.csv", "sub/b.csv"]
    assert landing_files(tmp_path / "missing", [".csv"]) == []


def test_csv_and_json_keep_raw_values_with_source_file(spark, tmp_path):
    (tmp_path / "o.csv").write_text("id,amount\n1,2.50\n2,abc\n")
    (tmp_path / "e.jsonl").write_text('{"id": 7, "kind": "view"}\n{"id": 8, "kind\n')
    orders = read_landing(spark, [tmp_path / "o.csv"], "csv", ["id", "amount"]).collect()
    assert [(r["id"], r["amount"]) for r in orders] == [("1", "2.50"), ("2", "abc")]
    assert all(r["_source_file"].endswith("o.csv") and r["_ingested_at"] for r in orders)
    events = read_landing(spark, [tmp_path / "e.jsonl"], "json", ["id", "kind"]).collect()
    assert events[0]["id"] == "7" and events[0][CORRUPT] is None
    assert events[1][CORRUPT] == '{"id": 8, "kind'


def test_no_files_gives_an_empty_table_with_the_schema(spark):
    df = read_landing(spark, [], "csv", ["id"])
    assert df.count() == 0 and df.columns == ["id", "_source_file", "_ingested_at"]
