"""apply_changes: out-of-order and duplicate events resolved by sequence, deletes, SCD1 and SCD2."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.tables.cdc import END, START, apply_changes
from lakehouse_jobs.lib.tables.delta_io import read_delta

SCHEMA = "id int, name string, seq int, op string"
KW = dict(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'DELETE'", except_column_list=["op"])


def _apply(spark, path, events, scd):
    return apply_changes(spark, spark.createDataFrame(events, SCHEMA), path, stored_as_scd_type=scd, **KW)


def _rows(spark, path, *columns):
    return sorted(tuple(r[c] for c in columns) for r in read_delta(spark, path).collect())


def test_scd1_keeps_the_highest_sequence_even_across_late_and_duplicate_batches(spark, tmp_path):
    path = str(tmp_path / "current")
    _apply(spark, path, [(1, "a2", 2, "UPSERT"), (1, "a1", 1, "UPSERT"), (2, "b1", 1, "UPSERT"), (2, "b1", 1, "UPSERT"), (3, "c1", 1, "UPSERT")], 1)
    assert _rows(spark, path, "id", "name", "seq") == [(1, "a2", 2), (2, "b1", 1), (3, "c1", 1)]
    # a later batch: a late (older) update must not win, a newer one does, a delete removes
    _apply(spark, path, [(1, "a0", 0, "UPSERT"), (2, "b2", 5, "UPSERT"), (3, None, 4, "DELETE"), (4, "d1", 1, "UPSERT")], 1)
    assert _rows(spark, path, "id", "name", "seq") == [(1, "a2", 2), (2, "b2", 5), (4, "d1", 1)]
    assert "op" not in read_delta(spark, path).columns
    _apply(spark, path, [(2, "b2", 5, "UPSERT")], 1)  # re-delivered: nothing changes
    assert _rows(spark, path, "id", "name", "seq") == [(1, "a2", 2), (2, "b2", 5), (4, "d1", 1)]


def test_scd1_insert_then_delete_in_one_batch_leaves_nothing(spark, tmp_path):
    path = str(tmp_path / "current")
    _apply(spark, path, [(9, "x", 1, "UPSERT")], 1)
    _apply(spark, path, [(9, None, 3, "DELETE"), (9, "y", 2, "UPSERT"), (8, "z", 1, "UPSERT"), (8, None, 2, "DELETE")], 1)
    assert _rows(spark, path, "id") == []


def test_scd2_keeps_every_version_with_start_and_end(spark, tmp_path):
    path = str(tmp_path / "history")
    _apply(spark, path, [(1, "a1", 1, "UPSERT"), (1, "a3", 3, "UPSERT"), (2, "b1", 1, "UPSERT"), (2, "b1", 1, "UPSERT")], 2)
    assert _rows(spark, path, "id", "name", START, END) == [(1, "a1", 1, 3), (1, "a3", 3, None), (2, "b1", 1, None)]
    # late event between two versions, a delete closing a version, a re-delivery
    _apply(spark, path, [(1, "a2", 2, "UPSERT"), (2, None, 4, "DELETE"), (1, "a3", 3, "UPSERT")], 2)
    assert _rows(spark, path, "id", "name", START, END) == [(1, "a1", 1, 2), (1, "a2", 2, 3), (1, "a3", 3, None), (2, "b1", 1, 4)]
    # the delete survives the next batch (it is read back from the closed version)
    _apply(spark, path, [(1, "a5", 5, "UPSERT")], 2)
    assert _rows(spark, path, "id", "name", START, END) == [(1, "a1", 1, 2), (1, "a2", 2, 3), (1, "a3", 3, 5), (1, "a5", 5, None), (2, "b1", 1, 4)]


def test_bad_arguments_name_the_field(spark, tmp_path):
    df = spark.createDataFrame([(1, "a", 1, "X")], SCHEMA)
    with pytest.raises(SpecError, match="sequence_by"):
        apply_changes(spark, df, str(tmp_path / "t"), keys=["id"], sequence_by="version")
    with pytest.raises(SpecError, match="stored_as_scd_type"):
        apply_changes(spark, df, str(tmp_path / "t"), keys=["id"], sequence_by="seq", stored_as_scd_type=3)


def test_the_commit_returned_is_the_merge_with_its_metrics(spark, tmp_path):
    """What the asset reports (describe_changes): the MERGE's own commit and metrics, on either engine (Sail's
    MERGE carries no userMetadata: it is found as the MERGE after the version the apply started from)."""
    path = str(tmp_path / "current")
    _apply(spark, path, [(1, "a1", 1, "UPSERT")], 1)
    commit = _apply(spark, path, [(1, "a2", 2, "UPSERT"), (2, "b1", 1, "UPSERT")], 1)
    assert (commit.committed, commit.operation, commit.version) == (True, "MERGE", 1)
    assert (commit.metrics["numTargetRowsUpdated"], commit.metrics["numTargetRowsInserted"]) == (1, 1)
