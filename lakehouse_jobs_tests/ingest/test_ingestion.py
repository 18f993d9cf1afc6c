"""Exactly-once incremental ingestion into bronze: reruns, crashes, races, schema modes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.ingest import ingest as ingestion
from lakehouse_jobs.lib.ingest.ingest import ingest, ingested_files, manifest_cache
from lakehouse_jobs.lib.ingest.manifest import read_cache
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.delta_io import read_delta

from .helpers import batch_mode, quarantined, rows, write_csv

SPEC = IngestSpec(source="src", table="events", format="csv", columns=["id", "name"])


def _land(lakehouse, name: str, n: int, start: int = 0) -> Path:
    return write_csv(lakehouse.landing_path("src") / name, ["id", "name"], [[str(i), f"n{i}"] for i in range(start, start + n)])


def _ids(spark, lakehouse) -> list[str]:
    return sorted(r["id"] for r in read_delta(spark, lakehouse.table_path("bronze", "events")).select("id").collect())


def test_ingests_only_new_files_and_a_rerun_adds_nothing(spark, lakehouse):
    _land(lakehouse, "a.csv", 3)
    first = ingest(spark, lakehouse, SPEC)
    assert (first.batch, first.files, first.rows_ingested) == (1, ["a.csv"], 3)
    again = ingest(spark, lakehouse, SPEC)
    assert again.batch is None and again.files_already_ingested == 1
    _land(lakehouse, "sub/b.csv", 2, start=3)
    second = ingest(spark, lakehouse, SPEC)
    assert (second.batch, second.files, second.rows_ingested) == (2, ["sub/b.csv"], 2)
    assert _ids(spark, lakehouse) == sorted(str(i) for i in range(5))
    df = read_delta(spark, lakehouse.table_path("bronze", "events"))
    assert {"_rescued_data", "_source_file", "_ingested_at"} <= set(df.columns)


def test_rerunning_a_finished_batch_with_its_file_list_duplicates_nothing(spark, lakehouse):
    path = _land(lakehouse, "a.csv", 4)
    ingest(spark, lakehouse, SPEC, [str(path)])
    replay = ingest(spark, lakehouse, SPEC, [str(path)])  # e.g. the run re-executed from the UI
    assert replay.batch is None and replay.files_already_ingested == 1
    assert _ids(spark, lakehouse) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("single_pass", [False, True], ids=["counted-before-commit", "counted-by-the-write"])
def test_a_crash_between_data_commit_and_manifest_update_loses_and_duplicates_nothing(spark, lakehouse, monkeypatch, single_pass):
    _land(lakehouse, "a.csv", 3)
    (lakehouse.landing_path("src") / "bad.csv").write_text("id,name\n1,2,3,4\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("process killed right after the Delta commit")

    monkeypatch.setattr(ingestion, "after_commit", crash)
    monkeypatch.setattr(ingestion, "append_rejected", crash)
    with pytest.raises(KeyboardInterrupt), batch_mode(single_pass):
        ingest(spark, lakehouse, SPEC)
    assert read_cache(manifest_cache(lakehouse, SPEC)) is None  # the manifest cache never saw batch 1
    assert rows(spark, lakehouse, "bronze", "events") == 3 and quarantined(spark, lakehouse, "bronze.events") == 0
    monkeypatch.undo()
    _land(lakehouse, "b.csv", 2, start=3)
    result = ingest(spark, lakehouse, SPEC)  # the relaunched run
    assert result.batch == 2 and result.files == ["b.csv"]
    assert _ids(spark, lakehouse) == sorted(str(i) for i in range(5))
    assert quarantined(spark, lakehouse, "bronze.events") == 1  # batch 1's refused line, recovered once
    ingest(spark, lakehouse, SPEC)
    assert quarantined(spark, lakehouse, "bronze.events") == 1
    assert sorted(read_cache(manifest_cache(lakehouse, SPEC)).files) == ["a.csv", "b.csv", "bad.csv"]


def test_a_big_batch_is_read_once_and_a_clean_one_is_settled_for_good(spark, lakehouse, monkeypatch):
    """One pass: the refused line is found after the write; a batch refusing nothing still marks the
    quarantine, so later runs never parse its files again to find out."""
    from lakehouse_jobs.lib.ingest import batch as ingest_batch
    from lakehouse_jobs.lib.tables.quarantine import quarantined_version, read_quarantine

    _land(lakehouse, "a.csv", 3)
    (lakehouse.landing_path("src") / "bad.csv").write_text("id,name\n1,2,3,4\n9,z\n", encoding="utf-8")
    with batch_mode(True):
        first = ingest(spark, lakehouse, SPEC)
        assert (first.rows_ingested, first.records_quarantined) == (4, 1)
        _land(lakehouse, "b.csv", 2, start=3)
        second = ingest(spark, lakehouse, SPEC)
    assert (second.batch, second.records_quarantined) == (2, 0)
    assert quarantined_version(lakehouse, SPEC.app_id) == 2 and quarantined(spark, lakehouse, "bronze.events") == 1
    (line,) = [(r["line"], r["raw"]) for r in read_quarantine(spark, lakehouse, "bronze.events").collect()]
    assert line == (2, "1,2,3,4")

    def parse(*args, **kwargs):
        raise AssertionError("a settled batch was parsed again")

    monkeypatch.setattr(ingest_batch, "read_batch", parse)
    assert ingest(spark, lakehouse, SPEC).files_already_ingested == 3


def test_a_big_csv_batch_reads_its_parse_again_only_when_rows_fall_short_of_lines(spark, lakehouse, monkeypatch):
    """One pass, then a line count decides: all lines loaded = nothing refused (no second read); fewer rows
    than lines (a refused record, a blank line, a quoted line break) = read again, and only the refused
    records are quarantined."""
    from lakehouse_jobs.lib.ingest import batch as ingest_batch
    from lakehouse_jobs.lib.tables.quarantine import read_quarantine

    folder = lakehouse.landing_path("src")
    _land(lakehouse, "a.csv", 3)
    second_reads = []
    numbered = ingest_batch._numbered
    monkeypatch.setattr(ingest_batch, "_numbered", lambda refused: second_reads.append(len(refused)) or numbered(refused))
    with batch_mode(True):
        assert (ingest(spark, lakehouse, SPEC).rows_ingested, second_reads) == (3, [])
        (folder / "b.csv").write_bytes(b'id,name\r\n10,"two\r\nlines"\r\n\r\n11,y\r\n')
        result = ingest(spark, lakehouse, SPEC)
        assert (result.rows_ingested, result.records_quarantined, second_reads) == (2, 0, [0])
        (folder / "c.csv").write_text("id,name\n20,x\n1,2,3,4\n\n21,y", encoding="utf-8")
        (folder / "d.csv").write_bytes(b"id,name\r22,z\r")  # old Mac line ends
        result = ingest(spark, lakehouse, SPEC)
    assert (result.rows_ingested, result.records_quarantined, second_reads) == (3, 1, [0, 1])
    assert sorted(_ids(spark, lakehouse)) == sorted(["0", "1", "2", "10", "11", "20", "21", "22"])
    assert [(r["line"], r["raw"]) for r in read_quarantine(spark, lakehouse, "bronze.events").collect()] == [(3, "1,2,3,4")]


def test_a_big_json_batch_whose_write_reports_no_metrics_reads_its_refused_records_again(spark, lakehouse, monkeypatch):
    """JSON refused records ride along the write (an Observation); a runtime that reports none loses none."""
    from lakehouse_jobs.lib.tables import observation
    from lakehouse_jobs.lib.tables.quarantine import read_quarantine

    monkeypatch.setattr(observation, "observed_metrics", lambda _: None)
    (lakehouse.landing_path("src")).mkdir(parents=True)
    (lakehouse.landing_path("src") / "a.jsonl").write_text('{"id": "1"}\n\nnot json\n{"id": "2"}\n', encoding="utf-8")
    with batch_mode(True):
        result = ingest(spark, lakehouse, IngestSpec(source="src", table="events", format="json", columns=["id", "name"]))
    assert (result.rows_ingested, result.records_quarantined) == (2, 1)
    assert [(r["line"], r["raw"]) for r in read_quarantine(spark, lakehouse, "bronze.events").collect()] == [(3, "not json")]


def test_a_stale_manifest_cache_is_caught_up_from_the_delta_log(spark, lakehouse):
    _land(lakehouse, "a.csv", 2)
    ingest(spark, lakehouse, SPEC)
    cache = manifest_cache(lakehouse, SPEC)
    stale = cache.read_text()
    _land(lakehouse, "b.csv", 2, start=2)
    ingest(spark, lakehouse, SPEC)
    cache.write_text(stale)  # a slower racing run overwrote the cache with an older state
    assert ingest(spark, lakehouse, SPEC).batch is None
    cache.unlink()  # or the cache was deleted
    assert ingest(spark, lakehouse, SPEC).batch is None
    assert _ids(spark, lakehouse) == ["0", "1", "2", "3"]


def test_two_racing_runs_on_the_same_files_ingest_them_once(spark, lakehouse):
    for i in range(4):
        _land(lakehouse, f"f{i}.csv", 5, start=i * 5)
    results, errors = [], []

    def run():
        try:
            results.append(ingest(spark, lakehouse, SPEC))
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _ids(spark, lakehouse) == sorted(str(i) for i in range(20))
    assert sum(len(r.files) for r in results) == 4


def test_a_rewritten_file_is_not_reingested(spark, lakehouse):
    path = _land(lakehouse, "a.csv", 2)
    ingest(spark, lakehouse, SPEC)
    _land(lakehouse, "a.csv", 5, start=10)
    os.utime(path, None)
    assert ingest(spark, lakehouse, SPEC).batch is None
    assert _ids(spark, lakehouse) == ["0", "1"]


def test_a_catching_up_batch_takes_what_landed_meanwhile_and_the_later_batch_finds_it_done(spark, lakehouse, tmp_path):
    """Arrival runs coalesce: the run of a.csv, starting late, also ingests b.csv (settled, not ingested),
    but not a file still being written; b.csv's own run then ingests nothing. Without catch_up: exactly the batch."""
    a, b = _land(lakehouse, "a.csv", 2), _land(lakehouse, "b.csv", 3, start=2)
    outside = write_csv(tmp_path / "elsewhere.csv", ["id", "name"], [["9", "x"]])
    done = ingested_files(lakehouse, SPEC)  # what a coalescing sensor reads (no Spark)
    assert done() == set()
    exact = ingest(spark, lakehouse, SPEC, [str(a)])
    assert exact.files == ["a.csv"] and _ids(spark, lakehouse) == ["0", "1"]
    assert done() == {"a.csv"}
    c = _land(lakehouse, "c.csv", 1, start=5)
    late = ingest(spark, lakehouse, SPEC, [str(c), str(outside)], catch_up=True)
    assert (late.files, late.rows_ingested) == (["b.csv", "c.csv"], 4)
    assert [r.name for r in late.refused] == [str(outside)]  # a refused batch name stays refused
    assert ingest(spark, lakehouse, SPEC, [str(b)], catch_up=True).batch is None  # b's own run: already done
    _land(lakehouse, "d.csv", 1, start=6)
    settling = IngestSpec(source="src", table="events", columns=["id", "name"], wait_after_last_change_seconds=3600)
    assert ingest(spark, lakehouse, settling, [str(c)], catch_up=True).files_not_settled == 1  # d.csv: still being written
    assert _ids(spark, lakehouse) == [str(i) for i in range(6)]
    assert {"a.csv", "b.csv", "c.csv"} <= done() and "d.csv" not in done()


