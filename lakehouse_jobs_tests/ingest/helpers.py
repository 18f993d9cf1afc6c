"""Small helpers shared by the ingestion tests: write landing files, count table rows."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from pathlib import Path

from lakehouse_jobs.lib.tables.delta_io import is_delta_table, read_delta
from lakehouse_jobs.lib.tables.quarantine import read_quarantine


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def rows(spark, lakehouse, layer: str, table: str) -> int:
    path = lakehouse.table_path(layer, table)
    return read_delta(spark, path).count() if is_delta_table(path) else 0


def quarantined(spark, lakehouse, source_table: str) -> int:
    return read_quarantine(spark, lakehouse, source_table).count()


@contextmanager
def batch_mode(single_pass: bool):
    """Force ingestion's one-pass (observed) or two-pass (cached) batch mode, whatever the batch size."""
    from lakehouse_jobs.lib.ingest import batch as ingest_batch

    saved = ingest_batch.SINGLE_PASS_MIN_BYTES
    ingest_batch.SINGLE_PASS_MIN_BYTES = 0 if single_pass else 1 << 62
    try:
        yield
    finally:
        ingest_batch.SINGLE_PASS_MIN_BYTES = saved
