"""The bronze asset of an ingestion: `ingestion_asset(IngestSpec(...))`.

Run by a file-arrival sensor, it ingests the batch in its run config (`files`) and,
like Auto Loader's `availableNow`, every other settled file that landed meanwhile
(`catch_up`, default on: a stream's runs coalesce, the later runs find their files done);
run by hand (`dagster asset materialize`), every file of the landing folder not ingested
yet. Counts (rows ingested, records quarantined, files skipped) appear in the materialization's metadata; a landing entry it did not read
(a link leading outside the landing folder) is a warning in the run's log.

A run that ingests no row reports no materialization (its check still reports), so
nothing downstream runs for it — in the same run its downstream steps are skipped, and
refresh sensors see nothing new. Only the first run, which creates the empty table so
downstream assets can be built, materializes without rows.

Its asset check `quarantine` (non-blocking, severity WARN) fails when this
materialization sent records to the quarantine, so a SUCCESS run with refused
records still shows in the UI; its metadata holds the quarantine table's path and
the filter selecting those rows.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from lakehouse_jobs.lib.ingest.ingest import ingest
from lakehouse_jobs.lib.ingest.spec import IngestSpec
from lakehouse_jobs.lib.tables.conflicts import retry_conflicts
from lakehouse_jobs.lib.tables.delta_io import CHANGE_FEED, DeltaCommit, describe, is_delta_table, last_commit
from lakehouse_jobs.lib.tables.medallion import runtime, table_asset_args
from lakehouse_jobs.lib.tables.quarantine import quarantine_path
from lakehouse_jobs.lib.tags import WRITER

QUARANTINE_CHECK = "quarantine"


if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class IngestConfig(dg.Config):
    files: list[str] | None = Field(default=None, description="Files to ingest (a sensor's batch); default: every new file.")
    location: str | None = Field(default=None, description="The folder the trigger watched (informational).")
    catch_up: bool = Field(
        default=True,
        description="With `files`: also ingest every other settled file not ingested yet (Auto Loader's availableNow), "
        "so a run that starts late takes what landed meanwhile. False: exactly `files`.",
    )


def _create_empty(spark: "SparkSession", path: Path, spec: IngestSpec) -> None:
    """Declared columns and no file yet: an empty table, so downstream assets can run."""
    from lakehouse_jobs.lib.ingest.spec import RESCUED

    columns = ", ".join(f"`{c}` {t}" for c, t in spec.types.items())
    spark.createDataFrame([], f"{columns}, {RESCUED} string, _source_file string, _ingested_at timestamp").write.format("delta").mode("append").options(
        **CHANGE_FEED
    ).save(str(path))


def ingestion_asset(
    spec: IngestSpec,
    *,
    description: str | None = None,
    owners: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
    group_name: str | None = None,
) -> dg.AssetsDefinition:
    """A Dagster asset that ingests `landing/<spec.source>/` into `<spec.layer>/<spec.table>`."""

    @dg.asset(
        **table_asset_args(
            spec.layer,
            spec.table,
            owners=owners,
            tags={"source": spec.source, **(tags or {})},
            group_name=group_name,
            description=description or f"Files of landing/{spec.source}/ ingested exactly once ({spec.format}, schema mode {spec.mode}).",
            metadata={"source": spec.source, "format": spec.format, "schema_mode": spec.mode, "write_mode": "append (exactly once)"},
            op_tags={WRITER: "delta-rs"},  # on Sail its rows are committed by delta-rs, which writes any table Sail reads
        ),  # fmt: skip
        check_specs=[
            dg.AssetCheckSpec(
                QUARANTINE_CHECK,
                asset=dg.AssetKey([spec.layer, spec.table]),
                blocking=False,
                description="Records this materialization refused into the quarantine (warns when there are any).",
            )
        ],  # fmt: skip
        output_required=False,  # no new row: no materialization, nothing downstream
    )
    def _ingest(context: dg.AssetExecutionContext, config: IngestConfig) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        spark, lakehouse = runtime(context)
        result = ingest(spark, lakehouse, spec, config.files, run_id=context.run_id, catch_up=config.catch_up)
        path = lakehouse.table_path(spec.layer, spec.table)
        metadata = dict(result.metadata())
        created = False
        if result.delta_version is not None:
            commit = DeltaCommit(str(path), result.delta_version, "WRITE")
            metadata.update(describe(spark, commit))
        else:
            if not is_delta_table(path) and spec.types:
                retry_conflicts(lambda: _create_empty(spark, path, spec), path, table=f"{spec.layer}/{spec.table}")  # two first runs race
                created = is_delta_table(path)
            if is_delta_table(path):
                metadata.update(describe(spark, last_commit(spark, str(path))))
        for refused in result.refused:
            context.log.warning(f"{spec.source_table}: skipped {refused.reason}")
        context.log.info(
            f"{spec.layer}.{spec.table}: {len(result.files)} file(s), {result.rows_ingested} row(s) ingested, "
            f"{result.records_quarantined} record(s) quarantined, {result.files_already_ingested} already ingested"
        )
        check = quarantine_check(lakehouse, spec, result, context.run_id)
        if result.rows_ingested or created:
            yield dg.MaterializeResult(metadata=metadata, check_results=[check])
            return
        context.log.info(f"{spec.layer}.{spec.table}: no new row, so no materialization; downstream steps of this run are skipped.")
        yield check

    return _ingest


def quarantine_check(lakehouse: Any, spec: IngestSpec, result: Any, run_id: str) -> dg.AssetCheckResult:
    """WARN when this materialization quarantined records (its batch's, or earlier batches' a crash had kept out)."""
    count = result.records_quarantined + result.records_recovered
    where = f"source_table = '{spec.source_table}' AND run_id = '{run_id}'"
    path = quarantine_path(lakehouse)
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "records_quarantined": count,
            "quarantine_table": dg.MetadataValue.path(str(path)),
            "quarantine_filter": where,
            "query": dg.MetadataValue.md(f"```sql\nSELECT * FROM delta.`{path}` WHERE {where}\n```"),
        },
    )