def test_files_still_being_written_wait_for_the_next_run(spark, lakehouse):
    _land(lakehouse, "a.csv", 2)
    spec = IngestSpec(source="src", table="events", columns=["id", "name"], wait_after_last_change_seconds=3600)
    assert ingest(spark, lakehouse, spec).files_not_settled == 1
    assert rows(spark, lakehouse, "bronze", "events") == 0


def test_files_outside_the_landing_folder_are_refused_not_read(spark, lakehouse, tmp_path):
    """A run config naming a file elsewhere (or `..` out of the folder): skipped with its reason, the rest ingests."""
    outside = write_csv(tmp_path / "elsewhere.csv", ["id", "name"], [["1", "x"]])
    _land(lakehouse, "a.csv", 2, start=5)
    escape = str(lakehouse.landing_path("src") / ".." / ".." / ".." / "elsewhere.csv")
    result = ingest(spark, lakehouse, SPEC, [str(outside), escape, "a.csv"])
    assert result.rows_ingested == 2 and [r.name for r in result.refused] == [str(outside)]
    assert "is not inside the landing folder" in result.refused[0].reason
    assert _ids(spark, lakehouse) == ["5", "6"] and quarantined(spark, lakehouse, "bronze.events") == 1


def test_rescue_mode_keeps_unknown_fields_in_rescued_data(spark, lakehouse):
    write_csv(lakehouse.landing_path("src") / "a.csv", ["id", "name", "extra"], [["1", "x", "e1"]])
    ingest(spark, lakehouse, SPEC)
    row = read_delta(spark, lakehouse.table_path("bronze", "events")).first()
    assert (row["id"], row["name"], json.loads(row["_rescued_data"])) == ("1", "x", {"extra": "e1"})


