"""Which landing files a bronze table already holds, committed atomically with the data.

The truth is the table's own Delta log: every ingestion commit carries
 - a `txn` action (`txnAppId` = the table's ingestion app id, `txnVersion` = batch), and
 - `commitInfo.userMetadata` = {"lakehouse_jobs.ingest": {"batch", "tag", "files", "rejected", "refused"}}
   (`refused`: [name, reason] of the landing entries the batch met and did not read, e.g. a
   link leading outside the landing folder; they are in `files` too, so no later run offers them again).
Both are written by the same Delta commit as the rows, so there is no moment where
the rows exist and the record of their files does not (or the reverse).

Reading the whole log on every run would grow with the table's history, so a small
JSON cache (`$LAKEHOUSE_ROOT/_system/ingest/<layer>/<table>/manifest.json`) holds the
file set as of a Delta version; a load reads only the log entries committed after
it. The cache may be stale or missing (a crash right after the data commit, two
runs racing): it is then caught up from the log, never trusted beyond it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse_jobs.lib.uris import local_path

META_KEY = "lakehouse_jobs.ingest"


@dataclass
class Manifest:
    """Files ingested into one table: rel path -> [size, mtime_ns, batch]."""

    table_id: str | None = None
    version: int = -1
    batch: int = 0
    files: dict[str, list] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # batch -> records it refused (non-zero only)
    refused: dict[str, str] = field(default_factory=dict)  # name -> why it was not read (see ingest/discovery.py)

    def batch_files(self, batch: int) -> list[str]:
        return sorted(rel for rel, info in self.files.items() if info[2] == batch)


def commit_metadata(batch: int, tag: str, files: list[tuple[str, int, int]], rejected: int = 0, refused: list[tuple[str, str]] = ()) -> str:
    """What rides in the data commit: the batch, its files, and how many records it refused
    (so a crash before the quarantine write is detected; batches refusing nothing need no write;
    -1: counted after the commit, so the batch is settled by its quarantine write, even an empty one)."""
    meta = {"batch": batch, "tag": tag, "files": [list(f) for f in files], "rejected": rejected, "refused": [list(r) for r in refused]}
    return json.dumps({META_KEY: meta}, separators=(",", ":"))


def _log_versions(log: Path) -> list[int]:
    return sorted(int(n[:20]) for n in os.listdir(log) if len(n) == 25 and n.endswith(".json") and n[:20].isdigit())


def _read_commit(log: Path, version: int) -> tuple[dict | None, dict[str, int], str | None]:
    """(our ingestion metadata or None, txn versions by app id, metaData id) of one commit."""
    meta, txns, table_id = None, {}, None
    with (log / f"{version:020d}.json").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            action = json.loads(line)
            if "commitInfo" in action:
                user = action["commitInfo"].get("userMetadata") or ""
                if user.startswith("{") and META_KEY in user:
                    meta = json.loads(user).get(META_KEY)
            elif "txn" in action:
                txns[action["txn"]["appId"]] = int(action["txn"]["version"])
            elif "metaData" in action:
                table_id = action["metaData"]["id"]
    return meta, txns, table_id


def _table_id(table: Path, versions: list[int]) -> str:
    """The table's id (changes when the table is deleted and created again)."""
    if versions[0] == 0:
        table_id = _read_commit(table / "_delta_log", 0)[2]
        if table_id:
            return table_id
    from deltalake import DeltaTable

    return DeltaTable(str(table)).metadata().id


def read_cache(cache: Path) -> Manifest | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        rejected, refused = dict(data.get("rejected", {})), dict(data.get("refused", {}))
        return Manifest(data["table_id"], int(data["version"]), int(data["batch"]), dict(data["files"]), rejected, refused)
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def save_cache(cache: Path, manifest: Manifest) -> None:
    """Atomic replace: a reader sees the old or the new cache, never half of one."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    payload = {"table_id": manifest.table_id, "version": manifest.version, "batch": manifest.batch, "files": manifest.files}
    payload.update(rejected=manifest.rejected, refused=manifest.refused)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".manifest-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, separators=(",", ":"))
    os.replace(tmp, cache)


def apply_commits(manifest: Manifest, log: Path, versions: list[int], app_id: str) -> Manifest:
    for version in versions:
        meta, txns, table_id = _read_commit(log, version)
        if table_id and version == 0:
            manifest.table_id = table_id
        if app_id in txns:
            manifest.batch = max(manifest.batch, txns[app_id])
        if meta:
            for rel, size, mtime in meta["files"]:
                manifest.files[rel] = [size, mtime, int(meta["batch"])]
            manifest.refused.update({name: reason for name, reason in meta.get("refused", [])})
            if meta.get("rejected"):
                manifest.rejected[str(meta["batch"])] = int(meta["rejected"])
        manifest.version = version
    return manifest


def load_manifest(table: Path, cache: Path, app_id: str, landing: Path) -> Manifest:
    """The table's ingested files, from the cache plus the log entries after it."""
    log = table / "_delta_log"
    if not log.is_dir():
        return Manifest()
    versions = _log_versions(log)
    if not versions:
        return Manifest()
    cached = read_cache(cache)
    table_id = _table_id(table, versions)
    if cached and cached.table_id == table_id and cached.version <= versions[-1]:
        newer = [v for v in versions if v > cached.version]
        if newer == list(range(cached.version + 1, versions[-1] + 1)):
            return apply_commits(cached, log, newer, app_id)
    if versions[0] == 0 and versions == list(range(versions[-1] + 1)):
        return apply_commits(Manifest(table_id=table_id), log, versions, app_id)
    return _rebuild_from_table(table, table_id, versions[-1], app_id, landing)


def _rebuild_from_table(table: Path, table_id: str, version: int, app_id: str, landing: Path) -> Manifest:
    """Last resort when old log entries were cleaned up: the files the rows came from.

    Files that produced no row (empty, fully quarantined) are not recoverable this way.
    """
    from deltalake import DeltaTable

    dt = DeltaTable(str(table))
    batch = dt.transaction_version(app_id) or 0
    column = dt.to_pyarrow_dataset().to_table(columns=["_source_file"]).column("_source_file").unique().to_pylist()
    files = {}
    for uri in column:
        if uri:  # a plain path (older tables: Spark's file: URI)
            files[os.path.relpath(local_path(uri) if uri.startswith("file:") else uri, landing)] = [None, None, 0]
    return Manifest(table_id=table_id, version=version, batch=int(batch), files=files)


def committed_tag(table: Path, after_version: int, tag: str) -> int | None:
    """The Delta version whose ingestion metadata carries `tag` (None: our write was skipped)."""
    log = table / "_delta_log"
    for version in _log_versions(log):
        if version > after_version:
            meta, _, _ = _read_commit(log, version)
            if meta and meta.get("tag") == tag:
                return version
    return None
