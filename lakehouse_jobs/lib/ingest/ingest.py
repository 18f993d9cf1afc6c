"""Auto Loader-style incremental ingestion: landing files -> a bronze Delta table, exactly once.

    orders = ingestion_asset(IngestSpec(source="orders", table="orders", format="csv", columns=ORDER_COLUMNS))

A run ingests the files it is given (a file-arrival sensor's batch, with `catch_up` also every
other settled file landed meanwhile) or, when run by hand, every file of `landing/<source>/`
not ingested yet. Guarantees:
- exactly once: the batch is appended with Delta's idempotent-write options
  (`txnAppId` = the table's ingestion app id, `txnVersion` = batch number; on Sail the
  same `txn` action through delta-rs: `commit.py`) and the
  batch's file list rides in the same commit (`ingest_manifest`); a retried,
  relaunched or racing run either finds its files already committed or loses the
  Delta commit race and starts over with what is still missing;
- every record ends in bronze or in the quarantine (`quarantine`), counted in the
  run's metadata; quarantine rows of a batch are written after its data commit,
  idempotently, and re-derived by the next run if a crash came in between;
- a path is ingested once: a file rewritten under the same name is not re-read;
- nothing outside the landing folder is read (`discovery.py`): an entry resolving outside
  it (a symbolic link, a path through a linked folder) is skipped, the rest of the batch
  ingests, and the batch records the entry with its reason (in its commit's manifest and
  as one quarantine row with no raw text), so it is reported once, not at every run.

Schema modes (Auto Loader's names): `addNewColumns` (default without declared
columns: new fields become new string columns), `rescue` (schema fixed, unknown
fields and type mismatches go to `_rescued_data` as JSON), `failOnNewColumns`
(the run fails, nothing is committed), `none` (unknown fields are ignored).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.ingest.batch import REFUSED_PENDING, prepare_batch
from lakehouse_jobs.lib.ingest.commit import commit_batch
from lakehouse_jobs.lib.ingest.discovery import Discovery, Refused, discover, resolve, scan
from lakehouse_jobs.lib.ingest.manifest import Manifest, commit_metadata, load_manifest, save_cache
from lakehouse_jobs.lib.ingest.spec import SUFFIXES, IngestSpec
from lakehouse_jobs.lib.tables.conflicts import backoff, classify
from lakehouse_jobs.lib.tables.quarantine import Rejected, append_rejected, quarantined_version

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAX_ATTEMPTS = 5


@dataclass
class IngestResult:
    batch: int | None = None
    delta_version: int | None = None
    files: list[str] = field(default_factory=list)
    rows_ingested: int = 0
    records_quarantined: int = 0
    files_already_ingested: int = 0
    files_not_settled: int = 0
    files_missing: int = 0
    new_columns: list[str] = field(default_factory=list)
    attempts: int = 0
    refused: list[Refused] = field(default_factory=list)  # entries this run met and did not read
    records_recovered: int = 0  # quarantine rows of earlier batches a crash had kept out, written by this run

    def metadata(self) -> dict[str, Any]:
        return {
            "ingest_batch": self.batch,
            "files_ingested": len(self.files),
            "rows_ingested": self.rows_ingested,
            "records_quarantined": self.records_quarantined,
            "files_already_ingested": self.files_already_ingested,
            "files_not_settled": self.files_not_settled,
            "files_missing": self.files_missing,
            "new_columns": self.new_columns,
            "files_refused": len(self.refused),
            "refused": [r.reason for r in self.refused],
            "records_recovered": self.records_recovered,
        }


def manifest_cache(lakehouse: Any, spec: IngestSpec) -> Path:
    return lakehouse.system_path("ingest", spec.layer, spec.table) / "manifest.json"


def _candidates(spec: IngestSpec, landing: Path, files: Sequence[str] | None, catch_up: bool) -> Discovery:
    """The run's files (`files`: a sensor's batch; None: the whole landing folder), resolved and confined.

    `catch_up`: the batch's names plus every name listed below the folder, resolved in one pass
    (a batch name refused stays refused)."""
    if files is not None and catch_up:
        files = [*(rel for rel, _ in scan(landing)), *files]
    return discover(landing, tuple(spec.suffixes or SUFFIXES[spec.format]), files)


def ingest(
    spark: SparkSession, lakehouse: Any, spec: IngestSpec, files: Sequence[str] | None = None, *, run_id: str | None = None, catch_up: bool = False
) -> IngestResult:
    """Ingest new landing files into `<layer>/<table>`; see the module docstring for the guarantees.

    `catch_up=True` with a batch: also every other settled file not ingested yet (Auto Loader's
    `availableNow`), so a run whose step starts late takes what landed meanwhile and the runs
    launched for those files find nothing left: a stream's arrival runs coalesce."""
    table = lakehouse.table_path(spec.layer, spec.table)
    landing = lakehouse.landing_path(spec.source)
    cache = manifest_cache(lakehouse, spec)
    result = IngestResult()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result.attempts = attempt
        manifest = load_manifest(table, cache, spec.app_id, landing)
        result.records_recovered += recover_quarantine(spark, lakehouse, spec, manifest, landing, run_id)
        todo, refused, result = _select(_candidates(spec, landing, files, catch_up), landing, manifest, spec, result)
        if not todo and not refused:
            save_cache(cache, manifest)
            return result
        batch = manifest.batch + 1
        tag = uuid.uuid4().hex
        prepared = prepare_batch(spark, spec, table, todo)
        prepared.rejected[:0] = [Rejected(r.path, None, None, r.reason) for r in refused]  # one row each, no raw text: never read
        entries = [(str(p.relative_to(landing)), *_stat(p)) for p in todo] + [(r.name, -1, -1) for r in refused]
        meta = commit_metadata(batch, tag, entries, prepared.refused_before_commit, [(r.name, r.reason) for r in refused])
        try:
            version, written = commit_batch(prepared.data, table, spec, batch, meta, tag, manifest.version)
            rejected = prepared.all_rejected(written) if version is not None else []
        except Exception as exc:
            if _lost_race(exc):
                time.sleep(backoff(attempt))  # jittered, so racing writers part
                continue  # a racing run committed first: start over with what is still missing
            raise
        finally:
            prepared.release()
        if version is None:
            continue  # our write was skipped: another run already committed batch `batch`
        if rejected or prepared.refused_before_commit == REFUSED_PENDING:  # a pending count is settled by a write, even an empty one
            _quarantine_once(lakehouse, spec, rejected, batch, run_id)
        result.batch, result.delta_version, result.new_columns = batch, version, prepared.new_columns
        result.files = [e[0] for e in entries[: len(todo)]]
        result.refused = refused
        result.records_quarantined = len(rejected)
        result.rows_ingested = written
        after_commit(cache, table, spec, landing)
        return result
    raise LakehouseError(f"{spec.source_table}: gave up after {MAX_ATTEMPTS} attempts; other runs kept committing the same files")