def test_rescue_mode_rescues_values_that_do_not_fit_a_declared_type(spark, lakehouse):
    spec = IngestSpec(source="src", table="events", columns={"id": "int", "name": "string"})
    write_csv(lakehouse.landing_path("src") / "a.csv", ["id", "name"], [["1", "x"], ["two", "y"]])
    ingest(spark, lakehouse, spec)
    got = {r["name"]: (r["id"], r["_rescued_data"]) for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect()}
    assert got["x"] == (1, None)
    assert got["y"][0] is None and json.loads(got["y"][1]) == {"id": "two"}


def test_rescue_mode_finds_unknown_fields_in_records_that_lack_a_known_one(spark, lakehouse):
    """The cheap "anything to rescue?" test counts keys: a missing known field must not hide an extra one."""
    spec = IngestSpec(source="src", table="events", format="json", columns=["id", "name", "page"])
    folder = lakehouse.landing_path("src")
    folder.mkdir(parents=True)
    lines = ['{"id": "1", "name": "x", "page": "/"}', '{"id": "2", "extra": "e2"}', '{"id": "3", "name": "z", "page": "/", "gone": null}']
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(spark, lakehouse, spec)
    got = {r["id"]: r["_rescued_data"] for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect()}
    assert {k: v and json.loads(v) for k, v in got.items()} == {"1": None, "2": {"extra": "e2"}, "3": None}


