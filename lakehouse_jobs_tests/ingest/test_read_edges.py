"""Records at the edges of the readers: mixed line endings, huge JSON strings, text after a JSON object."""

from __future__ import annotations

import json

import pytest

from lakehouse_jobs.lib.ingest import json_lines
from lakehouse_jobs.lib.ingest import read as ingest_read
from lakehouse_jobs.lib.ingest.ingest import ingest
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.delta_io import read_delta
from lakehouse_jobs.lib.tables.quarantine import read_quarantine
from lakehouse_jobs_tests.engines import ON_SAIL

from .helpers import batch_mode

CSV = IngestSpec(source="src", table="raw", columns=["id", "name"])
JSON = IngestSpec(source="src", table="rawj", format="json", columns=["id", "name"])


def _bronze(spark, lakehouse, table: str) -> list[tuple]:
    return sorted((r["id"], r["name"]) for r in read_delta(spark, lakehouse.table_path("bronze", table)).collect())


def _refused(spark, lakehouse, table: str) -> list[tuple]:
    return sorted((r["line"], r["reason"]) for r in read_quarantine(spark, lakehouse, f"bronze.{table}").collect())


@pytest.mark.parametrize("single_pass", [False, True], ids=["counted-before-commit", "counted-by-the-write"])
def test_each_csv_line_is_one_record_whatever_its_line_ending(spark, lakehouse, single_pass):
    """The generator writes CRLF, a later append writes LF (and the reverse); quoted line breaks stay inside their field."""
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    (landing / "crlf_then_lf.csv").write_bytes(b"id,name\r\n1,a\r\n\r\n2,b\n3,c\r\n4,\n5,e")  # a blank line too
    (landing / "lf_then_crlf.csv").write_bytes(b"id,name\n6,f\n7,g\r\n8,\r\n")
    (landing / "excel.csv").write_bytes(b'id,name\r\n9,"two\nlines"\r\n10,"q"\r\n')
    with batch_mode(single_pass):
        result = ingest(spark, lakehouse, CSV)
    assert _refused(spark, lakehouse, "raw") == []
    expected = [("1", "a"), ("10", "q"), ("2", "b"), ("3", "c"), ("4", None), ("5", "e"), ("6", "f"), ("7", "g"), ("8", None), ("9", "two\nlines")]
    assert _bronze(spark, lakehouse, "raw") == expected
    assert result.rows_ingested == 10 and result.records_quarantined == 0


def test_an_unescaped_quote_is_read_as_the_jvm_reads_it_or_refused_with_its_reason_on_sail(spark, lakehouse):
    """`"x"y` and `"x" `: the JVM keeps the first's raw text and drops the blank after the second's quote; pyarrow
    (Sail) would read `xy` and `x `, so there the file is refused whole, saying why; a clean file beside it loads."""
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    (landing / "odd.csv").write_bytes(b'id,name\n1,"x"y\n2,"x" \n3,"p""q"\n')
    (landing / "clean.csv").write_bytes(b'id,name\n4,"a,b"\n')
    ingest(spark, lakehouse, CSV)
    if not ON_SAIL:
        assert _bronze(spark, lakehouse, "raw") == [("1", '"x"y'), ("2", "x"), ("3", 'p"q'), ("4", "a,b")]
        assert _refused(spark, lakehouse, "raw") == []
        return
    assert _bronze(spark, lakehouse, "raw") == [("4", "a,b")]
    reason = "a quoted field followed by other text at line 2 (an unescaped quote), which Sail's reader and the JVM's read differently"
    refused = _refused(spark, lakehouse, "raw")
    assert [line for line, _ in refused] == [2, 3, 4] and all(why.startswith(reason) for _, why in refused)


def test_a_json_line_with_a_25_mb_string_is_ingested(spark, lakehouse):
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    big = "x" * (25 << 20)
    (landing / "big.jsonl").write_text(json.dumps({"id": "1", "name": big}) + '\n{"id": "2", "name": "small"}\n', encoding="utf-8")
    result = ingest(spark, lakehouse, JSON)
    assert result.rows_ingested == 2 and result.records_quarantined == 0
    lengths = {r["id"]: r["n"] for r in read_delta(spark, lakehouse.table_path("bronze", "rawj")).selectExpr("id", "length(name) AS n").collect()}
    assert lengths == {"1": 25 << 20, "2": 5}


def test_a_json_string_over_the_limit_is_quarantined_with_the_limit_as_reason(spark, lakehouse, monkeypatch):
    monkeypatch.setattr(ingest_read, "MAX_JSON_STRING_CHARS", 1000)
    monkeypatch.setattr(json_lines, "MAX_JSON_STRING_CHARS", 1000)
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    (landing / "a.jsonl").write_text(json.dumps({"id": "1", "name": "y" * 2000}) + '\n{"id": "2", "name": "ok"}\n{"id": \n', encoding="utf-8")
    ingest(spark, lakehouse, JSON)
    assert _bronze(spark, lakehouse, "rawj") == [("2", "ok")]
    (over, malformed) = _refused(spark, lakehouse, "rawj")
    assert over[0] == 1 and "limit of 1,000 characters" in over[1]
    assert malformed == (3, "malformed JSON record (not a JSON object)")


@pytest.mark.parametrize("single_pass", [False, True], ids=["counted-before-commit", "counted-by-the-write"])
def test_text_after_a_json_object_on_its_line_is_malformed(spark, lakehouse, single_pass):
    landing = lakehouse.landing_path("src")
    landing.mkdir(parents=True)
    lines = [
        '{"id": "1", "name": "a"} garbage',
        '{"id": "2", "name": "b"} {"id": "3", "name": "c"}',
        '{"id": "4", "name": "d"}]',
        '{"id": "5", "name": "e"}, 7',
        '{"id": "6", "name": "f"}}',
        '  {"id": "7", "name": {"nested": [1, "]"]}}  ',
    ]
    (landing / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with batch_mode(single_pass):
        result = ingest(spark, lakehouse, JSON)
    assert _bronze(spark, lakehouse, "rawj") == [("7", '{"nested":[1,"]"]}')]
    reason = "malformed JSON record (text after the JSON object)"
    assert _refused(spark, lakehouse, "rawj") == [(n, reason) for n in range(1, 6)]
    assert result.records_quarantined == 5