_RACE_MARKERS = (
    "DELTA_CONCURRENT", "ConcurrentAppend", "ConcurrentTransaction", "ConcurrentWrite", "DELTA_PROTOCOL_CHANGED", "DELTA_METADATA_CHANGED",
    "ProtocolChanged", "MetadataChanged", "CommitFailedError",  # the last: delta-rs (quarantine appends)
)  # fmt: skip


def _lost_race(exc: Exception) -> bool:
    if classify(exc) is not None:  # Delta's conflict classes (tables/conflicts.py)
        return True
    text = f"{type(exc).__name__} {str(exc)[:2000]}"
    return any(marker in text for marker in _RACE_MARKERS)


def after_commit(cache: Path, table: Path, spec: IngestSpec, landing: Path) -> None:
    """Refresh the manifest cache. A crash before this line loses nothing: the log is the truth."""
    save_cache(cache, load_manifest(table, cache, spec.app_id, landing))


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return -1, -1


def _select(found: Discovery, landing: Path, manifest: Manifest, spec: IngestSpec, result: IngestResult) -> tuple[list[Path], list[Refused], IngestResult]:
    todo, now = [], time.time()
    result.files_already_ingested = result.files_not_settled = result.files_missing = 0
    for path in found.files:
        rel = str(path.relative_to(landing))
        if rel in manifest.files:
            result.files_already_ingested += 1
        elif not path.is_file():
            result.files_missing += 1
        elif now - path.stat().st_mtime < spec.wait_after_last_change_seconds:
            result.files_not_settled += 1
        else:
            todo.append(path)
    refused = [r for r in found.refused if r.name not in manifest.files]  # recorded by an earlier batch: reported once
    result.files_already_ingested += len(found.refused) - len(refused)
    return todo, refused, result


