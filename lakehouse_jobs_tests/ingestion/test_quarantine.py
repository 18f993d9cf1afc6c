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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse_jobs.lib import LakehouseResource
from lakehouse_jobs.lib.file_arrival import file_arrival_sensor
from lakehouse_jobs.lib.ingestion import IngestSpec, ingest
from lakehouse_jobs.lib.quarantine import read_quarantine

from .helpers import quarantined, rows

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
    fmt = draw(st.sampled_from(["csv", "json"]))
    return fmt, draw(st.lists(landing_file(fmt), min_size=1, max_size=5))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=landing())
def test_every_input_record_ends_in_bronze_or_quarantine(spark, case):
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