@pytest.mark.parametrize("single_pass", [False, True])
def test_a_column_only_some_files_of_a_batch_carry_is_rescued_for_their_rows_only(spark, lakehouse, single_pass):
    """CSV headers say up front which fields a batch can carry; a file without extras rescues nothing."""
    write_csv(lakehouse.landing_path("src") / "a.csv", ["id", "name"], [["1", "x"]])
    write_csv(lakehouse.landing_path("src") / "b.csv", ["name", "extra", "id"], [["y", "e2", "2"], ["z", "", "3"]])
    with batch_mode(single_pass):
        ingest(spark, lakehouse, SPEC)
    got = {
        r["id"]: (r["name"], r["_rescued_data"] and json.loads(r["_rescued_data"]))
        for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect()
    }
    assert got == {"1": ("x", None), "2": ("y", {"extra": "e2"}), "3": ("z", None)}


@pytest.mark.parametrize("single_pass", [False, True])
def test_columns_named_like_the_parsers_own_fields_land_intact(spark, lakehouse, single_pass):
    """The parse carries a record's raw text and refusal reason next to the data: a column called
    `_raw` or `_bad` must neither clash with them nor be taken for them."""
    spec = IngestSpec(source="src", table="events", columns=["id", "_raw", "_bad"])
    (lakehouse.landing_path("src")).mkdir(parents=True)
    (lakehouse.landing_path("src") / "a.csv").write_text("id,_raw,_bad\n1,r1,b1\n2,r2\n3,,\n", encoding="utf-8")
    with batch_mode(single_pass):
        result = ingest(spark, lakehouse, spec)
    got = sorted((r["id"], r["_raw"], r["_bad"]) for r in read_delta(spark, lakehouse.table_path("bronze", "events")).collect())
    assert got == [("1", "r1", "b1"), ("3", None, None)]
    assert result.records_quarantined == 1 and quarantined(spark, lakehouse, "bronze.events") == 1


def test_add_new_columns_mode_infers_and_evolves_the_schema(spark, lakehouse):
    spec = IngestSpec(source="src", table="events", format="json")
    folder = lakehouse.landing_path("src")
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"id": 1, "name": "x"}\n', encoding="utf-8")
    ingest(spark, lakehouse, spec)
    (folder / "b.jsonl").write_text('{"id": 2, "name": "y", "country": "DE", "bad name": 1}\n', encoding="utf-8")
    result = ingest(spark, lakehouse, spec)
    assert result.new_columns == ["country"]
    df = read_delta(spark, lakehouse.table_path("bronze", "events"))
    got = {r["id"]: (r["country"], r["_rescued_data"]) for r in df.collect()}
    assert got == {"1": (None, None), "2": ("DE", '{"bad name":"1"}')}


def test_fail_on_new_columns_fails_the_run_and_commits_nothing(spark, lakehouse):
    spec = IngestSpec(source="src", table="events", columns=["id", "name"], schema_mode="failOnNewColumns")
    write_csv(lakehouse.landing_path("src") / "a.csv", ["id", "name", "extra"], [["1", "x", "e"]])
    with pytest.raises(LakehouseError, match=r"new columns \['extra'\]"):
        ingest(spark, lakehouse, spec)
    assert rows(spark, lakehouse, "bronze", "events") == 0


def test_none_mode_ignores_unknown_fields(spark, lakehouse):
    spec = IngestSpec(source="src", table="events", columns=["id", "name"], schema_mode="none")
    write_csv(lakehouse.landing_path("src") / "a.csv", ["id", "name", "extra"], [["1", "x", "e"]])
    ingest(spark, lakehouse, spec)
    row = read_delta(spark, lakehouse.table_path("bronze", "events")).first()
    assert (row["id"], row["_rescued_data"]) == ("1", None) and "extra" not in row.asDict()


def test_bad_specs_name_the_field():
    with pytest.raises(SpecError, match="schema_mode"):
        IngestSpec(source="src", table="t", schema_mode="evolve")
    with pytest.raises(SpecError, match="format"):
        IngestSpec(source="src", table="t", format="xml")
    with pytest.raises(SpecError, match="columns"):
        IngestSpec(source="src", table="t", columns=["ok", "not ok"])
