"""Malformed lines and unreadable files never crash the sensor or the run, and lose no record.

Hypothesis builds landing folders mixing good files with broken lines (wrong field
counts, truncated or non-object JSON, duplicate keys, wrong encoding) and broken
files (empty, binary, truncated gzip, wrong delimiter). After one sensor tick and one
ingestion: every input record is in bronze or in the quarantine, exactly once.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse_jobs.lib import LakehouseResource
from lakehouse_jobs.lib.ingest.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingest.ingest import ingest
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.quarantine import read_quarantine
from lakehouse_jobs_tests.engines import ON_SAIL

from .helpers import batch_mode, quarantined, rows

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ", min_size=0, max_size=6).map(lambda s: s.strip() or "v")
CSV_LINE = st.one_of(
    st.tuples(WORD, WORD).map(lambda t: (",".join(t), True)),  # good
    WORD.map(lambda w: (w, False)),  # one field
    st.tuples(WORD, WORD, WORD).map(lambda t: (",".join(t), False)),  # three fields
)
JSON_LINE = st.one_of(
    st.tuples(WORD, WORD).map(lambda t: json.dumps({"id": t[0], "name": t[1]})),
    st.tuples(WORD, WORD).map(lambda t: json.dumps({"id": t[0], "extra": {"nested": t[1]}})),
    st.tuples(WORD, WORD).map(lambda t: json.dumps({"id": t[0], "name": t[1]})[: len(t[0]) + 4]),  # truncated
    WORD.map(lambda w: f"not json {w}"),
    st.sampled_from(["[1, 2]", "3", "null", '"text"', "{}", '{"id": "1", "id": "2"}']),
)


@st.composite
def landing_file(draw, fmt: str) -> tuple[str, bytes, int]:
    """(suffix, content, number of input records it holds)."""
    kind = draw(st.sampled_from(["lines", "lines", "lines", "empty", "binary", "gzip_truncated", "latin1", "wrong_delimiter"]))
    if kind == "empty":
        return f".{fmt}", b"", 1
    if kind == "binary":
        return f".{fmt}", b"\x00\x01\x02PK\x03\x04" + draw(st.binary(max_size=30)), 1
    if fmt == "csv":
        lines = [line for line, _ in draw(st.lists(CSV_LINE, max_size=8))]
        text = "id,name\n" + "".join(f"{line}\n" for line in lines)
    else:
        lines = draw(st.lists(JSON_LINE, max_size=8))
        text = "".join(f"{line}\n" for line in lines)
    records = len(lines)
    if not text:
        return f".{fmt}", b"", 1  # no line at all: an empty file, refused as one record
    if kind == "gzip_truncated":
        packed = gzip.compress(text.encode())
        return f".{fmt}.gz", packed[: len(packed) // 2], 1
    if kind == "latin1":
        return f".{fmt}", text.replace("v", "é").encode("latin-1"), records
    if kind == "wrong_delimiter" and fmt == "csv":
        return ".csv", text.replace(",", ";").encode(), max(records, 1)
    return f".{fmt}", text.encode(), records


@st.composite
def landing(draw) -> tuple[str, list[tuple[str, bytes, int]]]:
    fmt = draw(st.sampled_from(["csv"] if ON_SAIL else ["csv", "json"]))  # JSON ingestion runs on the JVM only
    return fmt, draw(st.lists(landing_file(fmt), min_size=1, max_size=5))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=landing(), single_pass=st.booleans())
def test_every_input_record_ends_in_bronze_or_quarantine(spark, case, single_pass):
    """In both batch modes: refused records counted before the commit (cached parse) or by the write (one pass)."""
    fmt, files = case
    root = Path(tempfile.mkdtemp(prefix="lake_"))
    try:
        lakehouse = LakehouseResource(root=str(root))
        folder = lakehouse.landing_path("src")
        folder.mkdir(parents=True)
        for index, (suffix, content, _) in enumerate(files):
            (folder / f"f{index}{suffix}").write_bytes(content)
        sensor = file_arrival_sensor(name="s", location=folder, job_name="ingest", run_config_for_files=lambda f, loc: {"files": f})
        with dg.instance_for_test() as instance:
            (request,) = sensor(dg.build_sensor_context(instance=instance)).run_requests
        assert len(request.run_config["files"]) == len(files)
        spec = IngestSpec(source="src", table="raw", format=fmt, columns=["id", "name"])
        with batch_mode(single_pass):
            result = ingest(spark, lakehouse, spec, request.run_config["files"])
        expected = sum(records for _, _, records in files)
        assert rows(spark, lakehouse, "bronze", "raw") + quarantined(spark, lakehouse, "bronze.raw") == expected
        assert result.rows_ingested + result.records_quarantined == expected
        refused = read_quarantine(spark, lakehouse, "bronze.raw").collect()
        assert all(r["file"] and r["reason"] and r["batch"] == 1 for r in refused)
        assert all(r["line"] is None or r["line"] >= 1 for r in refused)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_quarantine_rows_say_file_line_raw_text_and_reason(spark, lakehouse):
    folder = lakehouse.landing_path("src")
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,name\n1,x\n2,y,z\n3,w\n", encoding="utf-8")
    (folder / "b.csv").write_bytes(b"")
    ingest(spark, lakehouse, IngestSpec(source="src", table="raw", columns=["id", "name"]))
    refused = {Path(r["file"]).name: r for r in read_quarantine(spark, lakehouse, "bronze.raw").collect()}
    assert (refused["a.csv"]["line"], refused["a.csv"]["raw"], refused["a.csv"]["reason"]) == (3, "2,y,z", "malformed CSV record (expected 2 fields)")
    assert (refused["b.csv"]["line"], refused["b.csv"]["reason"]) == (None, "empty file")
    assert rows(spark, lakehouse, "bronze", "raw") == 2


@pytest.mark.parametrize("single_pass", [False, True])
def test_a_record_in_a_wrong_encoding_is_refused_with_that_reason(spark, lakehouse, single_pass):
    """Any field of a CSV record, or a JSON line, holding bytes that are not UTF-8 refuses that record only."""
    folder = lakehouse.landing_path("src")
    folder.mkdir(parents=True)
    (folder / "a.csv").write_bytes("id,name\n1,x\n2,caf\u00e9\n\u00e9,y\n5,z\n".encode("latin-1"))
    (folder / "b.jsonl").write_bytes('{"id": "3", "name": "ok"}\n{"id": "4", "name": "caf\u00e9"}\n'.encode("latin-1"))
    with batch_mode(single_pass):
        ingest(spark, lakehouse, IngestSpec(source="src", table="raw", columns=["id", "name"]))
        if not ON_SAIL:  # JSON ingestion runs on the JVM only
            ingest(spark, lakehouse, IngestSpec(source="src", table="rawj", format="json", columns=["id", "name"]))
    refused = sorted((Path(r["file"]).name, r["line"], r["reason"]) for r in read_quarantine(spark, lakehouse).collect())
    reason = "not valid UTF-8 text (wrong encoding?)"
    assert refused == [("a.csv", 3, reason), ("a.csv", 4, reason), *([] if ON_SAIL else [("b.jsonl", 2, reason)])]
    assert rows(spark, lakehouse, "bronze", "raw") == 2 and (ON_SAIL or rows(spark, lakehouse, "bronze", "rawj") == 1)


def test_a_batch_is_quarantined_once_and_spark_and_delta_rs_writers_share_the_table(spark, lakehouse):
    """Ingestion appends with delta-rs (no Spark job), expectations with Spark: one table, both readable."""
    from lakehouse_jobs.lib.tables.quarantine import Rejected, append_rejected, conform, quarantined_version, write_quarantine

    rows = [Rejected("/l/a.csv", 3, "2,y,z", "malformed"), Rejected("/l/b.csv", None, None, "empty file")]
    assert append_rejected(lakehouse, rows, "bronze.raw", 1, "run-1", app_id="app") is True
    assert append_rejected(lakehouse, rows, "bronze.raw", 1, "run-2", app_id="app") is False  # a retry of batch 1
    dropped = spark.createDataFrame([("/l/c.csv", "{}", "expectation failed: x", "x")], "file string, raw string, reason string, expectation string")
    write_quarantine(spark, conform(dropped, "silver.items", None, "run-3"), lakehouse)
    assert append_rejected(lakehouse, rows[:1], "bronze.raw", 2, "run-4", app_id="app") is True
    got = sorted(((r["source_table"], r["batch"], r["line"], r["reason"], r["run_id"]) for r in read_quarantine(spark, lakehouse).collect()), key=str)
    assert got == [
        ("bronze.raw", 1, 3, "malformed", "run-1"),
        ("bronze.raw", 1, None, "empty file", "run-1"),
        ("bronze.raw", 2, 3, "malformed", "run-4"),
        ("silver.items", None, None, "expectation failed: x", "run-3"),
    ]
    assert quarantined_version(lakehouse, "app") == 2
    assert read_quarantine(spark, lakehouse).schema["quarantined_at"].dataType.typeName() == "timestamp"


def test_a_writer_that_raced_for_the_same_batch_fails_its_commit_instead_of_duplicating(spark, lakehouse, monkeypatch):
    """The app-transaction check and the commit use one snapshot: a batch committed in between is a conflict."""
    import deltalake

    from lakehouse_jobs.lib.ingest import ingest as ingestion
    from lakehouse_jobs.lib.tables.quarantine import Rejected, append_rejected, quarantine_path

    row = [Rejected("/l/a.csv", 1, "x", "malformed")]
    append_rejected(lakehouse, row, "bronze.raw", 1, "run-0", app_id="other")  # the table exists at version 0
    real = deltalake.DeltaTable
    monkeypatch.setattr(deltalake, "DeltaTable", lambda path, **kw: real(path, version=0))  # our check saw version 0 ...
    append_rejected_by_winner = real(str(quarantine_path(lakehouse)))
    deltalake.write_deltalake(  # ... and the winner committed batch 1 right after
        append_rejected_by_winner, _arrow_rows(), mode="append",
        commit_properties=deltalake.CommitProperties(app_transactions=[deltalake.Transaction("app", 1)]),
    )  # fmt: skip
    with pytest.raises(Exception, match="CommitFailedError|Concurrent") as failure:
        append_rejected(lakehouse, row, "bronze.raw", 1, "run-1", app_id="app")
    assert ingestion._lost_race(failure.value)  # so _quarantine_once retries, and finds batch 1 there
    monkeypatch.undo()
    assert append_rejected(lakehouse, row, "bronze.raw", 1, "run-1", app_id="app") is False
    assert read_quarantine(spark, lakehouse, "bronze.raw").filter("run_id = 'run-1'").count() == 0


def _arrow_rows():
    import datetime

    import pyarrow as pa

    from lakehouse_jobs.lib.tables.quarantine import _arrow_schema

    values = {"source_table": ["bronze.raw"], "batch": [1], "file": ["/l/a.csv"], "line": [1], "raw": ["x"], "reason": ["malformed"],
              "expectation": [None], "run_id": ["winner"], "quarantined_at": [datetime.datetime.now(datetime.UTC)]}  # fmt: skip
    return pa.table(values, schema=_arrow_schema())