def _quarantine_once(lakehouse: Any, spec: IngestSpec, rows: list[Rejected], batch: int, run_id: str | None) -> None:
    """Quarantine a batch's refused records, at most once (a retry after a lost race is a no-op
    when the winner wrote this very batch, and a real append when it was another table's)."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            append_rejected(lakehouse, rows, spec.source_table, batch, run_id, app_id=spec.app_id)
            return
        except Exception as exc:
            if not _lost_race(exc) or attempt == MAX_ATTEMPTS - 1:
                raise


def recover_quarantine(spark: SparkSession, lakehouse: Any, spec: IngestSpec, manifest: Manifest, landing: Path, run_id: str | None) -> int:
    """Write the quarantine rows of committed batches that a crash kept out of it (idempotent);
    returns how many rows it wrote.

    Only batches whose commit says they refused records are looked at, in batch order
    (the quarantine's idempotency marker for this table only moves forward). The batch's
    files are confined again: an entry it refused, or one that leads outside the landing
    folder by now, becomes its refusal row and is not read."""
    missing = sorted(b for b in map(int, manifest.rejected) if b > 0)
    if not missing:
        return 0
    done = quarantined_version(lakehouse, spec.app_id)
    for batch in missing:
        if batch <= done:
            manifest.rejected.pop(str(batch), None)  # confirmed in the quarantine: stop checking it
    repaired = 0
    for batch in (b for b in missing if b > done):
        rows: list[Rejected] = []
        files = []
        for rel in manifest.batch_files(batch):
            outcome = Refused(rel, str(landing / rel), manifest.refused[rel]) if rel in manifest.refused else resolve(landing, rel)
            if isinstance(outcome, Refused):
                rows.append(Rejected(outcome.path, None, None, outcome.reason))
            elif outcome is not None and outcome.is_file():
                files.append(outcome)
        if files:
            prepared = prepare_batch(spark, spec, lakehouse.table_path(spec.layer, spec.table), files, allow_single_pass=False)
            rows.extend(prepared.rejected)
            prepared.release()
        _quarantine_once(lakehouse, spec, rows, batch, run_id)
        repaired += len(rows)
    return repaired


def op_name(spec: IngestSpec) -> str:
    """The op behind the asset `<layer>/<table>` (run config goes under `ops.<this>`)."""
    return f"{spec.layer}__{spec.table}"


def files_run_config(spec: IngestSpec) -> Any:
    """For `file_arrival_sensor(run_config_for_files=...)`: hand the batch to this asset."""

    def build(files: list[str], location: str) -> dict:
        return {"ops": {op_name(spec): {"config": {"files": list(files), "location": location}}}}

    return build


def ingested_files(lakehouse: Any, spec: IngestSpec) -> Callable[[], set[str]]:
    """For `file_arrival_sensor(ingested_files=...)`: the landing names bronze's commits already hold.

    Read-only and without Spark (the manifest cache plus the newer Delta log entries), so a
    sensor tick can afford it."""

    def read() -> set[str]:
        table = lakehouse.table_path(spec.layer, spec.table)
        return set(load_manifest(table, manifest_cache(lakehouse, spec), spec.app_id, lakehouse.landing_path(spec.source)).files)

    return read
